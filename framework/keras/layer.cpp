#include "framework/keras/layer.hpp"

#include "framework/engine/check_numerics.hpp"
#include "framework/keras/keras_ops.hpp"

#include <algorithm>
#include <map>
#include <mutex>
#include <regex>

namespace xk
{
    std::string to_snake_case(const std::string& class_name)
    {
        static const std::regex words("(.)([A-Z][a-z0-9]+)");
        static const std::regex humps("([a-z])([A-Z])");
        std::string out = std::regex_replace(class_name, words, "$1_$2");
        out = std::regex_replace(out, humps, "$1_$2");
        for (auto& c : out)
            c = char(std::tolower(static_cast<unsigned char>(c)));
        return out;
    }

    std::string keras3_snake_case(const std::string& class_name)
    {
        // Non-word characters dropped, then words and humps split.
        static const std::regex non_word("[^A-Za-z0-9_]+");
        static const std::regex words("(.)([A-Z][a-z]+)");
        static const std::regex humps("([a-z])([A-Z])");
        std::string out = std::regex_replace(class_name, non_word, "");
        out = std::regex_replace(out, words, "$1_$2");
        out = std::regex_replace(out, humps, "$1_$2");
        for (auto& c : out)
            c = char(std::tolower(static_cast<unsigned char>(c)));
        return out;
    }

    namespace
    {
        std::mutex names_mutex;
        std::map<std::string, int>& name_counts()
        {
            static std::map<std::string, int> counts;
            return counts;
        }

        PartialShape parse_shape(const json& value, const std::string& key, const std::string& layer)
        {
            XK_CHECK(value.is_array(), value_error, "Layer '", layer, "': `", key,
                     "` must be a list of dimensions. Received ", key, "=", value.dump(), ".");
            PartialShape shape;
            for (const auto& d : value)
            {
                XK_CHECK(d.is_null() || (d.is_number_integer() && d.get<long>() > 0), value_error, "Layer '", layer,
                         "': `", key, "` dimensions must be positive integers or null. Received ", key, "=",
                         value.dump(), ".");
                shape.push_back(d.is_null() ? -1 : d.get<long>());
            }
            return shape;
        }
    }

    std::string unique_layer_name(const std::string& prefix, bool zero_based)
    {
        std::lock_guard lock(names_mutex);
        int n = name_counts()[prefix]++;
        if (!zero_based)
            return prefix + "_" + std::to_string(n + 1);
        return n == 0 ? prefix : prefix + "_" + std::to_string(n);
    }

    void reset_layer_names()
    {
        std::lock_guard lock(names_mutex);
        name_counts().clear();
    }

    template <class T>
    BasicLayer<T>::BasicLayer(const json& config, const std::string& class_name)
    {
        XK_CHECK(config.is_object(), value_error, class_name, ": the config must be a JSON object. Received ",
                 config.dump(), ".");
        if (config.contains("name") && config["name"].is_string() && !config["name"].get<std::string>().empty())
            m_name = config["name"].get<std::string>();
        else
            m_name = unique_layer_name(to_snake_case(class_name));
        m_trainable = config_value<bool>(config, "trainable", true);
        // dtype: "float32", or Keras 3's {"class_name": "DTypePolicy", "config": {"name": "float32"}}.
        if (auto it = config.find("dtype"); it != config.end() && !it->is_null())
        {
            if (it->is_string())
                m_dtype = it->get<std::string>();
            else if (it->is_object() && it->contains("config") && (*it)["config"].contains("name"))
                m_dtype = (*it)["config"]["name"].get<std::string>();
        }
        if (config.contains("batch_input_shape") && !config["batch_input_shape"].is_null())
            m_batch_input_shape = parse_shape(config["batch_input_shape"], "batch_input_shape", m_name);
        else if (config.contains("batch_shape") && !config["batch_shape"].is_null())
            m_batch_input_shape = parse_shape(config["batch_shape"], "batch_shape", m_name);
        else if (config.contains("input_shape") && !config["input_shape"].is_null())
        {
            PartialShape s = parse_shape(config["input_shape"], "input_shape", m_name);
            s.insert(s.begin(), -1);
            m_batch_input_shape = s;
        }
        if (config.contains("activity_regularizer"))
            m_activity_regularizer = get_regularizer(config["activity_regularizer"]);
    }

