#include "layers/conv_transpose.hpp"

namespace xk
{
    template <class T>
    ConvTranspose<T>::ConvTranspose(std::size_t rank, const json& config)
        : ConvBase<T>(config, "Conv" + std::to_string(rank) + "DTranspose", rank, false, nullptr,
                      {"filters", "output_padding", "groups", "kernel_initializer", "kernel_regularizer",
                       "kernel_constraint"})
    {
        m_filters = this->read_filters(config);
        // tf.keras 2.x transposed convolutions have no groups; older configs may still say groups=1.
        XK_CHECK(config_value<long>(config, "groups", 1) == 1, value_error, this->where(),
                 ": transposed convolutions do not support groups. Received groups=", config["groups"].dump(), ".");
        if (config.contains("output_padding") && !config["output_padding"].is_null())
        {
            m_output_padding = int_tuple(config["output_padding"], rank, "output_padding", /*allow_zero=*/true);
            for (std::size_t i = 0; i < rank; ++i)
                XK_CHECK((*m_output_padding)[i] < this->m_args.strides[i], value_error, this->where(),
                         ": strides must be greater than output padding. Received strides=",
                         json(this->m_args.strides).dump(), ", output_padding=", json(*m_output_padding).dump(),
                         ".");
        }
        m_kernel_initializer = get_initializer(config.value("kernel_initializer", json("glorot_uniform")));
        m_kernel_regularizer = get_regularizer(config.value("kernel_regularizer", json(nullptr)));
        m_kernel_constraint = get_constraint(config.value("kernel_constraint", json(nullptr)));
    }

    template <class T>
    PartialShape ConvTranspose<T>::compute_output_shape(const PartialShape& input_shape) const
    {
        conv::check_input_shape(this->where(), input_shape, this->m_args, std::nullopt);
        const auto& a = this->m_args;
        std::vector<long> spatial = this->spatial_of(input_shape);
        for (std::size_t i = 0; i < a.rank; ++i)
            spatial[i] = conv::deconv_output_length(
                spatial[i], a.kernel_size[i], a.padding,
                m_output_padding ? std::optional<long>((*m_output_padding)[i]) : std::nullopt, a.strides[i],
                a.dilation_rate[i]);
        // TensorFlow computes the transposed convolution as the gradient of the forward one, and refuses shapes
        // that forward convolution would not map back onto the input (e.g. "same" with an even kernel and
        // output_padding 0 at stride 1). Keras passes them through, so the error surfaces here.
        const std::vector<long> in_spatial = this->spatial_of(input_shape);
        for (std::size_t i = 0; i < a.rank; ++i)
        {
            if (in_spatial[i] < 0)
                continue;
            long back = conv::conv_output_length(spatial[i], a.kernel_size[i], a.padding, a.strides[i],
                                                 a.dilation_rate[i]);
            XK_CHECK(back == in_spatial[i], value_error, this->where(), ": output_padding=",
                     m_output_padding ? json(*m_output_padding).dump() : std::string("None"), " gives an output of length ",
                     spatial[i], " along spatial axis ", i, ", which a ", a.padding, " convolution with kernel ",
                     a.kernel_size[i], " and stride ", a.strides[i], " maps to length ", back, ", not to the input's ",
                     in_spatial[i], ". TensorFlow rejects this configuration; change output_padding or padding.");
        }
        return conv::assemble_shape(input_shape[0], spatial, m_filters, a);
    }

    template <class T>
    void ConvTranspose<T>::build_weights(const PartialShape& input_shape)
    {
        const auto& a = this->m_args;
        const long channels = this->channels_to_build(input_shape);
        Shape kernel_shape(a.kernel_size.begin(), a.kernel_size.end());
        kernel_shape.push_back(std::size_t(m_filters));
        kernel_shape.push_back(std::size_t(channels));
        m_kernel = &this->add_weight("kernel", kernel_shape, m_kernel_initializer, m_kernel_regularizer,
                                     m_kernel_constraint);
        this->add_bias(std::size_t(m_filters));
        this->m_input_channels = channels;
    }

    template <class T>
    json ConvTranspose<T>::get_config() const
    {
        json config = ConvBase<T>::get_config();
        config["filters"] = m_filters;
        config["output_padding"] = m_output_padding ? json(*m_output_padding) : json(nullptr);
        config["kernel_initializer"] = serialize(m_kernel_initializer);
        config["kernel_regularizer"] = serialize(m_kernel_regularizer);
        config["kernel_constraint"] = serialize(m_kernel_constraint);
        return config;
    }

    template <class T>
    kernels::ConvGeometry ConvTranspose<T>::adjoint_geometry(const Shape& x_last, const Shape& y_last) const
    {
        return this->geometry_between(y_last, x_last, x_last.back(), 1);
    }

    template <class T>
    Tensor<T> ConvTranspose<T>::forward_channels_last(const Tensor& x, const Shape& y_shape) const
    {
        Tensor y(y_shape, T(0));
        kernels::conv_backward_input(adjoint_geometry(shape_of(x), y_shape), x.data(),
                                     m_kernel->variable.value().data(), y.data());
        return y;
    }

    template <class T>
    void ConvTranspose<T>::backward_channels_last(const Tensor& x, const Tensor& dy, Tensor* dx)
    {
        auto g = adjoint_geometry(shape_of(x), shape_of(dy));
        if (Tensor* dk = this->grad_of(*m_kernel))
            kernels::conv_backward_kernel(g, dy.data(), x.data(), dk->data());
        if (dx)
        {
            Tensor forward = Tensor::from_shape(x.shape());
            kernels::conv_forward(g, dy.data(), m_kernel->variable.value().data(), forward.data());
            *dx += forward;
        }
    }

    template class ConvTranspose<float>;
    template class ConvTranspose<double>;
}
