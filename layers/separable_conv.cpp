#include "layers/separable_conv.hpp"
#include "framework/engine/kernels/conv.hpp"

namespace xk
{
    template <class T>
    SeparableConv<T>::SeparableConv(std::size_t rank, const json& config)
        : ConvBase<T>(config, "SeparableConv" + std::to_string(rank) + "D", rank, rank == 1, nullptr,
                      {"filters", "depth_multiplier", "depthwise_initializer", "depthwise_regularizer",
                       "depthwise_constraint", "pointwise_initializer", "pointwise_regularizer",
                       "pointwise_constraint"})
    {
        m_filters = this->read_filters(config);
        m_depth_multiplier = config_value<long>(config, "depth_multiplier", 1);
        XK_CHECK(m_depth_multiplier > 0, value_error, this->where(),
                 ": invalid value for argument `depth_multiplier`. Expected a strictly positive value. Received "
                 "depth_multiplier=",
                 m_depth_multiplier, ".");
        m_depthwise_initializer = get_initializer(config.value("depthwise_initializer", json("glorot_uniform")));
        m_depthwise_regularizer = get_regularizer(config.value("depthwise_regularizer", json(nullptr)));
        m_depthwise_constraint = get_constraint(config.value("depthwise_constraint", json(nullptr)));
        m_pointwise_initializer = get_initializer(config.value("pointwise_initializer", json("glorot_uniform")));
        m_pointwise_regularizer = get_regularizer(config.value("pointwise_regularizer", json(nullptr)));
        m_pointwise_constraint = get_constraint(config.value("pointwise_constraint", json(nullptr)));
    }

    template <class T>
    PartialShape SeparableConv<T>::compute_output_shape(const PartialShape& input_shape) const
    {
        return conv::assemble_shape(input_shape[0], this->windowed_spatial(input_shape), m_filters, this->m_args);
    }

    template <class T>
    void SeparableConv<T>::build_weights(const PartialShape& input_shape)
    {
        const auto& a = this->m_args;
        const long channels = this->channels_to_build(input_shape);
        Shape depthwise_shape(a.kernel_size.begin(), a.kernel_size.end());
        depthwise_shape.push_back(std::size_t(channels));
        depthwise_shape.push_back(std::size_t(m_depth_multiplier));
        Shape pointwise_shape(a.rank, 1);
        pointwise_shape.push_back(std::size_t(channels * m_depth_multiplier));
        pointwise_shape.push_back(std::size_t(m_filters));
        m_depthwise = &this->add_weight("depthwise_kernel", depthwise_shape, m_depthwise_initializer,
                                        m_depthwise_regularizer, m_depthwise_constraint);
        m_pointwise = &this->add_weight("pointwise_kernel", pointwise_shape, m_pointwise_initializer,
                                        m_pointwise_regularizer, m_pointwise_constraint);
        this->add_bias(std::size_t(m_filters));
        this->m_input_channels = channels;
    }

    template <class T>
    json SeparableConv<T>::get_config() const
    {
        json config = ConvBase<T>::get_config();
        config["filters"] = m_filters;
        config["depth_multiplier"] = m_depth_multiplier;
        config["depthwise_initializer"] = serialize(m_depthwise_initializer);
        config["depthwise_regularizer"] = serialize(m_depthwise_regularizer);
        config["depthwise_constraint"] = serialize(m_depthwise_constraint);
        config["pointwise_initializer"] = serialize(m_pointwise_initializer);
        config["pointwise_regularizer"] = serialize(m_pointwise_regularizer);
        config["pointwise_constraint"] = serialize(m_pointwise_constraint);
        return config;
    }

    template <class T>
    kernels::ConvGeometry SeparableConv<T>::depthwise_geometry(const Shape& x_last, const Shape& y_last) const
    {
        const std::size_t channels = x_last.back();
        return this->geometry_between(x_last, y_last, channels * std::size_t(m_depth_multiplier), channels);
    }

    template <class T>
    Tensor<T> SeparableConv<T>::depthwise_output(const Tensor& x, const Shape& y_shape) const
    {
        Shape mid_shape = y_shape;
        mid_shape.back() = x.shape().back() * std::size_t(m_depth_multiplier);
        Tensor mid = Tensor::from_shape(mid_shape);
        kernels::depthwise_forward(depthwise_geometry(shape_of(x), y_shape), x.data(),
                                   m_depthwise->variable.value().data(), mid.data());
        return mid;
    }

    template <class T>
    kernels::ConvGeometry SeparableConv<T>::pointwise_geometry(const Shape& y_last) const
    {
        // The pointwise stage as a 1x1 convolution over all output pixels: the convolution kernels run it as
        // row tiles of one product in parallel (and the kernel gradient as per-thread partial sums).
        kernels::ConvGeometry g;
        g.batch = 1;
        g.in[2] = g.out[2] = shape_size(y_last) / y_last.back();
        g.in_channels = m_pointwise->variable.shape()[this->m_args.rank];
        g.out_channels = std::size_t(m_filters);
        return g;
    }

    template <class T>
    Tensor<T> SeparableConv<T>::forward_channels_last(const Tensor& x, const Shape& y_shape) const
    {
        Tensor mid = depthwise_output(x, y_shape);
        Tensor y = Tensor::from_shape(y_shape);
        kernels::conv_forward(pointwise_geometry(y_shape), mid.data(), m_pointwise->variable.value().data(), y.data());
        return y;
    }

    template <class T>
    void SeparableConv<T>::backward_channels_last(const Tensor& x, const Tensor& dy, Tensor* dx)
    {
        // The depthwise output is recomputed rather than cached: it costs one cheap depthwise pass.
        Tensor mid = depthwise_output(x, shape_of(dy));
        const auto pg = pointwise_geometry(shape_of(dy));
        if (Tensor* dp = this->grad_of(*m_pointwise))
            kernels::conv_backward_kernel(pg, mid.data(), dy.data(), dp->data());
        Tensor* dk = this->grad_of(*m_depthwise);
        if (!dk && !dx)
            return;
        // dmid reuses mid's storage: mid is not needed once the pointwise kernel gradient is taken.
        Tensor dmid = std::move(mid);
        std::fill(dmid.begin(), dmid.end(), T(0));
        kernels::conv_backward_input(pg, dy.data(), m_pointwise->variable.value().data(), dmid.data());
        auto g = depthwise_geometry(shape_of(x), shape_of(dy));
        if (dk)
            kernels::depthwise_backward_kernel(g, x.data(), dmid.data(), dk->data());
        if (dx)
            kernels::depthwise_backward_input(g, dmid.data(), m_depthwise->variable.value().data(), dx->data());
    }

    template class SeparableConv<float>;
    template class SeparableConv<double>;
}
