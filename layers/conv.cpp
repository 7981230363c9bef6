#include "layers/conv.hpp"

namespace xk
{
    namespace
    {
        // Conv1D's signature defaults to channels_last; Conv2D/3D to image_data_format().
        json default_format(std::size_t rank) { return rank == 1 ? json("channels_last") : json(nullptr); }
    }

    template <class T>
    Conv<T>::Conv(std::size_t rank, const json& config)
        : ConvBase<T>(config, "Conv" + std::to_string(rank) + "D", rank, rank == 1, default_format(rank),
                      {"filters", "groups", "kernel_initializer", "kernel_regularizer", "kernel_constraint",
                       "lora_rank", "lora_alpha"})
    {
        this->m_lora_options = LoraOptions::from_config(config, this->where());
        m_filters = this->read_filters(config);
        m_groups = config_value<long>(config, "groups", 1);
        XK_CHECK(m_groups > 0, value_error, this->where(),
                 ": the number of groups must be a positive integer. Received: groups=", m_groups, ".");
        XK_CHECK(m_filters % m_groups == 0, value_error, this->where(),
                 ": the number of filters must be evenly divisible by the number of groups. Received: groups=",
                 m_groups, ", filters=", m_filters, ".");
        m_kernel_initializer = get_initializer(config.value("kernel_initializer", json("glorot_uniform")));
        m_kernel_regularizer = get_regularizer(config.value("kernel_regularizer", json(nullptr)));
        m_kernel_constraint = get_constraint(config.value("kernel_constraint", json(nullptr)));
    }

    template <class T>
    PartialShape Conv<T>::compute_output_shape(const PartialShape& input_shape) const
    {
        return conv::assemble_shape(input_shape[0], this->windowed_spatial(input_shape), m_filters, this->m_args);
    }

    template <class T>
    void Conv<T>::build_weights(const PartialShape& input_shape)
    {
        const auto& a = this->m_args;
        const long channels = this->channels_to_build(input_shape);
        XK_CHECK(channels % m_groups == 0, value_error, this->where(),
                 ": the number of input channels must be evenly divisible by the number of groups. Received groups=",
                 m_groups, ", but the input has ", channels, " channels (full input shape is ",
                 shape_str(input_shape), ").");
        Shape kernel_shape(a.kernel_size.begin(), a.kernel_size.end());
        kernel_shape.push_back(std::size_t(channels / m_groups));
        kernel_shape.push_back(std::size_t(m_filters));
        if (this->m_lora_options.enabled())
            this->require_lora_compatible(m_kernel_constraint);
        m_kernel = &this->add_weight("kernel", kernel_shape, m_kernel_initializer, m_kernel_regularizer,
                                     m_kernel_constraint);
        this->add_bias(std::size_t(m_filters));
        this->m_input_channels = channels;
        if (this->m_lora_options.enabled()) // after the bias, as Keras's build calls enable_lora last
            this->adapt_kernel(m_kernel, this->m_lora_options, m_kernel_regularizer, m_kernel_constraint);
    }

    template <class T>
    void Conv<T>::enable_lora(long rank, std::optional<double> alpha)
    {
        this->adapt_kernel(m_kernel, {rank, alpha.value_or(double(rank))}, m_kernel_regularizer, m_kernel_constraint);
    }

    template <class T>
    json Conv<T>::get_config() const
    {
        json config = ConvBase<T>::get_config();
        config["filters"] = m_filters;
        config["groups"] = m_groups;
        config["kernel_initializer"] = serialize(m_kernel_initializer);
        config["kernel_regularizer"] = serialize(m_kernel_regularizer);
        config["kernel_constraint"] = serialize(m_kernel_constraint);
        this->m_lora_options.write_config(config);
        return config;
    }

    template <class T>
    Tensor<T> Conv<T>::forward_channels_last(const Tensor& x, const Shape& y_shape) const
    {
        Tensor y = Tensor::from_shape(y_shape);
        Tensor merged;
        kernels::conv_forward(this->geometry_between(shape_of(x), y_shape, y_shape.back(), std::size_t(m_groups)),
                              x.data(), this->kernel_in_use(*m_kernel, merged).data(), y.data());
        return y;
    }

    template <class T>
    void Conv<T>::backward_channels_last(const Tensor& x, const Tensor& dy, Tensor* dx)
    {
        auto g = this->geometry_between(shape_of(x), shape_of(dy), dy.shape().back(), std::size_t(m_groups));
        Tensor merged, dmerged;
        if (Tensor* dk = this->kernel_gradient(*m_kernel, dmerged))
        {
            kernels::conv_backward_kernel(g, x.data(), dy.data(), dk->data());
            this->finish_kernel_gradient(dmerged);
        }
        if (dx)
            kernels::conv_backward_input(g, dy.data(), this->kernel_in_use(*m_kernel, merged).data(), dx->data());
    }

    template class Conv<float>;
    template class Conv<double>;
}
