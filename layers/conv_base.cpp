#include "layers/conv_base.hpp"
#include "framework/engine/kernels/conv.hpp"

namespace xk
{
    namespace
    {
        const std::vector<std::string> shared_keys = {"kernel_size", "strides",          "padding",
                                                      "data_format", "dilation_rate",    "activation",
                                                      "use_bias",    "bias_initializer", "bias_regularizer",
                                                      "bias_constraint"};
    }

    template <class T>
    ConvBase<T>::ConvBase(const json& config, const std::string& class_name, std::size_t rank, bool allow_causal,
                          const json& data_format_default, const std::vector<std::string>& keys)
        : BasicLayer<T>(config, class_name)
    {
        std::vector<std::string> all = shared_keys;
        all.insert(all.end(), keys.begin(), keys.end());
        // this->where() calls the virtual class_name(), not available while constructing: spell it here.
        const std::string where = class_name + " layer '" + this->name() + "'";
        check_config_keys(config, where, all);
        try
        {
            m_args = conv::parse_spatial_args(config, rank, allow_causal, where, data_format_default);
            this->m_activation = get_activation(config.value("activation", json(nullptr)));
            m_use_bias = config_value<bool>(config, "use_bias", true);
            m_bias_initializer = get_initializer(config.value("bias_initializer", json("zeros")));
            m_bias_regularizer = get_regularizer(config.value("bias_regularizer", json(nullptr)));
            m_bias_constraint = get_constraint(config.value("bias_constraint", json(nullptr)));
        }
        catch (const value_error& e)
        {
            std::string what = e.what();
            if (what.rfind(where, 0) == 0)
                throw;
            throw value_error(where + ": " + what);
        }
    }

    template <class T>
    json ConvBase<T>::get_config() const
    {
        json config = BasicLayer<T>::get_config();
        config.update(m_args.to_config());
        config["activation"] = serialize(this->m_activation);
        config["use_bias"] = m_use_bias;
        config["bias_initializer"] = serialize(m_bias_initializer);
        config["bias_regularizer"] = serialize(m_bias_regularizer);
        config["bias_constraint"] = serialize(m_bias_constraint);
        config["activity_regularizer"] = serialize(this->m_activity_regularizer);
        return config;
    }

    template <class T>
    void ConvBase<T>::add_bias(std::size_t channels)
    {
        if (m_use_bias)
            m_bias = &this->add_weight("bias", {channels}, m_bias_initializer, m_bias_regularizer, m_bias_constraint);
    }

    template <class T>
    long ConvBase<T>::read_filters(const json& config) const
    {
        const json filters = config.value("filters", json(nullptr));
        XK_CHECK(filters.is_number_integer() && filters.get<long>() > 0, value_error, this->where(),
                 ": invalid value for argument `filters`. Expected a strictly positive value. Received filters=",
                 filters.dump(), ".");
        return filters.get<long>();
    }

    template <class T>
    std::vector<long> ConvBase<T>::windowed_spatial(const PartialShape& input_shape) const
    {
        conv::check_input_shape(this->where(), input_shape, m_args, std::nullopt);
        std::vector<long> spatial = spatial_of(input_shape);
        for (std::size_t i = 0; i < m_args.rank; ++i)
            spatial[i] = conv::conv_output_length(spatial[i], m_args.kernel_size[i], m_args.padding, m_args.strides[i],
                                                  m_args.dilation_rate[i]);
        return spatial;
    }

    template <class T>
    long ConvBase<T>::channels_to_build(const PartialShape& input_shape) const
    {
        conv::check_input_shape(this->where(), input_shape, m_args, std::nullopt);
        const long channels = input_shape[m_args.channel_axis()];
        XK_CHECK(channels > 0, value_error, this->where(),
                 ": the channel dimension of the inputs should be defined. Found None in shape ",
                 shape_str(input_shape), ".");
        conv::check_output_shape(this->where(), input_shape, this->compute_output_shape(input_shape));
        return channels;
    }

    template <class T>
    kernels::ConvGeometry ConvBase<T>::geometry_between(const Shape& from, const Shape& to, std::size_t out_channels,
                                                        std::size_t groups) const
    {
        const std::size_t r = m_args.rank;
        const std::vector<long> in(from.begin() + 1, from.begin() + 1 + r), out(to.begin() + 1, to.begin() + 1 + r);
        return conv::geometry(m_args, from[0], in, out, from.back(), out_channels, groups);
    }

    template <class T>
    std::vector<long> ConvBase<T>::spatial_of(const PartialShape& shape) const
    {
        std::vector<long> out;
        for (std::size_t i = 0; i < m_args.rank; ++i)
            out.push_back(shape[m_args.spatial_axis(i)]);
        return out;
    }

    template <class T>
    std::vector<long> ConvBase<T>::spatial_of(const Shape& shape) const
    {
        return spatial_of(PartialShape(shape.begin(), shape.end()));
    }

    template <class T>
    void ConvBase<T>::check_input(const PartialShape& input_shape) const
    {
        conv::check_input_shape(this->where(), input_shape, m_args, m_input_channels);
        conv::check_output_shape(this->where(), input_shape, this->compute_output_shape(input_shape));
    }

    template <class T>
    Tensor<T> ConvBase<T>::forward(const Tensor& x, LayerCache<T>& cache) const
    {
        const bool last = m_args.channels_last();
        PartialShape out_shape = this->compute_output_shape(PartialShape(x.shape().begin(), x.shape().end()));
        Shape y_shape(out_shape.begin(), out_shape.end());
        y_shape[0] = x.shape()[0];
        y_shape = conv::channels_last_shape(y_shape, m_args);

        Tensor x_last = last ? Tensor() : conv::to_channels_last(x);
        Tensor y = forward_channels_last(last ? x : x_last, y_shape);
        if (m_bias)
        {
            const std::size_t channels = y_shape.back();
            kernels::bias_add(y.size() / channels, channels, m_bias->variable.value().data(), y.data());
        }
        if (last)
            return y;
        cache.tensors.push_back(std::move(x_last)); // backward needs the channels_last input again
        return conv::to_channels_first(y);
    }

    template <class T>
    void ConvBase<T>::backward(const Tensor& x, const Tensor& dz, const LayerCache<T>& cache, Tensor* dx)
    {
        const bool last = m_args.channels_last();
        const Tensor& x_last = last ? x : cache.tensors.at(0);
        Tensor dz_moved = last ? Tensor() : conv::to_channels_last(dz);
        const Tensor& dy = last ? dz : dz_moved;
        if (m_bias)
            if (Tensor* db = this->grad_of(*m_bias))
            {
                const std::size_t channels = dy.shape().back();
                kernels::bias_backward(dy.size() / channels, channels, dy.data(), db->data());
            }
        if (!dx || last)
        {
            backward_channels_last(x_last, dy, dx);
            return;
        }
        Tensor dx_last(x_last.shape(), T(0));
        backward_channels_last(x_last, dy, &dx_last);
        *dx += conv::to_channels_first(dx_last);
    }

    template class ConvBase<float>;
    template class ConvBase<double>;
}
