#include "framework/models/sequential.hpp"
#include "framework/models/model_config.hpp"
#include "framework/engine/ops.hpp"
#include "framework/models/summary.hpp"

#include <fmt/core.h>

#include <map>

namespace xk
{
    template <class T>
    BasicSequential<T>::BasicSequential(std::string name)
        : m_name(name.empty() ? unique_layer_name("sequential") : std::move(name))
    {
    }

    template <class T>
    void BasicSequential<T>::add(LayerPtr<T> layer)
    {
        XK_CHECK(layer != nullptr, value_error, "Sequential '", m_name, "': cannot add a null layer.");
        for (const auto& existing : m_layers)
            XK_CHECK(existing->name() != layer->name(), value_error, "Sequential '", m_name,
                     "': all layers added to a Sequential model should have unique names. Name \"", layer->name(),
                     "\" is already the name of a layer in this model.");
        if (m_layers.empty() && !m_input_shape)
        {
            // A first layer declared with an input shape fixes the model's input, as in Keras.
            json config = layer->get_config();
            if (config.contains("batch_input_shape"))
                m_input_shape = batch_shape_from_json(config["batch_input_shape"], layer->name());
        }
        if (m_input_shape && !layer->built())
        {
            PartialShape shape = *m_input_shape;
            for (const auto& existing : m_layers)
                shape = existing->compute_output_shape(shape);
            layer->build(shape);
        }
        m_layers.push_back(std::move(layer));
    }

    template <class T>
    void BasicSequential<T>::pop()
    {
        XK_CHECK(!m_layers.empty(), value_error, "Sequential '", m_name, "': there are no layers to pop.");
        m_layers.pop_back();
    }

    template <class T>
    void BasicSequential<T>::set_input(const PartialShape& batch_shape, std::string input_name)
    {
        XK_CHECK(m_layers.empty(), value_error, "Sequential '", m_name,
                 "': the input must be declared before the first layer is added.");
        for (std::size_t i = 1; i < batch_shape.size(); ++i)
            XK_CHECK(batch_shape[i] > 0 || batch_shape[i] == -1, value_error, "Sequential '", m_name,
                     "': every input dimension after the batch must be positive (or -1 for None). Received input shape ",
                     shape_str(PartialShape(batch_shape.begin() + 1, batch_shape.end())).insert(1, "None, "), ".");
        m_input_shape = batch_shape;
        if (!m_input_shape->empty())
            (*m_input_shape)[0] = -1;
        m_input_name = input_name.empty() ? unique_layer_name("input", false) : std::move(input_name);
    }

    template <class T>
    std::vector<BasicLayer<T>*> BasicSequential<T>::layers() const
    {
        std::vector<BasicLayer<T>*> out;
        for (const auto& l : m_layers)
            out.push_back(l.get());
        return out;
    }

    template <class T>
    std::vector<std::string> BasicSequential<T>::input_names() const
    {
        // tf.keras 2.x names the implicit input after the first layer: "conv2d_input".
        if (!m_input_name.empty())
            return {m_input_name};
        return {m_layers.empty() ? m_name + "_input" : m_layers.front()->name() + "_input"};
    }

    template <class T>
    std::vector<std::string> BasicSequential<T>::output_names() const
    {
        return {m_layers.empty() ? m_name : m_layers.back()->name()};
    }

    template <class T>
    std::vector<PartialShape> BasicSequential<T>::input_shapes() const
    {
        if (!m_input_shape)
            return {};
        return {*m_input_shape};
    }

    template <class T>
    void BasicSequential<T>::build(std::span<const PartialShape> input_shapes)
    {
        XK_CHECK(input_shapes.size() == 1, value_error, "Sequential '", m_name, "' takes 1 input, received ",
                 input_shapes.size(), ".");
        PartialShape shape = input_shapes[0];
        if (!shape.empty())
            shape[0] = -1;
        if (!m_input_shape)
            m_input_shape = shape;
        for (auto& l : m_layers)
        {
            if (!l->built())
                l->build(shape);
            shape = l->compute_output_shape(shape);
        }
    }

    template <class T>
    PartialShape BasicSequential<T>::compute_output_shape(const PartialShape& input_shape) const
    {
        PartialShape shape = input_shape;
        for (const auto& l : m_layers)
            shape = l->compute_output_shape(shape);
        return shape;
    }

