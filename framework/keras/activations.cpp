#include "framework/keras/activations.hpp"
#include "framework/engine/parallel.hpp"

#include <cmath>

namespace xk
{
    namespace
    {
        // tf.keras 2.x selu constants.
        constexpr double selu_alpha = 1.6732632423543772848170429916717;
        constexpr double selu_scale = 1.0507009873554804934193349852946;
        constexpr double sqrt_2_over_pi = 0.7978845608028654;
        constexpr std::size_t elementwise_grain = 1 << 15;
        constexpr double inv_sqrt_2 = 0.7071067811865476;
        constexpr double inv_sqrt_2pi = 0.3989422804014327;

        template <class T>
        T sigmoid(T x)
        {
            // Stable for large |x| in both directions.
            if (x >= 0)
                return T(1) / (T(1) + std::exp(-x));
            T e = std::exp(x);
            return e / (T(1) + e);
        }

        template <class T>
        T softplus(T x)
        {
            return std::max(x, T(0)) + std::log1p(std::exp(-std::abs(x)));
        }

        /// The softmax axis as outer x axis x inner blocks of a row-major tensor.
        struct AxisBlocks
        {
            std::size_t outer = 1, length = 1, inner = 1;
        };

        AxisBlocks axis_blocks(const Shape& shape, long axis)
        {
            long rank = long(shape.size());
            long a = axis < 0 ? axis + rank : axis;
            XK_CHECK(rank > 0 && a >= 0 && a < rank, value_error, "softmax axis ", axis,
                     " is out of range for a tensor of shape ", shape_str(shape), ".");
            AxisBlocks b;
            for (long i = 0; i < a; ++i)
                b.outer *= shape[i];
            b.length = shape[a];
            for (long i = a + 1; i < rank; ++i)
                b.inner *= shape[i];
            return b;
        }
    }

    Activation Activation::relu(double alpha, std::optional<double> max_value, double threshold)
    {
        Activation a = of(Kind::Relu, "relu");
        a.m_alpha = alpha;
        a.m_max_value = max_value;
        a.m_threshold = threshold;
        return a;
    }

    Activation Activation::softmax(long axis)
    {
        Activation a = of(Kind::Softmax, "softmax");
        a.m_axis = axis;
        return a;
    }

    Activation Activation::elu(double alpha)
    {
        Activation a = of(Kind::Elu, "elu");
        a.m_alpha = alpha;
        return a;
    }

    Activation Activation::gelu(bool approximate)
    {
        Activation a = of(Kind::Gelu, "gelu");
        a.m_approximate = approximate;
        return a;
    }

    Activation Activation::of(Kind kind, std::string name)
    {
        Activation a;
        a.m_kind = kind;
        a.m_name = std::move(name);
        if (kind == Kind::Elu)
            a.m_alpha = 1.0;
        return a;
    }

