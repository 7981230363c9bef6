#include "framework/models/model_config.hpp"
#include "framework/models/functional.hpp"
#include "framework/models/sequential.hpp"

namespace xk
{
    PartialShape batch_shape_from_json(const json& value, const std::string& where)
    {
        XK_CHECK(value.is_array() && !value.empty(), value_error, where,
                 ": expected a batch shape such as [null, 28, 28, 1]. Received ", value.dump(), ".");
        PartialShape shape;
        for (const auto& d : value)
        {
            XK_CHECK(d.is_null() || (d.is_number_integer() && d.get<long>() > 0), value_error, where,
                     ": shape dimensions must be positive integers or null. Received ", value.dump(), ".");
            shape.push_back(d.is_null() ? -1 : d.get<long>());
        }
        return shape;
    }

    json batch_shape_to_json(const PartialShape& shape)
    {
        json out = json::array();
        for (long d : shape)
            out.push_back(d < 0 ? json(nullptr) : json(d));
        return out;
    }

    PartialShape input_layer_batch_shape(const json& config)
    {
        if (config.is_object())
            for (const char* key : {"batch_input_shape", "batch_shape"})
                if (config.contains(key) && !config[key].is_null())
                    return batch_shape_from_json(config[key], "InputLayer");
        throw value_error("InputLayer: the config has no `batch_input_shape`. Received " + config.dump() + ".");
    }

    bool is_model_class(const std::string& class_name)
    {
        return class_name == "Sequential" || class_name == "Functional" || class_name == "Model";
    }

    template <class T>
    ModelPtr<T> model_from_config(const json& model_config)
    {
        XK_CHECK(model_config.is_object() && model_config.contains("class_name") &&
                     model_config["class_name"].is_string() && model_config.contains("config"),
                 value_error, "model_config: expected {\"class_name\": ..., \"config\": ...}. Received ",
                 model_config.dump().substr(0, 200), ".");
        const std::string cls = model_config["class_name"].get<std::string>();
        const json& config = model_config["config"];
        XK_CHECK(is_model_class(cls), value_error, "model_config: unsupported model class '", cls,
                 "'. Expected Sequential, Functional or Model.");
        if (cls == "Sequential")
            return std::make_unique<BasicSequential<T>>(BasicSequential<T>::from_config(config));
        return std::make_unique<BasicFunctional<T>>(BasicFunctional<T>::from_config(config));
    }

    template <class T>
    LayerPtr<T> layer_or_model_from_config(const json& serialized)
    {
        if (serialized.is_object() && serialized.contains("class_name") && serialized["class_name"].is_string() &&
            is_model_class(serialized["class_name"].get<std::string>()))
        {
            std::shared_ptr<BasicModel<T>> inner = model_from_config<T>(serialized);
            return std::make_unique<ModelLayer<T>>(std::move(inner));
        }
        return layer_from_config<T>(serialized);
    }

    template ModelPtr<float> model_from_config<float>(const json&);
    template ModelPtr<double> model_from_config<double>(const json&);
    template LayerPtr<float> layer_or_model_from_config<float>(const json&);
    template LayerPtr<double> layer_or_model_from_config<double>(const json&);
}
