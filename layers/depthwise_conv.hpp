#pragma once
// DepthwiseConv1D, DepthwiseConv2D: each input channel c is convolved with its own depth_multiplier filters;
// output channel c*depth_multiplier + m.
//   depthwise_kernel: kernel_size + (input_channels, depth_multiplier); bias: (input_channels*depth_multiplier,)
#include "layers/conv_base.hpp"

namespace xk
{
    template <class T>
    class DepthwiseConv : public ConvBase<T>
    {
    public:
        using Tensor = xk::Tensor<T>;

        DepthwiseConv(std::size_t rank, const json& config);

        std::string class_name() const override { return "DepthwiseConv" + std::to_string(this->m_args.rank) + "D"; }
        PartialShape compute_output_shape(const PartialShape& input_shape) const override;
        json get_config() const override;

    protected:
        void build_weights(const PartialShape& input_shape) override;
        Tensor forward_channels_last(const Tensor& x, const Shape& y_shape) const override;
        void backward_channels_last(const Tensor& x, const Tensor& dy, Tensor* dx) override;

    private:
        long m_depth_multiplier = 1;
        InitializerPtr m_depthwise_initializer;
        std::optional<Regularizer> m_depthwise_regularizer;
        std::optional<Constraint> m_depthwise_constraint;
        Weight<T>* m_kernel = nullptr;
    };
}
