#include "framework/models/functional.hpp"
#include "framework/models/model_config.hpp"
#include "framework/models/summary.hpp"

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <set>
#include <unordered_map>

namespace xk
{
    namespace
    {
        std::atomic<std::uint64_t> next_node_serial{0};

        /// "['input_1', 'conv2d']", as Keras lists layer names in messages.
        std::string name_list(const std::vector<std::string>& names)
        {
            std::string out = "[";
            for (std::size_t i = 0; i < names.size(); ++i)
                out += (i ? ", '" : "'") + names[i] + "'";
            return out + "]";
        }

        /// "(None, 28, 28, 1)" for one output, "[(None, 4), (None, 2)]" for several.
        std::string shapes_str(const std::vector<PartialShape>& shapes, bool as_list)
        {
            if (shapes.size() == 1 && !as_list)
                return shape_str(shapes[0]);
            std::string out = "[";
            for (std::size_t i = 0; i < shapes.size(); ++i)
                out += (i ? ", " : "") + shape_str(shapes[i]);
            return out + "]";
        }
    }

    // ---------------------------------------------------------------- symbolic tensors and layer calls

    template <class T>
    BasicSymbolicTensor<T>::BasicSymbolicTensor(std::shared_ptr<GraphNode<T>> node, std::size_t index)
        : m_node(std::move(node)), m_index(index)
    {
        XK_CHECK(m_node && index < m_node->output_shapes.size(), value_error,
                 "A symbolic tensor must name an output of a layer call.");
    }

    template <class T>
    const PartialShape& BasicSymbolicTensor<T>::shape() const
    {
        XK_CHECK(m_node, value_error, "This symbolic tensor is empty: make tensors with Input() and layer calls.");
        return m_node->output_shapes[m_index];
    }

    template <class T>
    BasicLayer<T>& BasicSymbolicTensor<T>::layer() const
    {
        XK_CHECK(m_node, value_error, "This symbolic tensor is empty: make tensors with Input() and layer calls.");
        return *m_node->layer;
    }

    template <class T>
    BasicSymbolicTensor<T> BasicInput(const PartialShape& shape, std::string name, std::optional<long> batch_size)
    {
        json batch_shape = json::array({batch_size ? json(*batch_size) : json(nullptr)});
        for (long d : shape)
        {
            XK_CHECK(d > 0 || d == -1, value_error, "Input: dimensions must be positive (or -1 for None). Received shape=",
                     shape_str(shape), ".");
            batch_shape.push_back(d < 0 ? json(nullptr) : json(d));
        }
        json config = {{"batch_input_shape", batch_shape}, {"dtype", "float32"}, {"sparse", false}, {"ragged", false}};
        if (!name.empty())
            config["name"] = name;
        auto node = std::make_shared<GraphNode<T>>();
        node->layer = std::shared_ptr<BasicLayer<T>>(make_layer<T>("InputLayer", config));
        PartialShape full{-1};
        full.insert(full.end(), shape.begin(), shape.end());
        node->layer->build(full); // an InputLayer has nothing to build; built, it counts as such in built()
        node->output_shapes = {full};
        node->serial = next_node_serial++;
        return BasicSymbolicTensor<T>(std::move(node), 0);
    }

    template <class T>
    BasicLayerRef<T>::BasicLayerRef(LayerPtr<T> layer) : m_layer(std::move(layer))
    {
        XK_CHECK(m_layer != nullptr, value_error, "A layer reference cannot be null.");
    }

    template <class T>
    BasicLayerRef<T>::BasicLayerRef(std::shared_ptr<BasicLayer<T>> layer) : m_layer(std::move(layer))
    {
        XK_CHECK(m_layer != nullptr, value_error, "A layer reference cannot be null.");
    }

    template <class T>
    BasicLayerRef<T>::BasicLayerRef(std::shared_ptr<BasicModel<T>> model)
        : m_layer(std::make_shared<ModelLayer<T>>(std::move(model)))
    {
    }

