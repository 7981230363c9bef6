#pragma once
// Dense (Keras's Dense): y = activation(x . kernel + bias) over the last axis.
//   kernel: (input_dim, units); bias: (units,)
//   with lora_rank (Keras 3): kernel + (lora_alpha / lora_rank) * lora_kernel_a . lora_kernel_b (framework/keras/lora.hpp)
//   input (batch, ..., input_dim) of rank >= 2 -> output (batch, ..., units): on rank > 2 inputs tf.keras 2.x
//   takes tf.tensordot over the last axis, which is the same product on the rows of the flattened leading axes.
#include "framework/keras/layer.hpp"

namespace xk
{
    template <class T>
    class Dense : public BasicLayer<T>
    {
    public:
        using Tensor = xk::Tensor<T>;

        /// `config` holds Keras's arguments (units is required).
        explicit Dense(const json& config);

        std::string class_name() const override { return "Dense"; }
        PartialShape compute_output_shape(const PartialShape& input_shape) const override;
        json get_config() const override;
        void enable_lora(long rank, std::optional<double> alpha = std::nullopt) override;

        long units() const { return m_units; }
        bool use_bias() const { return m_use_bias; }

    protected:
        void build_weights(const PartialShape& input_shape) override;
        void check_input(const PartialShape& input_shape) const override;
        Tensor forward(const Tensor& x, LayerCache<T>& cache) const override;
        void backward(const Tensor& x, const Tensor& dz, const LayerCache<T>& cache, Tensor* dx) override;

    private:
        long m_units = 0;
        bool m_use_bias = true;
        InitializerPtr m_kernel_initializer;
        InitializerPtr m_bias_initializer;
        std::optional<Regularizer> m_kernel_regularizer;
        std::optional<Regularizer> m_bias_regularizer;
        std::optional<Constraint> m_kernel_constraint;
        std::optional<Constraint> m_bias_constraint;
        std::optional<long> m_input_dim; // set by build
        Weight<T>* m_kernel = nullptr;
        Weight<T>* m_bias = nullptr;
    };
}
