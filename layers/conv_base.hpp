#pragma once
// The shared half of every convolution layer (Keras's base_conv): spatial arguments, activation, the bias
// trio, and the trip to channels_last and back around the kernels. A derived layer says how many output
// channels it has, creates its own weights, and computes its product on channels_last tensors.
#include "framework/keras/layer.hpp"
#include "layers/conv_utils.hpp"

namespace xk
{
    template <class T>
    class ConvBase : public BasicLayer<T>
    {
    public:
        using Tensor = xk::Tensor<T>;

        const conv::SpatialArgs& spatial_args() const { return m_args; }
        bool use_bias() const { return m_use_bias; }

        json get_config() const override;

    protected:
        /// `keys` are the layer's own config keys beyond the shared ones.
        ConvBase(const json& config, const std::string& class_name, std::size_t rank, bool allow_causal,
                 const json& data_format_default, const std::vector<std::string>& keys);

        /// The convolution on channels_last data, without bias; `y_shape` is the channels_last output shape.
        virtual Tensor forward_channels_last(const Tensor& x, const Shape& y_shape) const = 0;
        /// Adds the input gradient into dx (when given) and the weight gradients, all channels_last.
        virtual void backward_channels_last(const Tensor& x, const Tensor& dy, Tensor* dx) = 0;

        /// Creates the bias (after the layer's kernels, so weights keep Keras's order).
        void add_bias(std::size_t channels);
        /// The channel count the built layer expects (for check_input).
        std::optional<long> m_input_channels;

        void check_input(const PartialShape& input_shape) const override;
        Tensor forward(const Tensor& x, LayerCache<T>& cache) const override;
        void backward(const Tensor& x, const Tensor& dz, const LayerCache<T>& cache, Tensor* dx) override;

        /// Reads the required `filters` argument (a strictly positive integer).
        long read_filters(const json& config) const;
        /// Output extents of a strided, padded, dilated window over each spatial axis of `input_shape`.
        std::vector<long> windowed_spatial(const PartialShape& input_shape) const;
        /// Checks the input shape at build time and returns its (defined) channel count.
        long channels_to_build(const PartialShape& input_shape) const;

        /// The kernel geometry of a convolution from channels_last `from` (its channels are the input
        /// channels) to channels_last `to` (spatial extents only), with `out_channels` and `groups`.
        kernels::ConvGeometry geometry_between(const Shape& from, const Shape& to, std::size_t out_channels,
                                               std::size_t groups) const;

        /// Spatial extents of a batch-first shape in the layer's data format.
        std::vector<long> spatial_of(const PartialShape& shape) const;
        std::vector<long> spatial_of(const Shape& shape) const;

        conv::SpatialArgs m_args;
        bool m_use_bias = true;
        InitializerPtr m_bias_initializer;
        std::optional<Regularizer> m_bias_regularizer;
        std::optional<Constraint> m_bias_constraint;
        Weight<T>* m_bias = nullptr;
    };
}