    template <class T>
    std::vector<BasicSymbolicTensor<T>> BasicLayerRef<T>::call_all(const std::vector<BasicSymbolicTensor<T>>& inputs) const
    {
        XK_CHECK(!inputs.empty(), value_error, m_layer->class_name(), " layer '", m_layer->name(),
                 "' was called without inputs.");
        std::vector<PartialShape> shapes;
        for (std::size_t i = 0; i < inputs.size(); ++i)
        {
            XK_CHECK(inputs[i].defined(), value_error, m_layer->class_name(), " layer '", m_layer->name(), "': input ",
                     i, " is an empty symbolic tensor.");
            shapes.push_back(inputs[i].shape());
        }
        auto node = std::make_shared<GraphNode<T>>();
        node->layer = m_layer;
        node->inputs = inputs;
        node->output_shapes = m_layer->call_symbolic(shapes);
        node->serial = next_node_serial++;
        std::vector<BasicSymbolicTensor<T>> out;
        for (std::size_t i = 0; i < node->output_shapes.size(); ++i)
            out.emplace_back(node, i);
        return out;
    }

    template <class T>
    BasicSymbolicTensor<T> BasicLayerRef<T>::operator()(const std::vector<BasicSymbolicTensor<T>>& inputs) const
    {
        auto out = call_all(inputs);
        XK_CHECK(out.size() == 1, value_error, m_layer->class_name(), " '", m_layer->name(), "' has ", out.size(),
                 " outputs: call_all() returns them all.");
        return out[0];
    }

    template <class T>
    BasicSymbolicTensor<T> BasicLayerRef<T>::operator()(const BasicSymbolicTensor<T>& x) const
    {
        return (*this)(std::vector<BasicSymbolicTensor<T>>{x});
    }

    // ---------------------------------------------------------------- the graph

