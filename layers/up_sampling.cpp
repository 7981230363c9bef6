#include "layers/up_sampling.hpp"
#include "framework/engine/kernels/resample.hpp"

namespace xk
{
    template <class T>
    UpSampling<T>::UpSampling(std::size_t rank, const json& config)
        : BasicLayer<T>(config, "UpSampling" + std::to_string(rank) + "D")
    {
        const std::string where = "UpSampling" + std::to_string(rank) + "D layer '" + this->name() + "'";
        std::vector<std::string> keys{"size"};
        if (rank > 1)
            keys.push_back("data_format");
        if (rank == 2)
            keys.push_back("interpolation");
        check_config_keys(config, where, keys);
        m_args.rank = rank;
        m_args.data_format = rank == 1 ? "channels_last" : data_format_value(config.value("data_format", json(nullptr)));
        try
        {
            m_size = int_tuple(config.value("size", json(2)), rank, "size");
        }
        catch (const value_error& e)
        {
            throw value_error(where + ": " + e.what());
        }
        if (rank == 2)
        {
            m_interpolation = config_value<std::string>(config, "interpolation", "nearest");
            XK_CHECK(m_interpolation == "nearest" || m_interpolation == "bilinear", value_error, where,
                     ": `interpolation` argument should be one of: \"nearest\", \"bilinear\". Received: \"",
                     m_interpolation, "\".");
        }
    }

    template <class T>
    PartialShape UpSampling<T>::compute_output_shape(const PartialShape& input_shape) const
    {
        conv::check_input_shape(this->where(), input_shape, m_args, std::nullopt);
        PartialShape out = input_shape;
        for (std::size_t i = 0; i < m_args.rank; ++i)
        {
            long& d = out[m_args.spatial_axis(i)];
            if (d >= 0)
                d *= m_size[i];
        }
        return out;
    }

    template <class T>
    void UpSampling<T>::check_input(const PartialShape& input_shape) const
    {
        conv::check_input_shape(this->where(), input_shape, m_args, std::nullopt);
    }

    template <class T>
    json UpSampling<T>::get_config() const
    {
        json config = BasicLayer<T>::get_config();
        config["size"] = m_args.rank == 1 ? json(m_size[0]) : json(m_size);
        if (m_args.rank > 1)
            config["data_format"] = m_args.data_format;
        if (m_args.rank == 2)
            config["interpolation"] = m_interpolation;
        return config;
    }

    template <class T>
    kernels::Offsets3 UpSampling<T>::size3() const
    {
        kernels::Offsets3 s{1, 1, 1};
        for (std::size_t i = 0; i < m_args.rank; ++i)
            s[conv::spatial_slot(m_args.rank, i)] = std::size_t(m_size[i]);
        return s;
    }

    template <class T>
    Tensor<T> UpSampling<T>::forward(const Tensor& x, LayerCache<T>&) const
    {
        PartialShape out = compute_output_shape(PartialShape(x.shape().begin(), x.shape().end()));
        Tensor y = Tensor::from_shape(Shape(out.begin(), out.end()));
        auto dims = conv::canonical_dims(shape_of(x), m_args.rank, m_args.channels_last());
        if (m_interpolation == "bilinear")
            kernels::upsample_bilinear(dims, x.data(), std::size_t(m_size[0]), std::size_t(m_size[1]), y.data());
        else
            kernels::upsample_nearest(dims, x.data(), size3(), y.data());
        return y;
    }

    template <class T>
    void UpSampling<T>::backward(const Tensor& x, const Tensor& dz, const LayerCache<T>&, Tensor* dx)
    {
        if (!dx)
            return;
        auto dims = conv::canonical_dims(shape_of(x), m_args.rank, m_args.channels_last());
        if (m_interpolation == "bilinear")
            kernels::upsample_bilinear_backward(dims, dz.data(), std::size_t(m_size[0]), std::size_t(m_size[1]),
                                                dx->data());
        else
            kernels::upsample_nearest_backward(dims, dz.data(), size3(), dx->data());
    }

    template class UpSampling<float>;
    template class UpSampling<double>;
}
