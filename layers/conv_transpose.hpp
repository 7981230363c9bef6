#pragma once
// Conv1DTranspose, Conv2DTranspose, Conv3DTranspose: the adjoint (gradient with respect to the input) of a
// convolution, so its forward is that convolution's backward-to-input and the other way round.
//   kernel: kernel_size + (filters, input_channels)   (the last two axes swapped compared with Conv)
//   output extent: Keras's deconv_output_length, e.g. n*s + max(k_eff - s, 0) for "valid" without
//   output_padding, (n-1)*s + k_eff - 2*(k_eff/2 for "same") + output_padding with it.
#include "layers/conv_base.hpp"

namespace xk
{
    template <class T>
    class ConvTranspose : public ConvBase<T>
    {
    public:
        using Tensor = xk::Tensor<T>;

        ConvTranspose(std::size_t rank, const json& config);

        std::string class_name() const override { return "Conv" + std::to_string(this->m_args.rank) + "DTranspose"; }
        PartialShape compute_output_shape(const PartialShape& input_shape) const override;
        json get_config() const override;

    protected:
        void build_weights(const PartialShape& input_shape) override;
        Tensor forward_channels_last(const Tensor& x, const Shape& y_shape) const override;
        void backward_channels_last(const Tensor& x, const Tensor& dy, Tensor* dx) override;

    private:
        /// The forward convolution whose adjoint this layer is: from our output back to our input.
        kernels::ConvGeometry adjoint_geometry(const Shape& x_last, const Shape& y_last) const;

        long m_filters = 0;
        std::optional<std::vector<long>> m_output_padding;
        InitializerPtr m_kernel_initializer;
        std::optional<Regularizer> m_kernel_regularizer;
        std::optional<Constraint> m_kernel_constraint;
        Weight<T>* m_kernel = nullptr;
    };
}