    template <class T>
    BasicFunctional<T>::BasicFunctional(std::vector<SymbolicTensor> inputs, std::vector<SymbolicTensor> outputs,
                                        std::string name)
        : m_name(name.empty() ? unique_layer_name("model") : std::move(name)), m_inputs(std::move(inputs)),
          m_outputs(std::move(outputs))
    {
        const std::string where = "Functional model '" + m_name + "'";
        XK_CHECK(!m_inputs.empty(), value_error, where, ": a model needs at least one input.");
        XK_CHECK(!m_outputs.empty(), value_error, where, ": a model needs at least one output.");
        for (std::size_t i = 0; i < m_inputs.size(); ++i)
        {
            const auto& x = m_inputs[i];
            XK_CHECK(x.defined(), value_error, where, ": input ", i, " is an empty symbolic tensor.");
            XK_CHECK(x.node()->is_input(), value_error, where,
                     ": model inputs must come from `Input` (thus holding past layer metadata). They cannot be the "
                     "output of a previous non-Input layer. Here, a tensor specified as input to \"",
                     m_name, "\" was not an Input tensor, it was generated by layer \"", x.layer().name(), "\".");
            for (std::size_t j = 0; j < i; ++j)
                XK_CHECK(!(m_inputs[j] == x), value_error, where,
                         ": the list of inputs passed to the model contains the same input multiple times. All "
                         "inputs should only appear once. Input '", x.layer().name(), "' is repeated.");
        }
        for (std::size_t i = 0; i < m_outputs.size(); ++i)
            XK_CHECK(m_outputs[i].defined(), value_error, where, ": output ", i, " is an empty symbolic tensor.");

        // Keras's _map_graph_network: a depth-first walk from the outputs numbers the layers as first met and
        // lists the nodes parents first; depths grow from the outputs (0) towards the inputs.
        std::vector<GraphNode<T>*> ordered; // parents before children
        std::map<const BasicLayer<T>*, std::size_t> layer_index;
        std::set<const GraphNode<T>*> finished, in_progress;
        std::map<const GraphNode<T>*, std::shared_ptr<GraphNode<T>>> owner;
        std::function<void(const SymbolicTensor&)> visit = [&](const SymbolicTensor& t) {
            GraphNode<T>* node = t.node().get();
            if (finished.count(node))
                return;
            XK_CHECK(!in_progress.count(node), value_error, where, ": the tensor at layer \"", node->layer->name(),
                     "\" is part of a cycle.");
            layer_index.emplace(node->layer.get(), layer_index.size());
            owner.emplace(node, t.node());
            in_progress.insert(node);
            for (const auto& x : node->inputs)
                visit(x);
            in_progress.erase(node);
            finished.insert(node);
            ordered.push_back(node);
        };
        for (const auto& y : m_outputs)
            visit(y);

        std::map<const GraphNode<T>*, std::size_t> node_depth;
        std::map<const BasicLayer<T>*, std::size_t> layer_depth;
        for (auto it = ordered.rbegin(); it != ordered.rend(); ++it)
        {
            GraphNode<T>* node = *it;
            std::size_t depth = std::max(node_depth[node], layer_depth[node->layer.get()]);
            layer_depth[node->layer.get()] = depth;
            node_depth[node] = depth;
            for (const auto& x : node->inputs)
            {
                std::size_t& parent = node_depth[x.node().get()];
                parent = std::max(parent, depth + 1);
            }
        }

        // Nodes by decreasing depth (ties in walk order) run parents before children; the check that every
        // node's inputs are computable from the model's inputs is Keras's "Graph disconnected".
        std::vector<GraphNode<T>*> by_depth = ordered;
        std::stable_sort(by_depth.begin(), by_depth.end(),
                         [&](auto* a, auto* b) { return node_depth[a] > node_depth[b]; });
        std::set<const GraphNode<T>*> computable;
        for (const auto& x : m_inputs)
            computable.insert(x.node().get());
        std::vector<std::string> complete;
        for (auto* node : by_depth)
        {
            if (node->is_input())
                continue;
            for (const auto& x : node->inputs)
                XK_CHECK(computable.count(x.node().get()), value_error, where,
                         ": Graph disconnected: cannot obtain value for tensor '", x.layer().name(), "' (shape ",
                         shape_str(x.shape()), ") at layer \"", node->layer->name(),
                         "\". The following previous layers were accessed without issue: ", name_list(complete), ".");
            computable.insert(node);
            complete.push_back(node->layer->name());
            m_nodes.push_back(owner.at(node));
        }

        for (const auto& x : m_inputs)
            XK_CHECK(finished.count(x.node().get()), value_error, where, ": Graph disconnected: input '",
                     x.layer().name(), "' is not connected to any output of the model; every input must feed an output.");

        // model.layers: by decreasing depth, ties in the order the walk met them.
        std::vector<std::pair<std::size_t, std::size_t>> keys; // (depth, walk index) per layer
        std::vector<std::shared_ptr<BasicLayer<T>>> layers;
        for (auto* node : ordered)
            if (std::find(layers.begin(), layers.end(), node->layer) == layers.end())
                layers.push_back(node->layer);
        std::stable_sort(layers.begin(), layers.end(), [&](const auto& a, const auto& b) {
            std::size_t da = layer_depth[a.get()], db = layer_depth[b.get()];
            return da != db ? da > db : layer_index[a.get()] < layer_index[b.get()];
        });
        std::map<std::string, int> names;
        for (const auto& l : layers)
        {
            XK_CHECK(++names[l->name()] == 1, value_error, where, ": The name \"", l->name(),
                     "\" is used 2 times in the model. All layer names should be unique.");
            m_owned.push_back(l);
            m_layers.push_back(l.get());
        }
    }

    template <class T>
    std::vector<std::string> BasicFunctional<T>::input_names() const
    {
        std::vector<std::string> out;
        for (const auto& x : m_inputs)
            out.push_back(x.layer().name());
        return out;
    }

    template <class T>
    std::vector<std::string> BasicFunctional<T>::output_names() const
    {
        std::vector<std::string> out;
        for (const auto& y : m_outputs)
            out.push_back(y.layer().name());
        return out;
    }

    template <class T>
    std::vector<PartialShape> BasicFunctional<T>::input_shapes() const
    {
        std::vector<PartialShape> out;
        for (const auto& x : m_inputs)
            out.push_back(x.shape());
        return out;
    }

    template <class T>
    std::vector<PartialShape> BasicFunctional<T>::compute_output_shapes(std::span<const PartialShape> shapes) const
    {
        this->check_call_inputs(shapes);
        std::map<const GraphNode<T>*, std::vector<PartialShape>> known;
        for (std::size_t i = 0; i < m_inputs.size(); ++i)
            known[m_inputs[i].node().get()] = {shapes[i]};
        for (const auto& node : m_nodes)
        {
            std::vector<PartialShape> in;
            for (const auto& x : node->inputs)
                in.push_back(known.at(x.node().get()).at(x.index()));
            known[node.get()] = node->layer->compute_output_shapes(in);
        }
        std::vector<PartialShape> out;
        for (const auto& y : m_outputs)
            out.push_back(known.at(y.node().get()).at(y.index()));
        return out;
    }

