#include "framework/sequential.hpp"
#include "framework/ops.hpp"

#include <fmt/core.h>

#include <map>

namespace xk
{
    namespace
    {
        PartialShape shape_from_json(const json& value, const std::string& where)
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

        json shape_to_json(const PartialShape& shape)
        {
            json out = json::array();
            for (long d : shape)
                out.push_back(d < 0 ? json(nullptr) : json(d));
            return out;
        }

        /// The batch shape an InputLayer config declares (tf.keras 2.x batch_input_shape, Keras 3 batch_shape).
        PartialShape input_layer_shape(const json& config)
        {
            for (const char* key : {"batch_input_shape", "batch_shape"})
                if (config.contains(key) && !config[key].is_null())
                    return shape_from_json(config[key], "InputLayer");
            throw value_error("InputLayer: the config has no `batch_input_shape`. Received " + config.dump() + ".");
        }
    }

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
                m_input_shape = shape_from_json(config["batch_input_shape"], layer->name());
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
    BasicLayer<T>& BasicSequential<T>::layer(const std::string& name)
    {
        for (auto& l : m_layers)
            if (l->name() == name)
                return *l;
        throw value_error("Sequential '" + m_name + "': no such layer: " + name + ".");
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
    bool BasicSequential<T>::built() const
    {
        return std::all_of(m_layers.begin(), m_layers.end(), [](const auto& l) { return l->built(); });
    }

    template <class T>
    void BasicSequential<T>::build(const PartialShape& input_shape)
    {
        PartialShape shape = input_shape;
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
    BasicVariable<T> BasicSequential<T>::call(BasicTape<T>& tape, const Variable& x, bool training)
    {
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
        return out;
    }

    template <class T>
    Tensor<T> BasicSequential<T>::predict(const Tensor& x)
    {
        NoGradGuard no_grad;
        BasicTape<T> tape;
        return call(tape, Variable(x), false).value();
    }

    template <class T>
    BasicVariable<T> BasicSequential<T>::regularization_loss(BasicTape<T>& tape)
    {
        Variable total(Tensor({}, T(0)));
        for (auto* w : weights())
            if (w->regularizer)
                total = ops::add(tape, total, ops::penalty(tape, w->variable, *w->regularizer));
        return total;
    }

    template <class T>
    typename BasicSequential<T>::Gradients BasicSequential<T>::gradients(const Tensor& x, const Tensor& upstream,
                                                                        bool training)
    {
        auto trainable = trainable_weights();
        for (auto* w : trainable)
            w->variable.zero_grad();
        BasicTape<T> tape;
        Variable input(x, true);
        Variable y = call(tape, input, training);
        XK_CHECK(y.shape() == shape_of(upstream), shape_error, "Sequential '", m_name, "': the upstream gradient has shape ",
                 shape_str(shape_of(upstream)), " but the model's output has shape ", shape_str(y.shape()), ".");
        Gradients out;
        out.loss = double(xt::sum(y.value() * upstream)());
        y.accumulate_grad(upstream);
        for (const auto& loss : tape.losses())
        {
            out.loss += double(loss.value()());
            loss.accumulate_grad(Tensor(loss.value().shape(), T(1)));
        }
        Variable penalties = regularization_loss(tape);
        out.loss += double(penalties.value()());
        if (penalties.requires_grad())
            penalties.accumulate_grad(Tensor({}, T(1)));
        tape.replay();
        out.y = y.value();
        out.dx = input.grad();
        for (auto* w : trainable)
        {
            out.weights.push_back(w->variable.grad());
            w->variable.zero_grad();
        }
        return out;
    }

    template <class T>
    std::vector<Weight<T>*> BasicSequential<T>::weights()
    {
        std::vector<Weight<T>*> out;
        for (auto& l : m_layers)
            for (auto* w : l->weights())
                out.push_back(w);
        return out;
    }

    template <class T>
    std::vector<Weight<T>*> BasicSequential<T>::trainable_weights()
    {
        std::vector<Weight<T>*> out;
        for (auto& l : m_layers)
            for (auto* w : l->trainable_weights())
                out.push_back(w);
        return out;
    }

    template <class T>
    std::size_t BasicSequential<T>::count_params() const
    {
        std::size_t n = 0;
        for (const auto& l : m_layers)
            n += l->count_params();
        return n;
    }

    namespace
    {
        /// "1,199,882", as Keras prints parameter counts.
        std::string with_commas(std::size_t n)
        {
            std::string digits = std::to_string(n), out;
            for (std::size_t i = 0; i < digits.size(); ++i)
            {
                if (i && (digits.size() - i) % 3 == 0)
                    out += ',';
                out += digits[i];
            }
            return out;
        }
    }

    template <class T>
    std::string BasicSequential<T>::summary() const
    {
        struct Row
        {
            std::string layer, shape, params;
        };
        std::vector<Row> rows;
        PartialShape shape = m_input_shape.value_or(PartialShape{});
        std::size_t trainable = 0, total = 0;
        for (const auto& layer : m_layers)
        {
            shape = layer->compute_output_shape(shape);
            for (const auto* w : layer->weights())
                if (w->trainable && layer->trainable())
                    trainable += w->variable.value().size();
            total += layer->count_params();
            rows.push_back({layer->name() + " (" + layer->class_name() + ")", shape_str(shape),
                            with_commas(layer->count_params())});
        }
        // Keras's column widths, widened when a name or shape would run into the next column.
        std::size_t name_width = 28, shape_width = 26;
        for (const auto& r : rows)
        {
            name_width = std::max(name_width, r.layer.size() + 2);
            shape_width = std::max(shape_width, r.shape.size() + 2);
        }
        const std::size_t width = name_width + shape_width + 11;
        const std::string rule(width, '_'), thick(width, '=');
        std::string out = fmt::format("Model: \"{}\"\n{}\n {:<{}}{:<{}}{}\n{}\n", m_name, rule, "Layer (type)",
                                      name_width, "Output Shape", shape_width, "Param #", thick);
        for (std::size_t i = 0; i < rows.size(); ++i)
            out += fmt::format(" {:<{}}{:<{}}{}\n{}", rows[i].layer, name_width, rows[i].shape, shape_width,
                               rows[i].params, i + 1 < rows.size() ? "\n" : "");
        out += fmt::format("{}\nTotal params: {}\nTrainable params: {}\nNon-trainable params: {}\n{}\n", thick,
                           with_commas(total), with_commas(trainable), with_commas(total - trainable), rule);
        return out;
    }

    template <class T>
    json BasicSequential<T>::get_config() const
    {
        json layers = json::array();
        if (m_input_shape)
            layers.push_back({{"class_name", "InputLayer"},
                              {"config",
                               {{"batch_input_shape", shape_to_json(*m_input_shape)},
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
                model.set_input(input_layer_shape(layer_config), layer_config.value("name", std::string()));
                continue;
            }
            model.add(layer_from_config<T>(entry));
        }
        return model;
    }

    namespace
    {
        /// The layer names feeding a functional layer's first node, in every inbound_nodes form Keras wrote:
        /// tf.keras 2.x [[[name, node, tensor, kwargs], ...]] and Keras 3 [{"args": [keras tensors]}].
        std::vector<std::string> inbound_layers(const json& layer)
        {
            std::vector<std::string> out;
            if (!layer.contains("inbound_nodes") || !layer["inbound_nodes"].is_array())
                return out;
            const json& nodes = layer["inbound_nodes"];
            XK_CHECK(nodes.size() <= 1, value_error, "Layer '", layer.value("name", std::string("?")),
                     "' is called ", nodes.size(),
                     " times in the functional model; only single-chain models can be loaded.");
            if (nodes.empty())
                return out;
            std::function<void(const json&)> collect = [&](const json& v) {
                if (v.is_object() && v.contains("keras_history"))
                    out.push_back(v["keras_history"][0].get<std::string>());
                else if (v.is_object() && v.contains("config"))
                    collect(v["config"]);
                else if (v.is_object() && v.contains("args"))
                    collect(v["args"]);
                else if (v.is_array() && !v.empty() && v[0].is_string())
                    out.push_back(v[0].get<std::string>());
                else if (v.is_array())
                    for (const auto& item : v)
                        collect(item);
            };
            collect(nodes[0]);
            return out;
        }
    }

    template <class T>
    BasicSequential<T> model_from_config(const json& model_config)
    {
        XK_CHECK(model_config.is_object() && model_config.contains("class_name") && model_config.contains("config"),
                 value_error, "model_config: expected {\"class_name\": ..., \"config\": ...}. Received ",
                 model_config.dump().substr(0, 200), ".");
        const std::string cls = model_config["class_name"].get<std::string>();
        const json& config = model_config["config"];
        if (cls == "Sequential")
            return BasicSequential<T>::from_config(config);
        XK_CHECK(cls == "Model" || cls == "Functional", value_error, "model_config: unsupported model class '", cls,
                 "'. Expected Sequential, Model or Functional.");
        XK_CHECK(config.contains("layers") && config["layers"].is_array(), value_error,
                 "model_config: a functional model needs a \"layers\" list.");

        // Walk the chain from the input: each layer must feed exactly the next one.
        std::map<std::string, const json*> by_name;
        std::map<std::string, std::vector<std::string>> consumers;
        const json* input = nullptr;
        for (const auto& layer : config["layers"])
        {
            std::string name = layer.value("name", layer.value("config", json::object()).value("name", std::string()));
            by_name[name] = &layer;
            auto sources = inbound_layers(layer);
            XK_CHECK(sources.size() <= 1, value_error, "Layer '", name, "' has ", sources.size(),
                     " inputs; only single-chain functional models can be loaded.");
            if (sources.empty())
            {
                XK_CHECK(!input, value_error, "The functional model has several inputs ('", name,
                         "' and another); only single-chain models can be loaded.");
                input = &layer;
            }
            else
                consumers[sources[0]].push_back(name);
        }
        XK_CHECK(input, value_error, "The functional model has no input layer.");
        BasicSequential<T> model(config.value("name", std::string()));
        const json* current = input;
        while (true)
        {
            const std::string name = (*current).value("name", std::string());
            // value(), not operator[]: a const json's operator[] on a missing key reads past the map (found by
            // fuzz_model_config under ASan).
            if ((*current).value("class_name", json()) == "InputLayer")
                model.set_input(input_layer_shape((*current).value("config", json::object())), name);
            else
                model.add(layer_from_config<T>(*current));
            auto next = consumers.find(name);
            if (next == consumers.end())
                break;
            XK_CHECK(next->second.size() == 1, value_error, "Layer '", name, "' feeds ", next->second.size(),
                     " layers; only single-chain functional models can be loaded.");
            current = by_name.at(next->second[0]);
        }
        XK_CHECK(model.size() + 1 == config["layers"].size() || model.size() == config["layers"].size(), value_error,
                 "The functional model is not a single chain: ", config["layers"].size() - model.size() - 1,
                 " layers are not on the path from the input to the output.");
        return model;
    }

    template class BasicSequential<float>;
    template class BasicSequential<double>;
    template BasicSequential<float> model_from_config<float>(const json&);
    template BasicSequential<double> model_from_config<double>(const json&);
}
