#pragma once
// Conv1D, Conv2D, Conv3D (Keras's Conv): y = activation(conv(x, kernel) + bias).
//   kernel: kernel_size + (input_channels / groups, filters); bias: (filters,)
//   with lora_rank (Keras 3): kernel + (lora_alpha / lora_rank) * lora_kernel_a . lora_kernel_b (framework/keras/lora.hpp)
//   output extent per spatial axis: ceil((n - (k-1)*d) / s) for "valid", ceil(n / s) for "same" and "causal".
#include "layers/conv_base.hpp"

namespace xk
{
    template <class T>
    class Conv : public ConvBase<T>
    {
    public:
        using Tensor = xk::Tensor<T>;

        /// rank 1, 2 or 3; `config` holds Keras's arguments (filters and kernel_size are required).
        Conv(std::size_t rank, const json& config);

        std::string class_name() const override { return "Conv" + std::to_string(this->m_args.rank) + "D"; }
        PartialShape compute_output_shape(const PartialShape& input_shape) const override;
        json get_config() const override;
        void enable_lora(long rank, std::optional<double> alpha = std::nullopt) override;

        long filters() const { return m_filters; }
        long groups() const { return m_groups; }

    protected:
        void build_weights(const PartialShape& input_shape) override;
        Tensor forward_channels_last(const Tensor& x, const Shape& y_shape) const override;
        void backward_channels_last(const Tensor& x, const Tensor& dy, Tensor* dx) override;

    private:
        long m_filters = 0;
        long m_groups = 1;
        InitializerPtr m_kernel_initializer;
        std::optional<Regularizer> m_kernel_regularizer;
        std::optional<Constraint> m_kernel_constraint;
        Weight<T>* m_kernel = nullptr;
    };
}