    void check_config_keys(const json& config, const std::string& where, const std::vector<std::string>& layer_keys)
    {
        // Base Layer arguments of tf.keras 2.x and Keras 3 (batch_shape), always accepted.
        static const std::vector<std::string> base_keys = {
            "name",  "trainable",  "dtype",     "batch_input_shape", "batch_shape", "input_shape",
            "batch_size", "input_dim", "dynamic", "autocast",         "activity_regularizer"};
        for (const auto& key : unknown_keys(config, base_keys))
            XK_CHECK(std::find(layer_keys.begin(), layer_keys.end(), key) != layer_keys.end(), value_error,
                     where, ": keyword argument not understood: '", key, "'.");
    }

    void require_unset_options(const json& config, const std::string& where, const std::vector<std::string>& keys,
                               const std::string& feature)
    {
        for (const auto& key : keys)
        {
            const json value = config.value(key, json(nullptr));
            XK_CHECK(value.is_null() || value == json(false) || value == json(0), value_error, where, ": `", key,
                     "` (Keras 3's ", feature, ") is not supported by xkeras. Received ", key, "=", value.dump(), ".");
        }
    }

    template <class T>
    void BasicLayer<T>::set_trainable(bool trainable)
    {
        m_trainable = trainable;
        for (auto& w : m_weights)
            w.variable.set_requires_grad(trainable && w.trainable);
    }

    template <class T>
    void BasicLayer<T>::build(std::span<const PartialShape> input_shapes)
    {
        XK_CHECK(!m_built, value_error, where(), " is already built.");
        std::vector<PartialShape> shapes(input_shapes.begin(), input_shapes.end());
        for (auto& shape : shapes)
            if (!shape.empty())
                shape[0] = -1;
        build_weights_inputs(shapes);
        m_input_shapes = std::move(shapes);
        m_built = true;
    }

    template <class T>
    const PartialShape& BasicLayer<T>::input_shape() const
    {
        static const PartialShape unknown;
        return m_input_shapes.empty() ? unknown : m_input_shapes[0];
    }

    template <class T>
    void BasicLayer<T>::require_one_input(std::size_t count) const
    {
        XK_CHECK(count == 1, value_error, where(), " expects 1 input, but it received ", count, " input tensors.");
    }

    template <class T>
    std::vector<PartialShape> BasicLayer<T>::compute_output_shapes(std::span<const PartialShape> input_shapes) const
    {
        require_one_input(input_shapes.size());
        return {compute_output_shape(input_shapes[0])};
    }

    template <class T>
    void BasicLayer<T>::build_weights_inputs(std::span<const PartialShape> input_shapes)
    {
        require_one_input(input_shapes.size());
        build_weights(input_shapes[0]);
    }

    template <class T>
    void BasicLayer<T>::check_inputs(std::span<const PartialShape> input_shapes) const
    {
        require_one_input(input_shapes.size());
        check_input(input_shapes[0]);
    }

    template <class T>
    Tensor<T> BasicLayer<T>::forward_inputs(std::span<const Tensor* const> inputs, LayerCache<T>& cache) const
    {
        require_one_input(inputs.size());
        return forward(*inputs[0], cache);
    }

    template <class T>
    void BasicLayer<T>::backward_inputs(std::span<const Tensor* const> inputs, const Tensor& dz,
                                        const LayerCache<T>& cache, std::span<Tensor* const> dinputs)
    {
        require_one_input(inputs.size());
        backward(*inputs[0], dz, cache, dinputs[0]);
    }

    template <class T>
    std::vector<Weight<T>*> BasicLayer<T>::weights()
    {
        std::vector<Weight<T>*> out;
        for (auto& w : m_weights)
            if (w.trainable)
                out.push_back(&w);
        for (auto& w : m_weights)
            if (!w.trainable)
                out.push_back(&w);
        return out;
    }

    template <class T>
    std::vector<const Weight<T>*> BasicLayer<T>::weights() const
    {
        std::vector<const Weight<T>*> out;
        for (const auto* w : const_cast<BasicLayer*>(this)->weights())
            out.push_back(w);
        return out;
    }

