#include "layers/input_layer.hpp"

namespace xk
{
    namespace
    {
        // Keras names inputs input_1, input_2, ... (one-based) when unnamed.
        json with_input_name(json config)
        {
            // Before any key lookup: json's operator[] on an array or a string throws its own type_error.
            XK_CHECK(config.is_object(), value_error, "InputLayer: expected a config object, received ",
                     config.dump(), ".");
            if (!config.contains("name") || !config["name"].is_string())
                config["name"] = unique_layer_name("input", /*zero_based=*/false);
            return config;
        }
    }

    template <class T>
    InputLayer<T>::InputLayer(const json& config) : BasicLayer<T>(with_input_name(config), "InputLayer")
    {
        const std::string where = "InputLayer '" + this->name() + "'";
        // Keras 3.13+ writes optional (false); an optional input is a None-able argument of call.
        check_config_keys(config, where, {"sparse", "ragged", "input_tensor", "type_spec", "optional"});
        require_unset_options(config, where, {"optional"}, "optional inputs");
        require_unset_options(config, where, {"sparse", "ragged"}, "sparse and ragged tensors");
        json shape = config.contains("batch_input_shape") ? config["batch_input_shape"]
                     : config.contains("batch_shape")     ? config["batch_shape"]
                                                          : json(nullptr);
        if (shape.is_null() && config.contains("input_shape") && config["input_shape"].is_array())
        {
            shape = json::array({nullptr});
            for (const auto& d : config["input_shape"])
                shape.push_back(d);
        }
        XK_CHECK(shape.is_array() && !shape.empty(), value_error, "InputLayer '", this->name(),
                 "': expected `batch_input_shape` (or `batch_shape` / `input_shape`). Received config ", config.dump(),
                 ".");
        for (const auto& d : shape)
        {
            XK_CHECK(d.is_null() || (d.is_number_integer() && d.get<long>() > 0), value_error, "InputLayer '",
                     this->name(), "': dimensions must be positive integers or null. Received ", shape.dump(), ".");
            m_shape.push_back(d.is_null() ? -1 : d.get<long>());
        }
    }

    template <class T>
    json InputLayer<T>::get_config() const
    {
        json shape = json::array();
        for (long d : m_shape)
            shape.push_back(d < 0 ? json(nullptr) : json(d));
        json config = BasicLayer<T>::get_config();
        config.erase("trainable");
        config["batch_input_shape"] = shape;
        config["sparse"] = false;
        config["ragged"] = false;
        return config;
    }

    template <class T>
    json InputLayer<T>::keras3_config() const
    {
        // Keras 3's InputLayer: batch_shape, and no ragged tensors.
        json config = get_config();
        config["batch_shape"] = config["batch_input_shape"];
        config.erase("batch_input_shape");
        config.erase("ragged");
        return config;
    }

    template class InputLayer<float>;
    template class InputLayer<double>;
}
