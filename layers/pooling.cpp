#include "layers/pooling.hpp"

namespace xk
{
    namespace
    {
        std::string pool_class(PoolMode mode, std::size_t rank)
        {
            return (mode == PoolMode::Max ? "MaxPooling" : "AveragePooling") + std::to_string(rank) + "D";
        }
    }

    template <class T>
    Pooling<T>::Pooling(PoolMode mode, std::size_t rank, const json& config)
        : BasicLayer<T>(config, pool_class(mode, rank)), m_mode(mode)
    {
        // this->where() calls the virtual class_name(), not available while constructing: spell it here.
        const std::string where = pool_class(mode, rank) + " layer '" + this->name() + "'";
        check_config_keys(config, where, {"pool_size", "strides", "padding", "data_format"});
        try
        {
            m_args.rank = rank;
            m_args.kernel_size = int_tuple(config.value("pool_size", json(2)), rank, "pool_size");
            // strides=None means strides=pool_size.
            const json strides = config.value("strides", json(nullptr));
            m_args.strides = strides.is_null() ? m_args.kernel_size : int_tuple(strides, rank, "strides");
            m_args.dilation_rate.assign(rank, 1);
            m_args.padding = padding_mode(config.value("padding", json("valid")), false);
            // The 1-D signatures default to channels_last; an explicit null still means image_data_format().
            const json format_default = rank == 1 ? json("channels_last") : json(nullptr);
            m_args.data_format =
                data_format_value(config.contains("data_format") ? config["data_format"] : format_default);
        }
        catch (const value_error& e)
        {
            throw value_error(where + ": " + e.what());
        }
    }

    template <class T>
    std::string Pooling<T>::class_name() const
    {
        return pool_class(m_mode, m_args.rank);
    }

    template <class T>
    PartialShape Pooling<T>::compute_output_shape(const PartialShape& input_shape) const
    {
        conv::check_input_shape(this->where(), input_shape, m_args, std::nullopt);
        std::vector<long> spatial;
        for (std::size_t i = 0; i < m_args.rank; ++i)
            spatial.push_back(conv::conv_output_length(input_shape[m_args.spatial_axis(i)], m_args.kernel_size[i],
                                                       m_args.padding, m_args.strides[i], 1));
        return conv::assemble_shape(input_shape[0], spatial, input_shape[m_args.channel_axis()], m_args);
    }

    template <class T>
    void Pooling<T>::check_input(const PartialShape& input_shape) const
    {
        conv::check_input_shape(this->where(), input_shape, m_args, std::nullopt);
        conv::check_output_shape(this->where(), input_shape, compute_output_shape(input_shape));
    }

    template <class T>
    json Pooling<T>::get_config() const
    {
        json config = BasicLayer<T>::get_config();
        config["pool_size"] = m_args.kernel_size;
        config["padding"] = m_args.padding;
        config["strides"] = m_args.strides;
        config["data_format"] = m_args.data_format;
        return config;
    }

    template <class T>
    kernels::PoolGeometry Pooling<T>::geometry(const Shape& x_shape, const Shape& y_shape) const
    {
        const bool last = m_args.channels_last();
        const auto in = conv::canonical_dims(x_shape, m_args.rank, last);
        const auto out = conv::canonical_dims(y_shape, m_args.rank, last);
        kernels::PoolGeometry g;
        g.batch = in[0];
        g.channels = in[4];
        for (std::size_t a = 0; a < 3; ++a)
        {
            g.in[a] = in[1 + a];
            g.out[a] = out[1 + a];
        }
        for (std::size_t i = 0; i < m_args.rank; ++i)
        {
            const std::size_t slot = conv::spatial_slot(m_args.rank, i);
            g.window[slot] = std::size_t(m_args.kernel_size[i]);
            g.stride[slot] = std::size_t(m_args.strides[i]);
            g.pad_before[slot] = std::size_t(conv::pad_before(m_args.padding, long(g.in[slot]), long(g.out[slot]),
                                                              m_args.kernel_size[i], m_args.strides[i], 1));
        }
        return g;
    }

    template <class T>
    Tensor<T> Pooling<T>::forward(const Tensor& x, LayerCache<T>&) const
    {
        const PartialShape out = compute_output_shape(PartialShape(x.shape().begin(), x.shape().end()));
        Tensor y = Tensor::from_shape(Shape(out.begin(), out.end()));
        const auto g = geometry(shape_of(x), shape_of(y));
        if (m_mode == PoolMode::Max)
            kernels::max_pool_forward(g, x.data(), y.data());
        else
            kernels::avg_pool_forward(g, x.data(), y.data());
        return y;
    }

    template <class T>
    void Pooling<T>::backward(const Tensor& x, const Tensor& dz, const LayerCache<T>&, Tensor* dx)
    {
        if (!dx)
            return;
        const auto g = geometry(shape_of(x), shape_of(dz));
        // Max pooling finds each window's maximum again rather than caching indices: x is at hand, and the
        // indices of a large volume would not fit a float tensor exactly.
        if (m_mode == PoolMode::Max)
            kernels::max_pool_backward(g, x.data(), dz.data(), dx->data());
        else
            kernels::avg_pool_backward(g, dz.data(), dx->data());
    }

    template class Pooling<float>;
    template class Pooling<double>;
}