    template <class T>
    void BasicLayer<T>::enable_lora(long, std::optional<double>)
    {
        throw value_error(where() + " has no kernel to adapt with LoRA: Keras 3's enable_lora is a method of Dense, "
                                    "EinsumDense, Embedding and Conv1D/2D/3D (xkeras: Dense and Conv1D/2D/3D).");
    }

    template <class T>
    void BasicLayer<T>::adapt_kernel(Weight<T>* kernel, const LoraOptions& options,
                                     const std::optional<Regularizer>& regularizer,
                                     const std::optional<Constraint>& kernel_constraint)
    {
        XK_CHECK(options.enabled(), value_error, where(), ": the LoRA rank must be a positive integer. Received rank=",
                 options.rank, ".");
        require_lora_compatible(kernel_constraint);
        XK_CHECK(kernel, value_error, where(), ": Cannot enable lora on a layer that isn't yet built.");
        XK_CHECK(!m_lora, value_error, where(), ": lora is already enabled. This can only be done once per layer.");
        const Shape kernel_shape = kernel->variable.shape();
        Shape a_shape(kernel_shape.begin(), kernel_shape.end() - 1);
        a_shape.push_back(std::size_t(options.rank));
        Weight<T>& a = add_weight("lora_kernel_a", a_shape, get_initializer(json("he_uniform")), regularizer);
        Weight<T>& b = add_weight("lora_kernel_b", {std::size_t(options.rank), kernel_shape.back()},
                                  get_initializer(json("zeros")), regularizer);
        kernel->trainable = false;
        kernel->variable.set_requires_grad(false);
        kernel->regularizer.reset();
        m_lora = LoraAdapter{kernel, &a, &b};
        m_lora_options = options;
    }

    template <class T>
    void BasicLayer<T>::require_lora_compatible(const std::optional<Constraint>& kernel_constraint) const
    {
        XK_CHECK(!kernel_constraint, value_error, where(),
                 ": Lora is incompatible with kernel constraints. In order to enable lora on this layer, remove the "
                 "`kernel_constraint` argument.");
    }

    template <class T>
    const Tensor<T>& BasicLayer<T>::kernel_in_use(const Weight<T>& kernel, Tensor& storage) const
    {
        if (!m_lora || m_lora->kernel != &kernel)
            return kernel.variable.value();
        storage = lora::merged_kernel(kernel.variable.value(), m_lora->a->variable.value(), m_lora->b->variable.value(),
                                      T(m_lora_options.scale()));
        return storage;
    }

    template <class T>
    Tensor<T>* BasicLayer<T>::kernel_gradient(Weight<T>& kernel, Tensor& storage)
    {
        if (!m_lora || m_lora->kernel != &kernel)
            return grad_of(kernel);
        if (!m_lora->a->variable.requires_grad() && !m_lora->b->variable.requires_grad())
            return nullptr;
        storage = Tensor(kernel.variable.value().shape(), T(0));
        return &storage;
    }

    template <class T>
    void BasicLayer<T>::finish_kernel_gradient(const Tensor& storage)
    {
        if (!m_lora)
            return;
        lora::add_factor_gradients(storage, m_lora->a->variable.value(), m_lora->b->variable.value(),
                                   T(m_lora_options.scale()), grad_of(*m_lora->a), grad_of(*m_lora->b));
    }

    template <class T>
    std::vector<Tensor<T>> BasicLayer<T>::saved_variables() const
    {
        std::vector<Tensor> out;
        if (!m_lora)
        {
            for (const auto* w : weights())
                out.push_back(w->variable.value());
            return out;
        }
        for (const auto& w : m_weights)
            if (&w == m_lora->kernel)
            {
                Tensor merged;
                out.push_back(kernel_in_use(w, merged));
            }
            else if (&w != m_lora->a && &w != m_lora->b)
                out.push_back(w.variable.value());
        return out;
    }

    template <class T>
    std::vector<Weight<T>*> BasicLayer<T>::loaded_variables()
    {
        if (!m_lora)
            return weights();
        std::vector<Weight<T>*> out;
        for (auto& w : m_weights)
            if (&w != m_lora->a && &w != m_lora->b)
                out.push_back(&w);
        return out;
    }

