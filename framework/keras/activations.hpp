#pragma once
// Keras activations (tf.keras 2.x formulas), as values: a layer holds one and the tape differentiates it.
#include "framework/keras/config.hpp"
#include "framework/keras/registry.hpp"
#include "framework/engine/tensor.hpp"

#include <optional>
#include <string>

namespace xk
{
    class Activation
    {
    public:
        enum class Kind
        {
            Linear,
            Relu,
            Sigmoid,
            HardSigmoid,
            Tanh,
            Softmax,
            Softplus,
            Softsign,
            Elu,
            Selu,
            Exponential,
            Swish,
            Gelu,
            Mish
        };

        /// Linear (identity).
        Activation() = default;

        static Activation linear() { return Activation(); }
        /// Keras relu(x, alpha, max_value, threshold): x above the threshold (clipped at max_value),
        /// alpha * (x - threshold) below it.
        static Activation relu(double alpha = 0.0, std::optional<double> max_value = std::nullopt,
                               double threshold = 0.0);
        static Activation softmax(long axis = -1);
        static Activation elu(double alpha = 1.0);
        static Activation gelu(bool approximate = false);
        static Activation of(Kind kind, std::string name);

        Kind kind() const { return m_kind; }
        bool is_linear() const { return m_kind == Kind::Linear; }
        /// The name Keras serializes in a layer config ("relu", "softmax", "linear", ...).
        const std::string& name() const { return m_name; }

        /// y = f(z), elementwise (softmax: along `axis`).
        template <class T>
        Tensor<T> forward(const Tensor<T>& z) const;

        /// dz += dy * f'(z); `y` is forward(z), which several derivatives reuse.
        template <class T>
        void backward(const Tensor<T>& z, const Tensor<T>& y, const Tensor<T>& dy, Tensor<T>& dz) const;

    private:
        Kind m_kind = Kind::Linear;
        std::string m_name = "linear";
        double m_alpha = 0.0;
        std::optional<double> m_max_value;
        double m_threshold = 0.0;
        long m_axis = -1;
        bool m_approximate = false;
    };

    /// A Keras activation identifier: a name ("relu"), null (linear), or {"class_name": name, "config": {}}
    /// as some Keras versions write it.
    Activation get_activation(const json& identifier);
    /// The config value Keras writes: the activation's name.
    json serialize(const Activation& activation);

    Registry<Activation>& activation_registry();
}