    template <class T>
    std::vector<PartialShape> BasicSequential<T>::compute_output_shapes(std::span<const PartialShape> input_shapes) const
    {
        XK_CHECK(input_shapes.size() == 1, value_error, "Sequential '", m_name, "' takes 1 input, received ",
                 input_shapes.size(), ".");
        return {compute_output_shape(input_shapes[0])};
    }

    template <class T>
    std::vector<BasicVariable<T>> BasicSequential<T>::call(BasicTape<T>& tape, std::span<const Variable> inputs,
                                                           bool training)
    {
        XK_CHECK(inputs.size() == 1, value_error, "Sequential '", m_name, "' expects 1 input, but it received ",
                 inputs.size(), " input tensors.");
        const Variable& x = inputs[0];
        if (m_input_shape)
        {
            const PartialShape& want = *m_input_shape;
            const Shape got = x.shape();
            bool ok = want.size() == got.size();
            for (std::size_t i = 1; ok && i < want.size(); ++i)
                ok = want[i] < 0 || want[i] == long(got[i]);
            XK_CHECK(ok, shape_error, "Input 0 of Sequential '", m_name,
                     "' is incompatible with the model: expected shape=", shape_str(want), ", found shape=",
                     shape_str(got), ".");
        }
        Variable out = x;
        for (auto& l : m_layers)
            out = l->call(tape, out, training);
        return {out};
    }

    template <class T>
    BasicVariable<T> BasicSequential<T>::call(BasicTape<T>& tape, const Variable& x, bool training)
    {
        return call(tape, std::span<const Variable>(&x, 1), training)[0];
    }

    template <class T>
    std::string BasicSequential<T>::summary() const
    {
        std::vector<SummaryRow> rows;
        PartialShape shape = m_input_shape.value_or(PartialShape{});
        std::size_t trainable = 0, total = 0;
        for (const auto& layer : m_layers)
        {
            shape = layer->compute_output_shape(shape);
            for (const auto* w : layer->trainable_weights())
                trainable += w->variable.value().size();
            total += layer->count_params();
            rows.push_back({layer->name() + " (" + layer->class_name() + ")", shape_str(shape),
                            with_commas(layer->count_params()), {}});
        }
        return format_summary(m_name, rows, total, trainable, /*connected_column=*/false);
    }

    template <class T>
    json BasicSequential<T>::get_config() const
    {
        json layers = json::array();
        if (m_input_shape)
            layers.push_back({{"class_name", "InputLayer"},
                              {"config",
                               {{"batch_input_shape", batch_shape_to_json(*m_input_shape)},
                                {"dtype", "float32"},
                                {"sparse", false},
                                {"ragged", false},
                                {"name", m_input_name.empty() ? "input_1" : m_input_name}}}});
        for (const auto& l : m_layers)
            layers.push_back(serialize(*l));
        return {{"name", m_name}, {"layers", layers}};
    }

    template <class T>
    BasicSequential<T> BasicSequential<T>::from_config(const json& config)
    {
        // Keras 2.0-2.1 wrote the layer list itself; later versions {"name": ..., "layers": [...]}.
        const json* layers = &config;
        std::string name;
        if (config.is_object())
        {
            XK_CHECK(config.contains("layers") && config["layers"].is_array(), value_error,
                     "Sequential config: expected a \"layers\" list. Received ", config.dump().substr(0, 200), ".");
            layers = &config["layers"];
            name = config_value<std::string>(config, "name", "");
        }
        XK_CHECK(layers->is_array(), value_error, "Sequential config: expected a list of layers. Received ",
                 config.dump().substr(0, 200), ".");
        BasicSequential model(name);
        for (const auto& entry : *layers)
        {
            XK_CHECK(entry.is_object() && entry.contains("class_name"), value_error,
                     "Sequential config: each layer must be {\"class_name\": ..., \"config\": ...}. Received ",
                     entry.dump().substr(0, 200), ".");
            const json layer_config = entry.value("config", json::object());
            if (entry["class_name"] == "InputLayer")
            {
                model.set_input(input_layer_batch_shape(layer_config), layer_config.value("name", std::string()));
                continue;
            }
            model.add(layer_or_model_from_config<T>(entry));
        }
        return model;
    }

    template class BasicSequential<float>;
    template class BasicSequential<double>;
}
