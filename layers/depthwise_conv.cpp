#include "layers/depthwise_conv.hpp"

namespace xk
{
    template <class T>
    DepthwiseConv<T>::DepthwiseConv(std::size_t rank, const json& config)
        : ConvBase<T>(config, "DepthwiseConv" + std::to_string(rank) + "D", rank, false, nullptr,
                      {"depth_multiplier", "groups", "depthwise_initializer", "depthwise_regularizer",
                       "depthwise_constraint"})
    {
        m_depth_multiplier = config_value<long>(config, "depth_multiplier", 1);
        XK_CHECK(m_depth_multiplier > 0, value_error, this->where(),
                 ": invalid value for argument `depth_multiplier`. Expected a strictly positive value. Received "
                 "depth_multiplier=",
                 m_depth_multiplier, ".");
        // Some TF 2.x versions wrote groups=1 into DepthwiseConv2D configs: accepted, it changes nothing.
        XK_CHECK(config_value<long>(config, "groups", 1) == 1, value_error, this->where(),
                 ": depthwise convolutions do not take groups. Received groups=", config["groups"].dump(), ".");
        m_depthwise_initializer = get_initializer(config.value("depthwise_initializer", json("glorot_uniform")));
        m_depthwise_regularizer = get_regularizer(config.value("depthwise_regularizer", json(nullptr)));
        m_depthwise_constraint = get_constraint(config.value("depthwise_constraint", json(nullptr)));
    }

    template <class T>
    PartialShape DepthwiseConv<T>::compute_output_shape(const PartialShape& input_shape) const
    {
        const std::vector<long> spatial = this->windowed_spatial(input_shape);
        const long channels = input_shape[this->m_args.channel_axis()];
        return conv::assemble_shape(input_shape[0], spatial, channels < 0 ? -1 : channels * m_depth_multiplier,
                                    this->m_args);
    }

    template <class T>
    void DepthwiseConv<T>::build_weights(const PartialShape& input_shape)
    {
        const auto& a = this->m_args;
        const long channels = this->channels_to_build(input_shape);
        Shape kernel_shape(a.kernel_size.begin(), a.kernel_size.end());
        kernel_shape.push_back(std::size_t(channels));
        kernel_shape.push_back(std::size_t(m_depth_multiplier));
        m_kernel = &this->add_weight("depthwise_kernel", kernel_shape, m_depthwise_initializer,
                                     m_depthwise_regularizer, m_depthwise_constraint);
        this->add_bias(std::size_t(channels * m_depth_multiplier));
        this->m_input_channels = channels;
    }

    template <class T>
    json DepthwiseConv<T>::get_config() const
    {
        json config = ConvBase<T>::get_config();
        config["depth_multiplier"] = m_depth_multiplier;
        config["depthwise_initializer"] = serialize(m_depthwise_initializer);
        config["depthwise_regularizer"] = serialize(m_depthwise_regularizer);
        config["depthwise_constraint"] = serialize(m_depthwise_constraint);
        return config;
    }

    template <class T>
    Tensor<T> DepthwiseConv<T>::forward_channels_last(const Tensor& x, const Shape& y_shape) const
    {
        Tensor y = Tensor::from_shape(y_shape);
        kernels::depthwise_forward(this->geometry_between(shape_of(x), y_shape, y_shape.back(), x.shape().back()), x.data(),
                                   m_kernel->variable.value().data(), y.data());
        return y;
    }

    template <class T>
    void DepthwiseConv<T>::backward_channels_last(const Tensor& x, const Tensor& dy, Tensor* dx)
    {
        auto g = this->geometry_between(shape_of(x), shape_of(dy), dy.shape().back(), x.shape().back());
        if (Tensor* dk = this->grad_of(*m_kernel))
            kernels::depthwise_backward_kernel(g, x.data(), dy.data(), dk->data());
        if (dx)
            kernels::depthwise_backward_input(g, dy.data(), m_kernel->variable.value().data(), dx->data());
    }

    template class DepthwiseConv<float>;
    template class DepthwiseConv<double>;
}
