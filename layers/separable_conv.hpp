#pragma once
// SeparableConv1D, SeparableConv2D: a depthwise convolution (strides, padding, dilation apply here) followed
// by a 1x1 pointwise convolution mixing the channels.
//   depthwise_kernel: kernel_size + (input_channels, depth_multiplier)
//   pointwise_kernel: (1,)*rank + (input_channels*depth_multiplier, filters); bias: (filters,)
#include "layers/conv_base.hpp"

namespace xk
{
    template <class T>
    class SeparableConv : public ConvBase<T>
    {
    public:
        using Tensor = xk::Tensor<T>;

        SeparableConv(std::size_t rank, const json& config);

        std::string class_name() const override { return "SeparableConv" + std::to_string(this->m_args.rank) + "D"; }
        PartialShape compute_output_shape(const PartialShape& input_shape) const override;
        json get_config() const override;

    protected:
        void build_weights(const PartialShape& input_shape) override;
        Tensor forward_channels_last(const Tensor& x, const Shape& y_shape) const override;
        void backward_channels_last(const Tensor& x, const Tensor& dy, Tensor* dx) override;

    private:
        kernels::ConvGeometry depthwise_geometry(const Shape& x_last, const Shape& y_last) const;
        /// The depthwise stage's output, the pointwise stage's input.
        Tensor depthwise_output(const Tensor& x, const Shape& y_shape) const;
        kernels::ConvGeometry pointwise_geometry(const Shape& y_last) const;

        long m_filters = 0;
        long m_depth_multiplier = 1;
        InitializerPtr m_depthwise_initializer, m_pointwise_initializer;
        std::optional<Regularizer> m_depthwise_regularizer, m_pointwise_regularizer;
        std::optional<Constraint> m_depthwise_constraint, m_pointwise_constraint;
        Weight<T>* m_depthwise = nullptr;
        Weight<T>* m_pointwise = nullptr;
    };
}