    template <class T>
    std::vector<Weight<T>*> BasicLayer<T>::trainable_weights()
    {
        std::vector<Weight<T>*> out;
        if (m_trainable)
            for (auto& w : m_weights)
                if (w.trainable)
                    out.push_back(&w);
        return out;
    }

    template <class T>
    std::size_t BasicLayer<T>::count_params() const
    {
        std::size_t n = 0;
        for (const auto& w : m_weights)
            n += w.variable.value().size();
        return n;
    }

    template <class T>
    json BasicLayer<T>::get_config() const
    {
        json config = {{"name", m_name}, {"trainable", m_trainable}, {"dtype", m_dtype}};
        if (m_batch_input_shape)
        {
            json shape = json::array();
            for (long d : *m_batch_input_shape)
                shape.push_back(d < 0 ? json(nullptr) : json(d));
            config["batch_input_shape"] = shape;
        }
        return config;
    }

    template <class T>
    Weight<T>& BasicLayer<T>::add_weight(const std::string& name, const Shape& shape,
                                         const InitializerPtr& initializer,
                                         const std::optional<Regularizer>& regularizer,
                                         const std::optional<Constraint>& constraint, bool trainable)
    {
        // A config can ask for any size (filters=2**40); reject what no machine could hold before allocating, so
        // the user gets the layer and the weight's shape instead of std::bad_alloc.
        std::size_t elements = 1;
        for (std::size_t d : shape)
        {
            XK_CHECK(d == 0 || elements <= max_weight_elements / d, value_error, "Weight '", name, "' of ", where(),
                     " would have shape ", shape_str(shape), ": more than ", max_weight_elements,
                     " elements. Check the layer's sizes (filters, units, kernel_size, input channels).");
            elements *= d;
        }
        Tensor value = initializer ? tensor_cast<T>((*initializer)(shape)) : Tensor(shape, T(0));
        Weight<T> w{name, Variable(std::move(value), trainable && m_trainable, name), regularizer, constraint,
                    trainable};
        m_weights.push_back(std::move(w));
        return m_weights.back();
    }

    void rethrow_naming_layer(const std::string& class_name, const json& config)
    {
        try
        {
            throw;
        }
        catch (const value_error& e)
        {
            const std::string what = e.what();
            if (what.find(" layer '") != std::string::npos || what.find(class_name + " layer") != std::string::npos)
                throw;
            std::string where = class_name + " layer";
            if (config.is_object() && config.contains("name") && config["name"].is_string())
                where += " '" + config["name"].get<std::string>() + "'";
            if (dynamic_cast<const shape_error*>(&e))
                throw shape_error(where + ": " + what);
            throw value_error(where + ": " + what);
        }
    }

    template <class T>
    BasicVariable<T> BasicLayer<T>::call(BasicTape<T>& tape, const Variable& x, bool training)
    {
        std::vector<Variable> out = call(tape, std::span<const Variable>(&x, 1), training);
        XK_CHECK(out.size() == 1, value_error, where(), " has ", out.size(),
                 " outputs; call it with the list form to receive them all.");
        return out[0];
    }

