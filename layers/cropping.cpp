#include "layers/cropping.hpp"
#include "framework/engine/kernels/resample.hpp"

namespace xk
{
    namespace
    {
        // Keras's defaults: Cropping1D (1, 1), Cropping2D ((0, 0), (0, 0)), Cropping3D ((1, 1), (1, 1), (1, 1)).
        json default_cropping(std::size_t rank) { return rank == 2 ? json(0) : json(1); }
    }

    template <class T>
    Cropping<T>::Cropping(std::size_t rank, const json& config)
        : BasicLayer<T>(config, "Cropping" + std::to_string(rank) + "D")
    {
        const std::string where = "Cropping" + std::to_string(rank) + "D layer '" + this->name() + "'";
        check_config_keys(config, where, rank == 1 ? std::vector<std::string>{"cropping"}
                                                   : std::vector<std::string>{"cropping", "data_format"});
        m_args.rank = rank;
        m_args.data_format = rank == 1 ? "channels_last" : data_format_value(config.value("data_format", json(nullptr)));
        m_cropping = conv::parse_pairs(config.value("cropping", default_cropping(rank)), rank, "cropping", where);
    }

    template <class T>
    PartialShape Cropping<T>::compute_output_shape(const PartialShape& input_shape) const
    {
        conv::check_input_shape(this->where(), input_shape, m_args, std::nullopt);
        PartialShape out = input_shape;
        for (std::size_t i = 0; i < m_args.rank; ++i)
        {
            long& d = out[m_args.spatial_axis(i)];
            if (d < 0)
                continue;
            long kept = d - m_cropping[i][0] - m_cropping[i][1];
            XK_CHECK(kept > 0, value_error, this->where(), ": `cropping` must leave at least one element along every "
                     "axis. Received cropping=", conv::pairs_to_config(m_cropping).dump(), " for input shape ",
                     shape_str(input_shape), ".");
            d = kept;
        }
        return out;
    }

    template <class T>
    void Cropping<T>::check_input(const PartialShape& input_shape) const
    {
        compute_output_shape(input_shape);
    }

    template <class T>
    json Cropping<T>::get_config() const
    {
        json config = BasicLayer<T>::get_config();
        config["cropping"] = conv::pairs_to_config(m_cropping);
        if (m_args.rank > 1)
            config["data_format"] = m_args.data_format;
        return config;
    }

    template <class T>
    kernels::Offsets3 Cropping<T>::before() const
    {
        kernels::Offsets3 b{0, 0, 0};
        for (std::size_t i = 0; i < m_args.rank; ++i)
            b[conv::spatial_slot(m_args.rank, i)] = std::size_t(m_cropping[i][0]);
        return b;
    }

    template <class T>
    Tensor<T> Cropping<T>::forward(const Tensor& x, LayerCache<T>&) const
    {
        PartialShape out = compute_output_shape(PartialShape(x.shape().begin(), x.shape().end()));
        Tensor y(Shape(out.begin(), out.end()), T(0));
        const bool last = m_args.channels_last();
        kernels::crop_add(conv::canonical_dims(shape_of(x), m_args.rank, last), x.data(), before(),
                          conv::canonical_dims(shape_of(y), m_args.rank, last), y.data());
        return y;
    }

    template <class T>
    void Cropping<T>::backward(const Tensor& x, const Tensor& dz, const LayerCache<T>&, Tensor* dx)
    {
        if (!dx)
            return;
        const bool last = m_args.channels_last();
        kernels::uncrop_add(conv::canonical_dims(shape_of(dz), m_args.rank, last), dz.data(), before(),
                            conv::canonical_dims(shape_of(x), m_args.rank, last), dx->data());
    }

    template class Cropping<float>;
    template class Cropping<double>;
}
