#include "layers/activation_layers.hpp"
#include "framework/engine/parallel.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace xk
{
    namespace
    {
        /// Elements per task of an elementwise pass over a whole activation tensor.
        constexpr std::size_t elementwise_grain = 1 << 15;
        /// Partitions of PReLU's alpha gradient, each summed privately and then added in a fixed order, so the
        /// sum does not depend on the thread count.
        constexpr std::size_t reduction_parts = 16;

        /// A JSON value as Python prints it in Keras's messages: -1, 0.5, None, True, 'a', [1, 2].
        std::string python_repr(const json& value)
        {
            if (value.is_array())
            {
                std::string out = "[";
                for (std::size_t i = 0; i < value.size(); ++i)
                    out += (i ? ", " : "") + python_repr(value[i]);
                return out + "]";
            }
            if (value.is_string())
                return "'" + value.get<std::string>() + "'";
            if (value.is_null())
                return "None";
            if (value.is_boolean())
                return value.get<bool>() ? "True" : "False";
            return value.dump();
        }

        /// backend.cast_to_floatx: the float32 nearest to `value`, which Keras computes with and writes back.
        double floatx(double value) { return double(static_cast<float>(value)); }

        /// config[key] (null included) or `fallback` when absent; a value that is neither a number nor null is
        /// an error (Python would fail comparing it with 0).
        json number_arg(const json& config, const std::string& key, const json& fallback, const std::string& where)
        {
            const json value = config.contains(key) ? config[key] : fallback;
            XK_CHECK(value.is_null() || value.is_number(), value_error, where, ": `", key,
                     "` must be a number. Received: ", key, "=", python_repr(value), ".");
            return value;
        }

        /// y[i] = f(x[i]) on every core.
        template <class T, class F>
        Tensor<T> map_values(const Tensor<T>& x, F f)
        {
            Tensor<T> y = Tensor<T>::from_shape(x.shape());
            const T* in = x.data();
            T* out = y.data();
            parallel_for(x.size(), elementwise_grain, [&](std::size_t i0, std::size_t i1) {
                for (std::size_t i = i0; i < i1; ++i)
                    out[i] = f(in[i]);
            });
            return y;
        }

        /// dx[i] += dy[i] * derivative(x[i]) on every core.
        template <class T, class D>
        void add_chain(const Tensor<T>& x, const Tensor<T>& dy, Tensor<T>& dx, D derivative)
        {
            const T* in = x.data();
            const T* g = dy.data();
            T* out = dx.data();
            parallel_for(x.size(), elementwise_grain, [&](std::size_t i0, std::size_t i1) {
                for (std::size_t i = i0; i < i1; ++i)
                    out[i] += g[i] * derivative(in[i]);
            });
        }

        /// tf.nn.relu; NaN passes through.
        template <class T>
        T relu(T v)
        {
            return v < T(0) ? T(0) : v;
        }

        /// tf.minimum(v, bound) for a finite bound; NaN passes through.
        template <class T>
        T minimum(T v, T bound)
        {
            return v > bound ? bound : v;
        }

        /// backend.relu(x, alpha, max_value, threshold) of tf.keras 2.x, evaluated as the graph it builds, and the
        /// derivative TensorFlow's registered gradients give that graph. The arguments are float32 values.
        template <class T>
        class ReluGraph
        {
        public:
            ReluGraph(double alpha, const std::optional<double>& max_value, double threshold)
                : m_alpha(T(alpha)), m_max(T(max_value.value_or(0.0))), m_threshold(T(threshold))
            {
                m_slope = alpha != 0.0;
                m_leaky = m_slope && !max_value && threshold == 0.0;
                m_thresholded = threshold != 0.0;
                m_relu6 = !m_thresholded && max_value && *max_value == 6.0;
                m_clip = max_value && !m_relu6;
            }

            T operator()(T x) const
            {
                if (m_leaky)
                    return x > T(0) ? x : x * m_alpha; // tf.nn.leaky_relu
                T y = positive(x);
                if (m_clip)
                    y = relu(minimum(y, m_max)); // clip_by_value(y, 0, max_value): minimum, then maximum
                if (m_slope)
                    y -= m_alpha * relu(-x + m_threshold);
                return y;
            }

            T derivative(T x) const
            {
                if (m_leaky)
                    return x > T(0) ? T(1) : m_alpha; // LeakyReluGrad
                T d;
                if (m_thresholded)
                    d = x > m_threshold ? T(1) : T(0); // x * cast(x > threshold): the cast has no gradient
                else if (m_relu6)
                    d = (x > T(0) && x < T(6)) ? T(1) : T(0); // Relu6Grad
                else
                    d = x > T(0) ? T(1) : T(0); // ReluGrad
                if (m_clip)
                {
                    // Minimum's gradient goes to x where x <= max_value, Maximum's where its input >= 0.
                    const T y = positive(x);
                    if (!(y <= m_max && minimum(y, m_max) >= T(0)))
                        d = T(0);
                }
                if (m_slope && -x + m_threshold > T(0))
                    d += m_alpha; // minus alpha times ReluGrad of (threshold - x)
                return d;
            }

        private:
            /// The part before clipping: x * (x > threshold), relu6(x) or relu(x).
            T positive(T x) const
            {
                if (m_thresholded)
                    return x * (x > m_threshold ? T(1) : T(0));
                if (m_relu6)
                    return minimum(relu(x), T(6));
                return relu(x);
            }

            T m_alpha, m_max, m_threshold;
            bool m_slope = false, m_leaky = false, m_thresholded = false, m_relu6 = false, m_clip = false;
        };

        template <class T>
        Tensor<T> relu_forward(const ReluGraph<T>& graph, const Tensor<T>& x)
        {
            return map_values(x, [&](T v) { return graph(v); });
        }

        template <class T>
        void relu_backward(const ReluGraph<T>& graph, const Tensor<T>& x, const Tensor<T>& dy, Tensor<T>& dx)
        {
            add_chain(x, dy, dx, [&](T v) { return graph.derivative(v); });
        }

        /// How alpha lines up with one sample of PReLU's input: the sample's axes, adjacent ones merged where
        /// alpha's layout allows, each with its extent and alpha's stride along it (0 where alpha is shared).
        struct AlphaLayout
        {
            std::vector<std::size_t> extent;
            std::vector<std::size_t> stride;
            std::size_t sample_size = 1;
        };

        AlphaLayout alpha_layout(const Shape& x_shape, const Shape& alpha_shape)
        {
            AlphaLayout l;
            const std::size_t rank = x_shape.size();
            std::vector<std::size_t> stride(rank, 0);
            for (std::size_t a = rank, step = 1; a-- > 1;)
            {
                stride[a] = alpha_shape[a - 1] == 1 ? 0 : step;
                step *= alpha_shape[a - 1];
            }
            for (std::size_t a = 1; a < rank; ++a)
            {
                l.sample_size *= x_shape[a];
                if (x_shape[a] == 1)
                    continue; // no effect on the walk
                if (!l.extent.empty() && l.stride.back() == stride[a] * x_shape[a])
                {
                    l.extent.back() *= x_shape[a]; // contiguous in alpha as in x (or shared by both)
                    l.stride.back() = stride[a];
                }
                else
                {
                    l.extent.push_back(x_shape[a]);
                    l.stride.push_back(stride[a]);
                }
            }
            return l;
        }

        /// f(j, k) for each position j of one sample, k the alpha entry it uses.
        template <class F>
        void walk_sample(const AlphaLayout& l, F f)
        {
            if (l.sample_size == 0)
                return;
            if (l.extent.empty())
            {
                f(std::size_t(0), std::size_t(0));
                return;
            }
            const std::size_t inner = l.extent.back(), inner_stride = l.stride.back(), outer_axes = l.extent.size() - 1;
            std::vector<std::size_t> index(outer_axes, 0);
            std::size_t k0 = 0;
            for (std::size_t j0 = 0; j0 < l.sample_size; j0 += inner)
            {
                for (std::size_t i = 0; i < inner; ++i)
                    f(j0 + i, k0 + i * inner_stride);
                for (std::size_t a = outer_axes; a-- > 0;) // odometer over the outer axes
                {
                    k0 += l.stride[a];
                    if (++index[a] < l.extent[a])
                        break;
                    k0 -= l.stride[a] * l.extent[a];
                    index[a] = 0;
                }
            }
        }

        /// For each element of a row-major tensor of `shape`, its group: its position with the `reduced` axes
        /// dropped. `groups` receives the number of groups.
        std::vector<std::size_t> group_of_elements(const Shape& shape, const std::vector<bool>& reduced,
                                                   std::size_t& groups)
        {
            const std::size_t rank = shape.size();
            std::vector<std::size_t> stride(rank, 0);
            std::size_t step = 1;
            for (std::size_t a = rank; a-- > 0;)
                if (!reduced[a])
                {
                    stride[a] = step;
                    step *= shape[a];
                }
            groups = step;
            const std::size_t n = shape_size(shape);
            std::vector<std::size_t> group(n), index(rank, 0);
            std::size_t g = 0;
            for (std::size_t flat = 0; flat < n; ++flat)
            {
                group[flat] = g;
                for (std::size_t a = rank; a-- > 0;)
                {
                    g += stride[a];
                    if (++index[a] < shape[a])
                        break;
                    g -= stride[a] * index[a];
                    index[a] = 0;
                }
            }
            return group;
        }

        std::vector<bool> reduced_axes(const std::vector<long>& axes, std::size_t rank)
        {
            std::vector<bool> reduced(rank, false);
            for (long a : axes)
                reduced[std::size_t(a < 0 ? a + long(rank) : a)] = true;
            return reduced;
        }
    }

    // ---- ReLU ------------------------------------------------------------------------------------------

    template <class T>
    ReLU<T>::ReLU(const json& config) : BasicLayer<T>(config, "ReLU")
    {
        const std::string where = this->where();
        check_config_keys(config, where, {"max_value", "negative_slope", "threshold"});
        const json max_value = number_arg(config, "max_value", nullptr, where);
        const json negative_slope = number_arg(config, "negative_slope", 0.0, where);
        const json threshold = number_arg(config, "threshold", 0.0, where);
        // Keras's checks, in its order.
        XK_CHECK(max_value.is_null() || max_value.get<double>() >= 0.0, value_error, where,
                 ": max_value of a ReLU layer cannot be a negative value. Received: ", python_repr(max_value));
        XK_CHECK(!negative_slope.is_null() && negative_slope.get<double>() >= 0.0, value_error, where,
                 ": negative_slope of a ReLU layer cannot be a negative value. Received: ", python_repr(negative_slope));
        XK_CHECK(!threshold.is_null() && threshold.get<double>() >= 0.0, value_error, where,
                 ": threshold of a ReLU layer cannot be a negative value. Received: ", python_repr(threshold));
        if (!max_value.is_null())
            m_max_value = floatx(max_value.get<double>());
        m_negative_slope = floatx(negative_slope.get<double>());
        m_threshold = floatx(threshold.get<double>());
    }

    template <class T>
    json ReLU<T>::get_config() const
    {
        json config = BasicLayer<T>::get_config();
        config["max_value"] = m_max_value ? json(*m_max_value) : json(nullptr);
        config["negative_slope"] = m_negative_slope;
        config["threshold"] = m_threshold;
        return config;
    }

    template <class T>
    Tensor<T> ReLU<T>::forward(const Tensor& x, LayerCache<T>&) const
    {
        return relu_forward(ReluGraph<T>(m_negative_slope, m_max_value, m_threshold), x);
    }

    template <class T>
    void ReLU<T>::backward(const Tensor& x, const Tensor& dz, const LayerCache<T>&, Tensor* dx)
    {
        if (dx)
            relu_backward(ReluGraph<T>(m_negative_slope, m_max_value, m_threshold), x, dz, *dx);
    }

    // ---- LeakyReLU -------------------------------------------------------------------------------------

    template <class T>
    LeakyReLU<T>::LeakyReLU(const json& config) : BasicLayer<T>(config, "LeakyReLU")
    {
        const std::string where = this->where();
        // negative_slope is Keras 3's name for alpha, accepted so Keras 3 files load; get_config writes alpha.
        check_config_keys(config, where, {"alpha", "negative_slope"});
        XK_CHECK(!(config.contains("alpha") && config.contains("negative_slope")), value_error, where,
                 ": `alpha` and `negative_slope` (Keras 3's name for alpha) cannot both be given.");
        if (config.contains("negative_slope"))
        {
            const json slope = number_arg(config, "negative_slope", nullptr, where);
            XK_CHECK(!slope.is_null() && slope.get<double>() >= 0.0, value_error, where,
                     ": The negative_slope value of a Leaky ReLU layer cannot be None or negative value. Expected a "
                     "float. Received: negative_slope=",
                     python_repr(slope));
            m_alpha = floatx(slope.get<double>());
            return;
        }
        const json alpha = number_arg(config, "alpha", 0.3, where);
        XK_CHECK(!alpha.is_null(), value_error, where,
                 ": The alpha value of a Leaky ReLU layer cannot be None, Expecting a float. Received: None");
        m_alpha = floatx(alpha.get<double>());
    }

    template <class T>
    json LeakyReLU<T>::get_config() const
    {
        json config = BasicLayer<T>::get_config();
        config["alpha"] = m_alpha;
        return config;
    }

    template <class T>
    json LeakyReLU<T>::keras3_config() const
    {
        // Keras 3 calls alpha negative_slope.
        json config = BasicLayer<T>::get_config();
        config["negative_slope"] = m_alpha;
        return config;
    }

    template <class T>
    Tensor<T> LeakyReLU<T>::forward(const Tensor& x, LayerCache<T>&) const
    {
        return relu_forward(ReluGraph<T>(m_alpha, std::nullopt, 0.0), x);
    }

    template <class T>
    void LeakyReLU<T>::backward(const Tensor& x, const Tensor& dz, const LayerCache<T>&, Tensor* dx)
    {
        if (dx)
            relu_backward(ReluGraph<T>(m_alpha, std::nullopt, 0.0), x, dz, *dx);
    }

    // ---- PReLU -----------------------------------------------------------------------------------------

    template <class T>
    PReLU<T>::PReLU(const json& config) : BasicLayer<T>(config, "PReLU")
    {
        const std::string where = this->where();
        check_config_keys(config, where, {"alpha_initializer", "alpha_regularizer", "alpha_constraint", "shared_axes"});
        try
        {
            const InitializerPtr initializer = get_initializer(config.value("alpha_initializer", json("zeros")));
            m_alpha_initializer_config = serialize(initializer);
            // add_weight draws a floating weight given no initializer with glorot_uniform.
            m_alpha_initializer = initializer ? initializer : get_initializer("glorot_uniform");
            m_alpha_regularizer = get_regularizer(config.value("alpha_regularizer", json(nullptr)));
            m_alpha_constraint = get_constraint(config.value("alpha_constraint", json(nullptr)));
        }
        catch (const value_error& e)
        {
            throw value_error(where + ": " + e.what());
        }
        const json shared = config.value("shared_axes", json(nullptr));
        if (shared.is_null())
            return;
        std::vector<long> axes;
        bool ok = shared.is_number_integer() || shared.is_array();
        if (shared.is_number_integer())
            axes.push_back(shared.get<long>()); // Keras wraps a single axis in a list
        else if (shared.is_array())
            for (const auto& a : shared)
            {
                ok = ok && a.is_number_integer();
                if (ok)
                    axes.push_back(a.get<long>());
            }
        XK_CHECK(ok, value_error, where,
                 ": `shared_axes` must be an integer, a list of integers or None. Received: shared_axes=",
                 python_repr(shared), ".");
        m_shared_axes = axes;
    }

    template <class T>
    bool PReLU<T>::listed_shared(long axis) const
    {
        return m_shared_axes && std::find(m_shared_axes->begin(), m_shared_axes->end(), axis) != m_shared_axes->end();
    }

    template <class T>
    void PReLU<T>::build_weights(const PartialShape& input_shape)
    {
        const std::string where = this->where();
        PartialShape param(input_shape.begin() + (input_shape.empty() ? 0 : 1), input_shape.end());
        const long n = long(param.size());
        if (m_shared_axes)
            for (long axis : *m_shared_axes)
            {
                // param_shape[axis - 1] = 1, with Python's indexing.
                const long p = axis - 1 < 0 ? axis - 1 + n : axis - 1;
                XK_CHECK(p >= 0 && p < n, value_error, where, ": shared_axes entry ", axis,
                         " is out of range for an input of rank ", input_shape.size(),
                         " (Keras sets param_shape[axis - 1] = 1: list assignment index out of range). Received: "
                         "shared_axes=",
                         python_repr(json(*m_shared_axes)), ", input shape ", shape_str(input_shape), ".");
                param[std::size_t(p)] = 1;
            }
        for (long p = 0; p < n; ++p)
            XK_CHECK(param[std::size_t(p)] >= 0, value_error, where,
                     ": the shape of the weight `alpha` must be fully defined, but axis ", p + 1,
                     " of the input shape ", shape_str(input_shape),
                     " is None and not shared. Give its size, or list it in shared_axes.");
        m_alpha = &this->add_weight("alpha", Shape(param.begin(), param.end()), m_alpha_initializer,
                                    m_alpha_regularizer, m_alpha_constraint);
    }

    template <class T>
    void PReLU<T>::check_input(const PartialShape& input_shape) const
    {
        const PartialShape& built = this->input_shape();
        XK_CHECK(input_shape.size() == built.size(), shape_error, "Input 0 of ", this->where(),
                 " is incompatible with the layer: expected ndim=", built.size(), ", found ndim=", input_shape.size(),
                 ". Full shape received: ", shape_str(input_shape), ".");
        // Keras's input spec: with shared axes, every axis not listed keeps its built extent.
        if (m_shared_axes && !m_shared_axes->empty())
            for (std::size_t i = 1; i < built.size(); ++i)
                XK_CHECK(listed_shared(long(i)) || built[i] < 0 || input_shape[i] < 0 || input_shape[i] == built[i],
                         shape_error, "Input 0 of ", this->where(), " is incompatible with the layer: expected axis ",
                         i, " of input shape to have value ", built[i], ", but received input with shape ",
                         shape_str(input_shape), ".");
        // And what TensorFlow's broadcasting of alpha against the input requires in any case.
        const Shape& alpha = m_alpha->variable.shape();
        for (std::size_t i = 1; i < input_shape.size(); ++i)
            XK_CHECK(alpha[i - 1] == 1 || input_shape[i] < 0 || std::size_t(input_shape[i]) == alpha[i - 1],
                     shape_error, "Input 0 of ", this->where(), " is incompatible with the layer: its weight alpha of shape ",
                     shape_str(alpha), " does not broadcast against the input shape ", shape_str(input_shape), ".");
    }

    template <class T>
    json PReLU<T>::get_config() const
    {
        json config = BasicLayer<T>::get_config();
        config["alpha_initializer"] = m_alpha_initializer_config;
        config["alpha_regularizer"] = serialize(m_alpha_regularizer);
        config["alpha_constraint"] = serialize(m_alpha_constraint);
        config["shared_axes"] = m_shared_axes ? json(*m_shared_axes) : json(nullptr);
        return config;
    }

    template <class T>
    Tensor<T> PReLU<T>::forward(const Tensor& x, LayerCache<T>&) const
    {
        const Tensor& alpha = m_alpha->variable.value();
        const AlphaLayout l = alpha_layout(shape_of(x), shape_of(alpha));
        const std::size_t batch = x.shape()[0], size = l.sample_size;
        Tensor y = Tensor::from_shape(x.shape());
        const T* in = x.data();
        const T* a = alpha.data();
        T* out = y.data();
        parallel_for(batch, std::max<std::size_t>(1, elementwise_grain / std::max<std::size_t>(size, 1)),
                     [&](std::size_t b0, std::size_t b1) {
                         for (std::size_t b = b0; b < b1; ++b)
                             walk_sample(l, [&](std::size_t j, std::size_t k) {
                                 const T v = in[b * size + j];
                                 // relu(x) - alpha * relu(-x): alpha * x below 0; 0 and NaN pass through.
                                 out[b * size + j] = v > T(0) ? v : (v < T(0) ? a[k] * v : v);
                             });
                     });
        return y;
    }

    template <class T>
    void PReLU<T>::backward(const Tensor& x, const Tensor& dz, const LayerCache<T>&, Tensor* dx)
    {
        const Tensor& alpha = m_alpha->variable.value();
        const AlphaLayout l = alpha_layout(shape_of(x), shape_of(alpha));
        const std::size_t batch = x.shape()[0], size = l.sample_size;
        const T* in = x.data();
        const T* g = dz.data();
        const T* a = alpha.data();
        if (dx)
        {
            T* out = dx->data();
            parallel_for(batch, std::max<std::size_t>(1, elementwise_grain / std::max<std::size_t>(size, 1)),
                         [&](std::size_t b0, std::size_t b1) {
                             for (std::size_t b = b0; b < b1; ++b)
                                 walk_sample(l, [&](std::size_t j, std::size_t k) {
                                     const T v = in[b * size + j];
                                     // ReluGrad of x plus alpha times ReluGrad of -x: 0 at x == 0.
                                     const T d = v > T(0) ? T(1) : (v < T(0) ? a[k] : T(0));
                                     out[b * size + j] += g[b * size + j] * d;
                                 });
                         });
        }
        if (Tensor* dalpha = this->grad_of(*m_alpha))
        {
            // d/dalpha of -alpha * relu(-x) is -relu(-x) = min(x, 0), summed over the batch and the shared axes.
            const std::size_t parts = std::min(batch, reduction_parts);
            std::vector<std::vector<double>> partial(parts, std::vector<double>(alpha.size(), 0.0));
            parallel_for(parts, 1, [&](std::size_t p0, std::size_t p1) {
                for (std::size_t p = p0; p < p1; ++p)
                    for (std::size_t b = batch * p / parts; b < batch * (p + 1) / parts; ++b)
                        walk_sample(l, [&](std::size_t j, std::size_t k) {
                            const T v = in[b * size + j];
                            if (v < T(0))
                                partial[p][k] += double(g[b * size + j]) * double(v);
                        });
            });
            T* out = dalpha->data();
            for (std::size_t k = 0; k < alpha.size(); ++k)
            {
                double total = 0.0;
                for (std::size_t p = 0; p < parts; ++p)
                    total += partial[p][k];
                out[k] += T(total);
            }
        }
    }

    // ---- ELU -------------------------------------------------------------------------------------------

    template <class T>
    ELU<T>::ELU(const json& config) : BasicLayer<T>(config, "ELU")
    {
        const std::string where = this->where();
        check_config_keys(config, where, {"alpha"});
        const json alpha = number_arg(config, "alpha", 1.0, where);
        XK_CHECK(!alpha.is_null(), value_error, where,
                 ": Alpha of an ELU layer cannot be None, expecting a float. Received: None");
        m_alpha = floatx(alpha.get<double>());
        m_elu = Activation::elu(m_alpha);
    }

    template <class T>
    json ELU<T>::get_config() const
    {
        json config = BasicLayer<T>::get_config();
        config["alpha"] = m_alpha;
        return config;
    }

    template <class T>
    Tensor<T> ELU<T>::forward(const Tensor& x, LayerCache<T>&) const
    {
        return m_elu.forward(x);
    }

    template <class T>
    void ELU<T>::backward(const Tensor& x, const Tensor& dz, const LayerCache<T>&, Tensor* dx)
    {
        if (dx)
            m_elu.backward(x, m_elu.forward(x), dz, *dx);
    }

    // ---- Softmax ---------------------------------------------------------------------------------------

    template <class T>
    Softmax<T>::Softmax(const json& config) : BasicLayer<T>(config, "Softmax")
    {
        const std::string where = this->where();
        check_config_keys(config, where, {"axis", "robust_masking"});
        m_axis_config = config.value("axis", json(-1));
        bool ok = m_axis_config.is_number_integer() || (m_axis_config.is_array() && !m_axis_config.empty());
        if (m_axis_config.is_number_integer())
            m_axes.push_back(m_axis_config.get<long>());
        else if (ok)
            for (const auto& a : m_axis_config)
            {
                ok = ok && a.is_number_integer();
                if (ok)
                    m_axes.push_back(a.get<long>());
            }
        XK_CHECK(ok, value_error, where, ": `axis` must be an integer or a non-empty list of integers. Received: axis=",
                 python_repr(m_axis_config), ".");
        try
        {
            m_robust_masking = config_value<bool>(config, "robust_masking", false);
        }
        catch (const value_error& e)
        {
            throw value_error(where + ": " + e.what());
        }
        if (!joint())
            m_softmax = Activation::softmax(m_axes[0]);
    }

    template <class T>
    json Softmax<T>::get_config() const
    {
        json config = BasicLayer<T>::get_config();
        config["axis"] = m_axis_config;
        if (m_robust_masking)
            config["robust_masking"] = true; // tf-keras writes it only when set
        return config;
    }

    template <class T>
    void Softmax<T>::check_input(const PartialShape& input_shape) const
    {
        const long rank = long(input_shape.size());
        if (!joint())
        {
            const long a = m_axes[0];
            XK_CHECK(a >= -rank && a < rank, shape_error, this->where(), ": `dim` must be in the range [", -rank, ", ",
                     rank, ") where ", rank, " is the number of dimensions in the input. Received: dim=", a);
            return;
        }
        for (long a : m_axes)
            XK_CHECK(a >= -rank && a < rank, shape_error, this->where(), ": Invalid reduction dimension ", a,
                     " for input with ", rank, " dimensions.");
    }

    template <class T>
    Tensor<T> Softmax<T>::joint_forward(const Tensor& x) const
    {
        // exp(x - reduce_logsumexp(x, axes, keepdims=True)); reduce_logsumexp subtracts the group's maximum
        // (0 when it is not finite) before summing.
        std::size_t groups = 0;
        const std::vector<std::size_t> group =
            group_of_elements(shape_of(x), reduced_axes(m_axes, x.dimension()), groups);
        const T* in = x.data();
        std::vector<T> top(groups, -std::numeric_limits<T>::infinity());
        for (std::size_t i = 0; i < x.size(); ++i)
            top[group[i]] = std::max(top[group[i]], in[i]);
        for (auto& m : top)
            m = std::isfinite(m) ? m : T(0);
        std::vector<double> sums(groups, 0.0);
        for (std::size_t i = 0; i < x.size(); ++i)
            sums[group[i]] += double(std::exp(in[i] - top[group[i]]));
        std::vector<T> lse(groups);
        for (std::size_t k = 0; k < groups; ++k)
            lse[k] = std::log(T(sums[k])) + top[k];
        Tensor y = Tensor::from_shape(x.shape());
        T* out = y.data();
        for (std::size_t i = 0; i < x.size(); ++i)
            out[i] = std::exp(in[i] - lse[group[i]]);
        return y;
    }

    template <class T>
    Tensor<T> Softmax<T>::forward(const Tensor& x, LayerCache<T>&) const
    {
        return joint() ? joint_forward(x) : m_softmax.forward(x);
    }

    template <class T>
    void Softmax<T>::backward(const Tensor& x, const Tensor& dz, const LayerCache<T>&, Tensor* dx)
    {
        if (!dx)
            return;
        if (!joint())
        {
            m_softmax.backward(x, m_softmax.forward(x), dz, *dx);
            return;
        }
        // dx = y * (dy - sum over the group of dy * y).
        const Tensor y = joint_forward(x);
        std::size_t groups = 0;
        const std::vector<std::size_t> group =
            group_of_elements(shape_of(x), reduced_axes(m_axes, x.dimension()), groups);
        const T* yy = y.data();
        const T* g = dz.data();
        std::vector<double> dot(groups, 0.0);
        for (std::size_t i = 0; i < y.size(); ++i)
            dot[group[i]] += double(g[i]) * double(yy[i]);
        T* out = dx->data();
        for (std::size_t i = 0; i < y.size(); ++i)
            out[i] += yy[i] * (g[i] - T(dot[group[i]]));
    }

    // ---- ThresholdedReLU -------------------------------------------------------------------------------

    template <class T>
    ThresholdedReLU<T>::ThresholdedReLU(const json& config) : BasicLayer<T>(config, "ThresholdedReLU")
    {
        const std::string where = this->where();
        check_config_keys(config, where, {"theta"});
        const json theta = number_arg(config, "theta", 1.0, where);
        XK_CHECK(!theta.is_null(), value_error, where,
                 ": Theta of a Thresholded ReLU layer cannot be None, expecting a float. Received: None");
        XK_CHECK(theta.get<double>() >= 0.0, value_error, where,
                 ": The theta value of a Thresholded ReLU layer should be >=0. Received: ", python_repr(theta));
        m_theta = floatx(theta.get<double>());
    }

    template <class T>
    json ThresholdedReLU<T>::get_config() const
    {
        json config = BasicLayer<T>::get_config();
        config["theta"] = m_theta;
        return config;
    }

    template <class T>
    json ThresholdedReLU<T>::keras3_config() const
    {
        // Keras 3 dropped the layer. ReLU(threshold=theta) differs at x == theta (theta there, 0 here), so it
        // is not offered silently in its place.
        throw value_error(this->where() + ": Keras 3 has no ThresholdedReLU layer, so a .keras file cannot hold "
                          "it. Save the model as .h5, or use ReLU(threshold=theta), which keeps x == theta.");
    }

    template <class T>
    Tensor<T> ThresholdedReLU<T>::forward(const Tensor& x, LayerCache<T>&) const
    {
        const T theta = T(m_theta);
        // inputs * cast(inputs > theta): -inf and NaN below the threshold give NaN, as in TensorFlow.
        return map_values(x, [theta](T v) { return v * (v > theta ? T(1) : T(0)); });
    }

    template <class T>
    void ThresholdedReLU<T>::backward(const Tensor& x, const Tensor& dz, const LayerCache<T>&, Tensor* dx)
    {
        const T theta = T(m_theta);
        if (dx)
            add_chain(x, dz, *dx, [theta](T v) { return v > theta ? T(1) : T(0); });
    }

    template class ReLU<float>;
    template class ReLU<double>;
    template class LeakyReLU<float>;
    template class LeakyReLU<double>;
    template class PReLU<float>;
    template class PReLU<double>;
    template class ELU<float>;
    template class ELU<double>;
    template class Softmax<float>;
    template class Softmax<double>;
    template class ThresholdedReLU<float>;
    template class ThresholdedReLU<double>;
}