    template <class T>
    Tensor<T> Activation::forward(const Tensor<T>& z) const
    {
        if (m_kind == Kind::Softmax)
        {
            Tensor<T> y = Tensor<T>::from_shape(z.shape());
            AxisBlocks b = axis_blocks(shape_of(z), m_axis);
            for (std::size_t o = 0; o < b.outer; ++o)
                for (std::size_t i = 0; i < b.inner; ++i)
                {
                    const T* src = z.data() + o * b.length * b.inner + i;
                    T* dst = y.data() + o * b.length * b.inner + i;
                    T top = src[0];
                    for (std::size_t k = 1; k < b.length; ++k)
                        top = std::max(top, src[k * b.inner]);
                    T total = 0;
                    for (std::size_t k = 0; k < b.length; ++k)
                        total += dst[k * b.inner] = std::exp(src[k * b.inner] - top);
                    for (std::size_t k = 0; k < b.length; ++k)
                        dst[k * b.inner] /= total;
                }
            return y;
        }

        Tensor<T> y = Tensor<T>::from_shape(z.shape());
        const T* in = z.data();
        T* out = y.data();
        const std::size_t n = z.size();
        // Element-wise over a whole activation tensor: chunks large enough to amortise a task.
        auto map = [&](auto f) {
            parallel_for(n, elementwise_grain, [&](std::size_t i0, std::size_t i1) {
                for (std::size_t i = i0; i < i1; ++i)
                    out[i] = f(in[i]);
            });
        };
        const T alpha = T(m_alpha), threshold = T(m_threshold);
        switch (m_kind)
        {
        case Kind::Linear:
            map([](T x) { return x; });
            break;
        case Kind::Relu:
        {
            const bool clip = m_max_value.has_value();
            const T max_value = T(m_max_value.value_or(0.0));
            map([&](T x) {
                // NaN passes through, as in TensorFlow, so a diverging model is noticed instead of hidden.
                T pos = (x > threshold || std::isnan(x)) ? x : T(0);
                if (clip)
                    pos = std::min(std::max(pos, T(0)), max_value);
                T neg = alpha != T(0) ? alpha * std::max(threshold - x, T(0)) : T(0);
                return pos - neg;
            });
            break;
        }
        case Kind::Sigmoid:
            map([](T x) { return sigmoid(x); });
            break;
        case Kind::HardSigmoid:
            map([](T x) { return std::min(std::max(T(0.2) * x + T(0.5), T(0)), T(1)); });
            break;
        case Kind::Tanh:
            map([](T x) { return std::tanh(x); });
            break;
        case Kind::Softplus:
            map([](T x) { return softplus(x); });
            break;
        case Kind::Softsign:
            map([](T x) { return x / (T(1) + std::abs(x)); });
            break;
        case Kind::Elu:
            map([&](T x) { return x > 0 ? x : alpha * std::expm1(x); });
            break;
        case Kind::Selu:
            map([](T x) { return T(selu_scale) * (x > 0 ? x : T(selu_alpha) * std::expm1(x)); });
            break;
        case Kind::Exponential:
            map([](T x) { return std::exp(x); });
            break;
        case Kind::Swish:
            map([](T x) { return x * sigmoid(x); });
            break;
        case Kind::Gelu:
            if (m_approximate)
                map([](T x) {
                    return T(0.5) * x * (T(1) + std::tanh(T(sqrt_2_over_pi) * (x + T(0.044715) * x * x * x)));
                });
            else
                map([](T x) { return T(0.5) * x * (T(1) + std::erf(x * T(inv_sqrt_2))); });
            break;
        case Kind::Mish:
            map([](T x) { return x * std::tanh(softplus(x)); });
            break;
        case Kind::Softmax:
            break;
        }
        return y;
    }