    template <class T>
    std::vector<BasicVariable<T>> BasicLayer<T>::call(BasicTape<T>& tape, std::span<const Variable> inputs,
                                                      bool training)
    {
        XK_CHECK(!inputs.empty(), value_error, where(), " was called without inputs.");
        std::vector<PartialShape> partial;
        for (std::size_t i = 0; i < inputs.size(); ++i)
        {
            const Shape& shape = inputs[i].shape();
            XK_CHECK(!shape.empty() && shape[0] > 0, shape_error, "Input ", i, " of ", where(),
                     " has an empty batch: received shape ", shape_str(shape), ".");
            XK_CHECK(shape[0] == inputs[0].shape()[0], shape_error, where(),
                     ": all inputs must have the same batch size. Received input shapes ",
                     shape_str(inputs[0].shape()), " and ", shape_str(shape), ".");
            partial.emplace_back(shape.begin(), shape.end());
        }
        // Threads predicting at once on one unbuilt model: the first builds under the lock, the others wait
        // and then see the built layer.
        static std::mutex build_mutex;
        std::unique_lock build_lock(build_mutex, std::defer_lock);
        if (!built())
            build_lock.lock();
        if (!built())
        {
            if (m_batch_input_shape)
            {
                // A layer declared with an input shape must be called on that shape.
                const PartialShape& want = *m_batch_input_shape;
                bool ok = partial.size() == 1 && want.size() == partial[0].size();
                for (std::size_t i = 1; ok && i < want.size(); ++i)
                    ok = want[i] < 0 || want[i] == partial[0][i];
                XK_CHECK(ok, shape_error, "Input 0 of ", where(), " is incompatible with the layer: expected shape=",
                         shape_str(want), ", found shape=", shape_str(inputs[0].shape()), ".");
            }
            build(partial);
        }
        if (build_lock.owns_lock())
            build_lock.unlock();
        check_inputs(partial);

        LayerCache<T> cache;
        cache.training = training;
        std::vector<const Tensor*> values;
        for (const auto& x : inputs)
            values.push_back(&x.value());
        Tensor z = forward_inputs(values, cache);

        bool needs = false;
        for (const auto& x : inputs)
            needs = needs || tape.needs_grad(x);
        for (const auto* w : weights())
            needs = needs || tape.needs_grad(w->variable);

        const bool linear = m_activation.is_linear();
        const bool check = check_numerics_enabled();
        if (check && !linear)
            check_finite(z, "the pre-activation output", where());
        Variable y = linear ? Variable(std::move(z), needs) : Variable(m_activation.forward(z), needs);
        if (check)
            check_finite(y.value(), "the output", where());
        if (needs)
        {
            Variable pre = linear ? Variable() : Variable(std::move(z));
            std::vector<Variable> xs(inputs.begin(), inputs.end());
            tape.record([this, xs = std::move(xs), y, pre, cache = std::move(cache)]() mutable {
                if (!y.has_grad())
                    return;
                std::vector<const Tensor*> values;
                std::vector<Tensor*> dxs;
                for (auto& x : xs)
                {
                    values.push_back(&x.value());
                    dxs.push_back(x.requires_grad() ? &x.grad_buffer() : nullptr);
                }
                if (pre.defined())
                {
                    Tensor dz(y.value().shape(), T(0));
                    m_activation.backward(pre.value(), y.value(), y.grad(), dz);
                    backward_inputs(values, dz, cache, dxs);
                }
                else
                    backward_inputs(values, y.grad(), cache, dxs);
                if (check_numerics_enabled())
                {
                    // Gradients accumulate: a non-finite value here was produced by this step or an earlier
                    // one, and the earlier steps were checked already.
                    for (std::size_t i = 0; i < dxs.size(); ++i)
                        if (dxs[i])
                            check_finite(*dxs[i], xs.size() == 1 ? std::string("the input gradient")
                                                                 : "the gradient of input " + std::to_string(i),
                                         where());
                    for (auto* w : weights())
                        if (auto* g = grad_of(*w))
                            check_finite(*g, "the gradient of weight '" + w->name + "'", where());
                }
            });
        }
        if (m_activity_regularizer)
            tape.add_loss(ops::penalty(tape, y, *m_activity_regularizer, T(1) / T(inputs[0].shape()[0])));
        return {y};
    }

    template <class T>
    std::vector<PartialShape> BasicLayer<T>::call_symbolic(std::span<const PartialShape> input_shapes)
    {
        XK_CHECK(!input_shapes.empty(), value_error, where(), " was called without inputs.");
        if (!built())
        {
            if (m_batch_input_shape && input_shapes.size() == 1)
            {
                const PartialShape& want = *m_batch_input_shape;
                const PartialShape& got = input_shapes[0];
                bool ok = want.size() == got.size();
                for (std::size_t i = 1; ok && i < want.size(); ++i)
                    ok = want[i] < 0 || got[i] < 0 || want[i] == got[i];
                XK_CHECK(ok, shape_error, "Input 0 of ", where(), " is incompatible with the layer: expected shape=",
                         shape_str(want), ", found shape=", shape_str(got), ".");
            }
            build(input_shapes);
        }
        else
            check_inputs(input_shapes);
        return compute_output_shapes(input_shapes);
    }

    template <class T>
    Tensor<T> BasicLayer<T>::predict(const Tensor& x)
    {
        NoGradGuard no_grad;
        BasicTape<T> tape;
        return call(tape, Variable(x), false).value();
    }

    template class BasicLayer<float>;
    template class BasicLayer<double>;
}
