#include "layers/global_pooling.hpp"
#include "framework/engine/kernels/pool.hpp"

namespace xk
{
    namespace
    {
        std::string global_class(PoolMode mode, std::size_t rank)
        {
            return (mode == PoolMode::Max ? "GlobalMaxPooling" : "GlobalAveragePooling") + std::to_string(rank) +
                   "D";
        }
    }

    template <class T>
    GlobalPooling<T>::GlobalPooling(PoolMode mode, std::size_t rank, const json& config)
        : BasicLayer<T>(config, global_class(mode, rank)), m_mode(mode)
    {
        const std::string where = global_class(mode, rank) + " layer '" + this->name() + "'";
        check_config_keys(config, where, {"data_format", "keepdims"});
        try
        {
            m_args.rank = rank;
            // GlobalPooling1D's signature defaults to channels_last, 2D/3D to image_data_format().
            const json format_default = rank == 1 ? json("channels_last") : json(nullptr);
            m_args.data_format =
                data_format_value(config.contains("data_format") ? config["data_format"] : format_default);
            m_keepdims = config_value<bool>(config, "keepdims", false);
        }
        catch (const value_error& e)
        {
            throw value_error(where + ": " + e.what());
        }
    }

    template <class T>
    std::string GlobalPooling<T>::class_name() const
    {
        return global_class(m_mode, m_args.rank);
    }

    template <class T>
    PartialShape GlobalPooling<T>::compute_output_shape(const PartialShape& input_shape) const
    {
        conv::check_input_shape(this->where(), input_shape, m_args, std::nullopt);
        const long channels = input_shape[m_args.channel_axis()];
        if (!m_keepdims)
            return {input_shape[0], channels};
        return conv::assemble_shape(input_shape[0], std::vector<long>(m_args.rank, 1), channels, m_args);
    }

    template <class T>
    void GlobalPooling<T>::check_input(const PartialShape& input_shape) const
    {
        if (input_shape.size() == m_args.rank + 2)
            for (std::size_t i = 0; i < m_args.rank; ++i)
            {
                const std::size_t axis = m_args.spatial_axis(i);
                XK_CHECK(input_shape[axis] != 0, value_error, this->where(), ": incorrect input shape ",
                         shape_str(input_shape), " with dimension 0 at reduction axis ", axis, ".");
            }
        conv::check_input_shape(this->where(), input_shape, m_args, std::nullopt);
    }

    template <class T>
    json GlobalPooling<T>::get_config() const
    {
        json config = BasicLayer<T>::get_config();
        config["data_format"] = m_args.data_format;
        config["keepdims"] = m_keepdims;
        return config;
    }

    template <class T>
    std::array<std::size_t, 3> GlobalPooling<T>::view_of(const Shape& x_shape) const
    {
        std::size_t steps = 1;
        for (std::size_t i = 0; i < m_args.rank; ++i)
            steps *= x_shape[m_args.spatial_axis(i)];
        const std::size_t channels = x_shape[m_args.channel_axis()];
        if (m_args.channels_last())
            return {x_shape[0], steps, channels};
        return {x_shape[0] * channels, steps, 1};
    }

    template <class T>
    Tensor<T> GlobalPooling<T>::forward(const Tensor& x, LayerCache<T>& cache) const
    {
        const PartialShape out = compute_output_shape(PartialShape(x.shape().begin(), x.shape().end()));
        Tensor y = Tensor::from_shape(Shape(out.begin(), out.end()));
        const auto [outer, steps, inner] = view_of(shape_of(x));
        if (m_mode == PoolMode::Max)
        {
            kernels::global_max_forward(outer, steps, inner, x.data(), y.data());
            cache.tensors.push_back(y); // backward finds the maxima (and their ties) by comparing with it
        }
        else
            kernels::global_avg_forward(outer, steps, inner, x.data(), y.data());
        return y;
    }

    template <class T>
    void GlobalPooling<T>::backward(const Tensor& x, const Tensor& dz, const LayerCache<T>& cache, Tensor* dx)
    {
        if (!dx)
            return;
        const auto [outer, steps, inner] = view_of(shape_of(x));
        if (m_mode == PoolMode::Max)
            kernels::global_max_backward(outer, steps, inner, x.data(), cache.tensors.at(0).data(), dz.data(),
                                         dx->data());
        else
            kernels::global_avg_backward(outer, steps, inner, dz.data(), dx->data());
    }

    template class GlobalPooling<float>;
    template class GlobalPooling<double>;
}