    template <class T>
    void BasicFunctional<T>::build(std::span<const PartialShape> input_shapes)
    {
        // Every layer was built when the graph was written; the shapes must fit it.
        this->check_call_inputs(input_shapes);
    }

    template <class T>
    std::vector<BasicVariable<T>> BasicFunctional<T>::call(BasicTape<T>& tape, std::span<const Variable> inputs,
                                                           bool training)
    {
        std::vector<PartialShape> shapes;
        for (const auto& x : inputs)
        {
            const Shape shape = x.shape();
            shapes.emplace_back(shape.begin(), shape.end());
        }
        this->check_call_inputs(shapes);

        // A node's outputs are dropped after their last use, so inference holds only the live activations
        // (the tape keeps what backward needs).
        std::unordered_map<const GraphNode<T>*, std::vector<Variable>> values;
        std::unordered_map<const GraphNode<T>*, std::size_t> last_use;
        for (std::size_t k = 0; k < m_nodes.size(); ++k)
            for (const auto& x : m_nodes[k]->inputs)
                last_use[x.node().get()] = k;
        for (const auto& y : m_outputs)
            last_use[y.node().get()] = m_nodes.size();
        for (std::size_t i = 0; i < m_inputs.size(); ++i)
            values[m_inputs[i].node().get()] = {inputs[i]};
        for (std::size_t k = 0; k < m_nodes.size(); ++k)
        {
            const GraphNode<T>& node = *m_nodes[k];
            std::vector<Variable> in;
            for (const auto& x : node.inputs)
                in.push_back(values.at(x.node().get()).at(x.index()));
            values[&node] = node.layer->call(tape, in, training);
            for (const auto& x : node.inputs)
                if (last_use[x.node().get()] == k)
                    values.erase(x.node().get());
        }
        std::vector<Variable> out;
        for (const auto& y : m_outputs)
            out.push_back(values.at(y.node().get()).at(y.index()));
        return out;
    }

    template <class T>
    std::size_t BasicFunctional<T>::config_node_index(const GraphNode<T>* node) const
    {
        if (node->is_input())
            return 0;
        std::size_t index = nested_model(*node->layer) ? 1 : 0;
        for (const auto& other : m_nodes)
            if (other->layer == node->layer && other->serial < node->serial)
                ++index;
        return index;
    }

    template <class T>
    json BasicFunctional<T>::node_reference(const SymbolicTensor& tensor) const
    {
        return json::array({tensor.layer().name(), config_node_index(tensor.node().get()), tensor.index()});
    }

    template <class T>
    json BasicFunctional<T>::get_config() const
    {
        // tf.keras 2.x's get_network_config: each layer with the nodes it has in this model, in call order.
        json layers = json::array();
        for (auto* layer : m_layers)
        {
            std::vector<const GraphNode<T>*> calls;
            for (const auto& node : m_nodes)
                if (node->layer.get() == layer)
                    calls.push_back(node.get());
            std::sort(calls.begin(), calls.end(), [](auto* a, auto* b) { return a->serial < b->serial; });
            json inbound = json::array();
            for (const auto* node : calls)
            {
                json refs = json::array();
                for (const auto& x : node->inputs)
                {
                    json ref = node_reference(x);
                    ref.push_back(json::object());
                    refs.push_back(ref);
                }
                inbound.push_back(refs);
            }
            json entry = serialize(*layer);
            entry["name"] = layer->name();
            entry["inbound_nodes"] = inbound;
            layers.push_back(entry);
        }
        json inputs = json::array(), outputs = json::array();
        for (const auto& x : m_inputs)
            inputs.push_back(node_reference(x));
        for (const auto& y : m_outputs)
            outputs.push_back(node_reference(y));
        // tf.keras >= 2.13 writes the model's trainable flag: false only when every layer is frozen.
        const bool trainable = std::any_of(m_layers.begin(), m_layers.end(), [](auto* l) { return l->trainable(); });
        return {{"name", m_name},
                {"trainable", trainable},
                {"layers", layers},
                {"input_layers", inputs},
                {"output_layers", outputs}};
    }