    template <class T>
    void Activation::backward(const Tensor<T>& z, const Tensor<T>& y, const Tensor<T>& dy, Tensor<T>& dz) const
    {
        if (m_kind == Kind::Softmax)
        {
            // dz = y * (dy - sum(dy * y)) along the axis.
            AxisBlocks b = axis_blocks(shape_of(z), m_axis);
            for (std::size_t o = 0; o < b.outer; ++o)
                for (std::size_t i = 0; i < b.inner; ++i)
                {
                    std::size_t base = o * b.length * b.inner + i;
                    const T* yy = y.data() + base;
                    const T* g = dy.data() + base;
                    T* out = dz.data() + base;
                    T dot = 0;
                    for (std::size_t k = 0; k < b.length; ++k)
                        dot += g[k * b.inner] * yy[k * b.inner];
                    for (std::size_t k = 0; k < b.length; ++k)
                        out[k * b.inner] += yy[k * b.inner] * (g[k * b.inner] - dot);
                }
            return;
        }

        const T* zz = z.data();
        const T* yy = y.data();
        const T* g = dy.data();
        T* out = dz.data();
        const std::size_t n = z.size();
        // f'(z) from z and y; each lambda gets (z_i, y_i).
        auto chain = [&](auto derivative) {
            parallel_for(n, elementwise_grain, [&](std::size_t i0, std::size_t i1) {
                for (std::size_t i = i0; i < i1; ++i)
                    out[i] += g[i] * derivative(zz[i], yy[i]);
            });
        };
        const T alpha = T(m_alpha), threshold = T(m_threshold);
        switch (m_kind)
        {
        case Kind::Linear:
            chain([](T, T) { return T(1); });
            break;
        case Kind::Relu:
        {
            const bool clip = m_max_value.has_value();
            const T max_value = T(m_max_value.value_or(0.0));
            chain([&](T x, T) {
                T d = (x > threshold && (!clip || x < max_value)) ? T(1) : T(0);
                if (alpha != T(0) && x < threshold)
                    d += alpha;
                return d;
            });
            break;
        }
        case Kind::Sigmoid:
            chain([](T, T s) { return s * (T(1) - s); });
            break;
        case Kind::HardSigmoid:
            chain([](T x, T) {
                T v = T(0.2) * x + T(0.5);
                return (v > 0 && v < 1) ? T(0.2) : T(0);
            });
            break;
        case Kind::Tanh:
            chain([](T, T t) { return T(1) - t * t; });
            break;
        case Kind::Softplus:
            chain([](T x, T) { return sigmoid(x); });
            break;
        case Kind::Softsign:
            chain([](T x, T) {
                T d = T(1) + std::abs(x);
                return T(1) / (d * d);
            });
            break;
        case Kind::Elu:
            chain([&](T x, T) { return x > 0 ? T(1) : alpha * std::exp(x); });
            break;
        case Kind::Selu:
            chain([](T x, T) { return T(selu_scale) * (x > 0 ? T(1) : T(selu_alpha) * std::exp(x)); });
            break;
        case Kind::Exponential:
            chain([](T, T e) { return e; });
            break;
        case Kind::Swish:
            chain([](T x, T) {
                T s = sigmoid(x);
                return s * (T(1) + x * (T(1) - s));
            });
            break;
        case Kind::Gelu:
            if (m_approximate)
                chain([](T x, T) {
                    T u = T(sqrt_2_over_pi) * (x + T(0.044715) * x * x * x);
                    T t = std::tanh(u);
                    T du = T(sqrt_2_over_pi) * (T(1) + T(3 * 0.044715) * x * x);
                    return T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * du;
                });
            else
                chain([](T x, T) {
                    return T(0.5) * (T(1) + std::erf(x * T(inv_sqrt_2))) + x * T(inv_sqrt_2pi) * std::exp(-x * x / 2);
                });
            break;
        case Kind::Mish:
            chain([](T x, T) {
                T sp = softplus(x);
                T t = std::tanh(sp);
                return t + x * (T(1) - t * t) * sigmoid(x);
            });
            break;
        case Kind::Softmax:
            break;
        }
    }

    Registry<Activation>& activation_registry()
    {
        static Registry<Activation> registry = [] {
            Registry<Activation> r("activation");
            using K = Activation::Kind;
            auto add = [&r](const std::string& name, K kind) {
                r.add(name, [kind, name] { return Activation::of(kind, name); });
            };
            add("linear", K::Linear);
            add("relu", K::Relu);
            add("sigmoid", K::Sigmoid);
            add("hard_sigmoid", K::HardSigmoid);
            add("tanh", K::Tanh);
            add("softmax", K::Softmax);
            add("softplus", K::Softplus);
            add("softsign", K::Softsign);
            add("elu", K::Elu);
            add("selu", K::Selu);
            add("exponential", K::Exponential);
            add("swish", K::Swish);
            add("silu", K::Swish);
            add("gelu", K::Gelu);
            add("mish", K::Mish);
            return r;
        }();
        return registry;
    }

    Activation get_activation(const json& identifier)
    {
        if (identifier.is_null())
            return Activation::linear();
        if (identifier.is_string())
            return activation_registry().create(identifier.get<std::string>());
        if (identifier.is_object() && identifier.contains("class_name") && identifier["class_name"].is_string())
        {
            // Keras 3 may write {"class_name": "function", "config": "relu", ...}; older forms name it directly.
            std::string name = identifier["class_name"];
            if ((name == "function" || name == "Activation") && identifier.contains("config") &&
                identifier["config"].is_string())
                name = identifier["config"].get<std::string>();
            return activation_registry().create(name);
        }
        throw value_error("Could not interpret activation function identifier: " + identifier.dump() + ".");
    }

    json serialize(const Activation& activation) { return activation.name(); }

    template Tensor<float> Activation::forward(const Tensor<float>&) const;
    template Tensor<double> Activation::forward(const Tensor<double>&) const;
    template void Activation::backward(const Tensor<float>&, const Tensor<float>&, const Tensor<float>&,
                                       Tensor<float>&) const;
    template void Activation::backward(const Tensor<double>&, const Tensor<double>&, const Tensor<double>&,
                                       Tensor<double>&) const;
}
