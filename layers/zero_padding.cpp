#include "layers/zero_padding.hpp"
#include "framework/engine/kernels/resample.hpp"

namespace xk
{
    template <class T>
    ZeroPadding<T>::ZeroPadding(std::size_t rank, const json& config)
        : BasicLayer<T>(config, "ZeroPadding" + std::to_string(rank) + "D")
    {
        const std::string where = "ZeroPadding" + std::to_string(rank) + "D layer '" + this->name() + "'";
        check_config_keys(config, where, {"padding", "data_format"});
        m_args.rank = rank;
        // tf.keras's ZeroPadding1D has no data_format (always channels_last); Keras 3.5+ added one.
        const json data_format = config.value("data_format", json(nullptr));
        m_args.data_format = rank == 1 && data_format.is_null() ? "channels_last" : data_format_value(data_format);
        m_padding = conv::parse_pairs(config.value("padding", json(1)), rank, "padding", where);
    }

    template <class T>
    PartialShape ZeroPadding<T>::compute_output_shape(const PartialShape& input_shape) const
    {
        conv::check_input_shape(this->where(), input_shape, m_args, std::nullopt);
        PartialShape out = input_shape;
        for (std::size_t i = 0; i < m_args.rank; ++i)
        {
            long& d = out[m_args.spatial_axis(i)];
            if (d >= 0)
                d += m_padding[i][0] + m_padding[i][1];
        }
        return out;
    }

    template <class T>
    void ZeroPadding<T>::check_input(const PartialShape& input_shape) const
    {
        conv::check_input_shape(this->where(), input_shape, m_args, std::nullopt);
    }

    template <class T>
    json ZeroPadding<T>::get_config() const
    {
        json config = BasicLayer<T>::get_config();
        config["padding"] = conv::pairs_to_config(m_padding);
        if (m_args.rank > 1 || m_args.data_format != "channels_last")
            config["data_format"] = m_args.data_format;
        return config;
    }

    template <class T>
    json ZeroPadding<T>::keras3_config() const
    {
        json config = get_config();
        config["data_format"] = m_args.data_format;
        return config;
    }

    template <class T>
    kernels::Offsets3 ZeroPadding<T>::before() const
    {
        kernels::Offsets3 b{0, 0, 0};
        for (std::size_t i = 0; i < m_args.rank; ++i)
            b[conv::spatial_slot(m_args.rank, i)] = std::size_t(m_padding[i][0]);
        return b;
    }

    template <class T>
    Tensor<T> ZeroPadding<T>::forward(const Tensor& x, LayerCache<T>&) const
    {
        PartialShape out = compute_output_shape(PartialShape(x.shape().begin(), x.shape().end()));
        Tensor y = Tensor::from_shape(Shape(out.begin(), out.end()));
        const bool last = m_args.channels_last();
        kernels::zero_pad(conv::canonical_dims(shape_of(x), m_args.rank, last), x.data(), before(),
                          conv::canonical_dims(shape_of(y), m_args.rank, last), y.data());
        return y;
    }

    template <class T>
    void ZeroPadding<T>::backward(const Tensor& x, const Tensor& dz, const LayerCache<T>&, Tensor* dx)
    {
        if (!dx)
            return;
        const bool last = m_args.channels_last();
        kernels::crop_add(conv::canonical_dims(shape_of(dz), m_args.rank, last), dz.data(), before(),
                          conv::canonical_dims(shape_of(x), m_args.rank, last), dx->data());
    }

    template class ZeroPadding<float>;
    template class ZeroPadding<double>;
}