    template <class T>
    std::string BasicFunctional<T>::summary() const
    {
        std::vector<SummaryRow> rows;
        std::size_t total = 0, trainable = 0;
        for (auto* layer : m_layers)
        {
            SummaryRow row{layer->name() + " (" + layer->class_name() + ")", "", with_commas(layer->count_params()), {}};
            std::vector<std::string> shapes;
            for (const auto& x : m_inputs)
                if (x.node()->layer.get() == layer)
                    shapes.push_back(shapes_str(x.node()->output_shapes, /*as_list=*/true));
            for (const auto& node : m_nodes)
                if (node->layer.get() == layer)
                {
                    shapes.push_back(shapes_str(node->output_shapes, false));
                    for (const auto& x : node->inputs)
                        row.connected.push_back(x.layer().name() + "[" +
                                                std::to_string(config_node_index(x.node().get())) + "][" +
                                                std::to_string(x.index()) + "]");
                }
            // A shared layer whose calls give different shapes: Keras prints "multiple".
            row.shape = shapes.empty() ? "?" : shapes[0];
            for (const auto& s : shapes)
                if (s != shapes[0])
                    row.shape = "multiple";
            total += layer->count_params();
            for (const auto* w : layer->trainable_weights())
                trainable += w->variable.value().size();
            rows.push_back(std::move(row));
        }
        return format_summary(m_name, rows, total, trainable, /*connected_column=*/true);
    }

    // ---------------------------------------------------------------- from a config

    namespace
    {
        struct NodeRef
        {
            std::string layer;
            std::size_t node = 0, tensor = 0;
            // Keras 3 numbers a nested model's calls from 0 (creating it makes no node); tf.keras 2.x from 1.
            bool nested_from_zero = false;
        };

        NodeRef parse_ref(const json& ref, const std::string& where)
        {
            XK_CHECK(ref.is_array() && ref.size() >= 3 && ref[0].is_string() && ref[1].is_number_unsigned() &&
                         ref[2].is_number_unsigned(),
                     value_error, where, ": expected a node reference [layer_name, node_index, tensor_index]. Received ",
                     ref.dump().substr(0, 200), ".");
            return {ref[0].get<std::string>(), ref[1].get<std::size_t>(), ref[2].get<std::size_t>()};
        }

        /// The tensors one inbound node takes, in every form Keras wrote: tf.keras 2.x
        /// [[name, node, tensor, kwargs], ...] (or one such reference), Keras 3 {"args": [...], "kwargs": {...}}
        /// whose keras tensors carry keras_history = [name, node, tensor].
        std::vector<NodeRef> parse_inbound_node(const json& node, const std::string& where)
        {
            std::vector<NodeRef> out;
            std::function<void(const json&)> collect = [&](const json& v) {
                if (v.is_object() && v.contains("keras_history"))
                {
                    out.push_back(parse_ref(v["keras_history"], where));
                    out.back().nested_from_zero = true;
                }
                else if (v.is_object() && v.contains("config") && v["config"].is_object())
                    collect(v["config"]);
                else if (v.is_array() && !v.empty() && v[0].is_string())
                    out.push_back(parse_ref(v, where));
                else if (v.is_array())
                    for (const auto& item : v)
                        collect(item);
            };
            if (node.is_object() && node.contains("args"))
                collect(node["args"]);
            else
                collect(node);
            XK_CHECK(!out.empty(), value_error, where, ": an inbound node names no input tensor. Received ",
                     node.dump().substr(0, 200), ".");
            return out;
        }

        /// input_layers / output_layers: a list of references, Keras 3's single reference, or tf.keras 2.3's
        /// dict keyed by name.
        std::vector<NodeRef> parse_endpoints(const json& config, const char* key, const std::string& where)
        {
            XK_CHECK(config.contains(key), value_error, where, ": the config has no \"", key, "\".");
            const json& v = config[key];
            std::vector<NodeRef> out;
            if (v.is_array() && !v.empty() && v[0].is_string())
                out.push_back(parse_ref(v, where + " (" + key + ")"));
            else if (v.is_array())
                for (const auto& r : v)
                    out.push_back(parse_ref(r, where + " (" + key + ")"));
            else if (v.is_object())
                for (const auto& [name, r] : v.items())
                    out.push_back(parse_ref(r, where + " (" + key + ")"));
            XK_CHECK(!out.empty(), value_error, where, ": \"", key, "\" names no layer. Received ", v.dump().substr(0, 200),
                     ".");
            return out;
        }
    }

    template <class T>
    BasicFunctional<T> BasicFunctional<T>::from_config(const json& config)
    {
        XK_CHECK(config.is_object() && config.contains("layers") && config["layers"].is_array(), value_error,
                 "Functional config: expected {\"name\": ..., \"layers\": [...], \"input_layers\": ..., "
                 "\"output_layers\": ...}. Received ", config.dump().substr(0, 200), ".");
        const std::string model_name = config_value<std::string>(config, "name", "");
        const std::string where = "Functional model '" + model_name + "'";

        // Every layer first, then their calls: a call may need a node of a layer listed after it.
        struct Pending
        {
            std::string name;
            std::shared_ptr<BasicLayer<T>> layer;
            std::vector<std::vector<NodeRef>> nodes; // still to call, in order
            std::vector<SymbolicTensor> first_outputs;
            std::vector<std::shared_ptr<GraphNode<T>>> made; // the calls made so far
            bool nested = false;
        };
        std::vector<Pending> pending;
        std::map<std::string, std::size_t> by_name;
        for (const auto& entry : config["layers"])
        {
            XK_CHECK(entry.is_object() && entry.contains("class_name") && entry["class_name"].is_string(), value_error,
                     where, ": each layer must be {\"class_name\": ..., \"config\": ..., \"inbound_nodes\": ...}. "
                     "Received ", entry.dump().substr(0, 200), ".");
            const json layer_config = entry.value("config", json::object());
            std::string name = entry.contains("name") && entry["name"].is_string() ? entry["name"].get<std::string>()
                               : layer_config.is_object()                           ? layer_config.value("name", std::string())
                                                                                    : std::string();
            XK_CHECK(!name.empty(), value_error, where, ": a layer entry has no name. Received ",
                     entry.dump().substr(0, 200), ".");
            XK_CHECK(!by_name.count(name), value_error, where, ": The name \"", name,
                     "\" is used 2 times in the model. All layer names should be unique.");
            Pending p{name, nullptr, {}, {}, {}, false};
            if (entry["class_name"] == "InputLayer")
            {
                PartialShape shape = input_layer_batch_shape(layer_config);
                // The layer's own checks of its other arguments (named, so that no auto-name is taken).
                json checked = layer_config.is_object() ? layer_config : json::object();
                checked["name"] = name;
                make_layer<T>("InputLayer", checked);
                SymbolicTensor x = BasicInput<T>(PartialShape(shape.begin() + 1, shape.end()), name,
                                                 shape[0] > 0 ? std::optional<long>(shape[0]) : std::nullopt);
                p.layer = x.node()->layer;
                p.made.push_back(x.node());
            }
            else
            {
                json named = entry;
                if (named["config"].is_object())
                    named["config"]["name"] = name;
                p.layer = std::shared_ptr<BasicLayer<T>>(layer_or_model_from_config<T>(named));
                p.nested = nested_model(*p.layer) != nullptr;
                if (entry.contains("inbound_nodes") && entry["inbound_nodes"].is_array())
                    for (const auto& node : entry["inbound_nodes"])
                        p.nodes.push_back(parse_inbound_node(node, where + ", layer '" + name + "'"));
                XK_CHECK(!p.nodes.empty(), value_error, where, ": layer '", name,
                         "' has no inbound nodes: it is not connected to the graph.");
            }
            by_name[name] = pending.size();
            pending.push_back(std::move(p));
        }

        // The tensor a reference names once that node exists (a nested model's first call is node 1 in
        // tf.keras 2.x's references, node 0 in Keras 3's keras_history).
        auto resolve = [&](const NodeRef& ref, const std::string& user) -> std::optional<SymbolicTensor> {
            auto it = by_name.find(ref.layer);
            XK_CHECK(it != by_name.end(), value_error, where, ": layer '", user, "' names an unknown layer '",
                     ref.layer, "'.");
            Pending& source = pending[it->second];
            std::size_t index = ref.node;
            if (source.nested && !ref.nested_from_zero)
            {
                XK_CHECK(index >= 1, value_error, where, ": layer '", user, "' takes node ", ref.node, " of model '",
                         ref.layer, "', whose calls are numbered from 1.");
                --index;
            }
            if (source.made.size() == 1 && source.made[0]->is_input())
                index = 0; // Keras: an InputLayer has one node whatever the reference says
            if (index >= source.made.size())
                return std::nullopt;
            const auto& node = source.made[index];
            XK_CHECK(ref.tensor < node->output_shapes.size(), value_error, where, ": layer '", user, "' takes tensor ",
                     ref.tensor, " of layer '", ref.layer, "', which has ", node->output_shapes.size(), " output(s).");
            return SymbolicTensor(node, ref.tensor);
        };

        bool progress = true;
        while (progress)
        {
            progress = false;
            for (auto& p : pending)
                while (!p.nodes.empty())
                {
                    std::vector<SymbolicTensor> inputs;
                    for (const auto& ref : p.nodes.front())
                    {
                        auto t = resolve(ref, p.name);
                        if (!t)
                            break;
                        inputs.push_back(*t);
                    }
                    if (inputs.size() < p.nodes.front().size())
                        break;
                    BasicLayerRef<T> ref(p.layer);
                    try
                    {
                        auto outputs = ref.call_all(inputs);
                        p.made.push_back(outputs[0].node());
                    }
                    catch (const value_error&)
                    {
                        rethrow_naming_layer(p.layer->class_name(), json{{"name", p.name}});
                    }
                    p.nodes.erase(p.nodes.begin());
                    progress = true;
                }
        }
        for (const auto& p : pending)
            if (!p.nodes.empty())
            {
                // Nothing more can be called. A waiting call that names a node past all of a layer's calls is
                // the fault; when every named node could still exist, the layers wait on each other: a cycle.
                for (const auto& w : pending)
                    for (const auto& ref : w.nodes.empty() ? std::vector<NodeRef>{} : w.nodes.front())
                    {
                        const Pending& source = pending[by_name.at(ref.layer)];
                        const std::size_t calls = source.made.size() + source.nodes.size();
                        const std::size_t wanted = source.nested ? ref.node - 1 : ref.node;
                        XK_CHECK(wanted < calls, value_error, where, ": layer '", w.name, "' takes node ", ref.node,
                                 " of layer '", ref.layer, "', which is called only ", calls, " time(s) in the model.");
                    }
                throw value_error(where + ": layer '" + p.name +
                                  "' waits on a call that depends on its own output: the graph has a cycle.");
            }

        auto endpoint = [&](const NodeRef& ref, const char* key) {
            auto t = resolve(ref, key);
            XK_CHECK(t.has_value(), value_error, where, ": \"", key, "\" takes node ", ref.node, " of layer '",
                     ref.layer, "', which is called only ", pending[by_name.at(ref.layer)].made.size(),
                     " time(s) in the model.");
            return *t;
        };
        std::vector<SymbolicTensor> inputs, outputs;
        for (const auto& ref : parse_endpoints(config, "input_layers", where))
            inputs.push_back(endpoint(ref, "input_layers"));
        for (const auto& ref : parse_endpoints(config, "output_layers", where))
            outputs.push_back(endpoint(ref, "output_layers"));
        BasicFunctional model(std::move(inputs), std::move(outputs), model_name);
        if (!config_value<bool>(config, "trainable", true))
            for (auto* layer : model.m_layers)
                layer->set_trainable(false); // Keras: a frozen model freezes every layer in it
        // A layer the config lists but no output needs: Keras drops it silently; a file's weights would then
        // shift, so say which.
        for (const auto& p : pending)
            XK_CHECK(std::find(model.m_layers.begin(), model.m_layers.end(), p.layer.get()) != model.m_layers.end(),
                     value_error, where, ": layer '", p.name, "' is not on any path from the inputs to the outputs.");
        return model;
    }

    template class BasicSymbolicTensor<float>;
    template class BasicSymbolicTensor<double>;
    template class BasicLayerRef<float>;
    template class BasicLayerRef<double>;
    template class BasicFunctional<float>;
    template class BasicFunctional<double>;
    template BasicSymbolicTensor<float> BasicInput<float>(const PartialShape&, std::string, std::optional<long>);
    template BasicSymbolicTensor<double> BasicInput<double>(const PartialShape&, std::string, std::optional<long>);
}
