#include "layers/core.hpp"
#include "framework/engine/random.hpp"
#include "layers/conv_utils.hpp"

#include <algorithm>

namespace xk
{
    namespace
    {
        /// "[2, 3]", as Python prints a list (Keras's Reshape messages use lists).
        std::string list_str(const std::vector<long>& v)
        {
            std::string s = "[";
            for (std::size_t i = 0; i < v.size(); ++i)
                s += (i ? ", " : "") + std::to_string(v[i]);
            return s + "]";
        }

        template <class T>
        void add_flat(const Tensor<T>& from, Tensor<T>& into)
        {
            const T* src = from.data();
            T* dst = into.data();
            for (std::size_t i = 0, n = into.size(); i < n; ++i)
                dst[i] += src[i];
        }

        template <class T>
        Tensor<T> reshaped_copy(const Tensor<T>& x, const Shape& shape)
        {
            Tensor<T> y = Tensor<T>::from_shape(shape);
            std::copy(x.data(), x.data() + x.size(), y.data());
            return y;
        }

        /// A uniform double in [0, 1) from the top 53 bits: the same numbers on every platform, unlike
        /// std::uniform_real_distribution.
        double unit_uniform(Rng& rng) { return double(rng() >> 11) * 0x1.0p-53; }
    }

    // ---- Flatten ---------------------------------------------------------------------------------------

    template <class T>
    Flatten<T>::Flatten(const json& config) : BasicLayer<T>(config, "Flatten")
    {
        const std::string where = "Flatten layer '" + this->name() + "'";
        check_config_keys(config, where, {"data_format"});
        try
        {
            m_data_format = data_format_value(config.value("data_format", json(nullptr)));
        }
        catch (const value_error& e)
        {
            throw value_error(where + ": " + e.what());
        }
    }

    template <class T>
    PartialShape Flatten<T>::compute_output_shape(const PartialShape& input_shape) const
    {
        XK_CHECK(!input_shape.empty(), shape_error, "Input 0 of ", this->where(),
                 " is incompatible with the layer: expected min_ndim=1, found ndim=0.");
        long size = 1;
        for (std::size_t i = 1; i < input_shape.size(); ++i)
            size = (size < 0 || input_shape[i] < 0) ? -1 : size * input_shape[i];
        // A (batch,) input gains a feature axis: (batch, 1).
        return {input_shape[0], size};
    }

    template <class T>
    void Flatten<T>::check_input(const PartialShape& input_shape) const
    {
        compute_output_shape(input_shape);
    }

    template <class T>
    json Flatten<T>::get_config() const
    {
        json config = BasicLayer<T>::get_config();
        config["data_format"] = m_data_format;
        return config;
    }

    template <class T>
    Tensor<T> Flatten<T>::forward(const Tensor& x, LayerCache<T>&) const
    {
        const Shape flat{x.shape()[0], x.shape()[0] ? x.size() / x.shape()[0] : 0};
        if (moves_channels(x.dimension()))
            return reshaped_copy(conv::to_channels_last(x), flat);
        return reshaped_copy(x, flat);
    }

    template <class T>
    void Flatten<T>::backward(const Tensor& x, const Tensor& dz, const LayerCache<T>&, Tensor* dx)
    {
        if (!dx)
            return;
        if (!moves_channels(x.dimension()))
        {
            add_flat(dz, *dx);
            return;
        }
        // dz is in channels_last order: unflatten it there, then move the channels back.
        Shape last{x.shape()[0]};
        last.insert(last.end(), x.shape().begin() + 2, x.shape().end());
        last.push_back(x.shape()[1]);
        add_flat(conv::to_channels_first(reshaped_copy(dz, last)), *dx);
    }

    // ---- Reshape ---------------------------------------------------------------------------------------

    template <class T>
    Reshape<T>::Reshape(const json& config) : BasicLayer<T>(config, "Reshape")
    {
        const std::string where = "Reshape layer '" + this->name() + "'";
        check_config_keys(config, where, {"target_shape"});
        const json target = config.value("target_shape", json(nullptr));
        XK_CHECK(target.is_array(), value_error, where,
                 ": `target_shape` must be a tuple of integers (without the batch axis). Received target_shape=",
                 target.dump(), ".");
        for (const auto& d : target)
        {
            XK_CHECK(d.is_number_integer() && (d.get<long>() > 0 || d.get<long>() == -1), value_error, where,
                     ": `target_shape` entries must be positive integers or -1 (one inferred dimension). "
                     "Received target_shape=",
                     target.dump(), ".");
            m_target_shape.push_back(d.get<long>());
        }
        XK_CHECK(std::count(m_target_shape.begin(), m_target_shape.end(), -1L) <= 1, value_error, where,
                 ": there must be at most one unknown dimension in output_shape. Received: output_shape=",
                 list_str(m_target_shape), ".");
    }

    template <class T>
    PartialShape Reshape<T>::compute_output_shape(const PartialShape& input_shape) const
    {
        XK_CHECK(!input_shape.empty(), shape_error, "Input 0 of ", this->where(),
                 " is incompatible with the layer: expected min_ndim=1, found ndim=0.");
        PartialShape out{input_shape[0]};
        out.insert(out.end(), m_target_shape.begin(), m_target_shape.end());
        const std::vector<long> in(input_shape.begin() + 1, input_shape.end());
        if (std::any_of(in.begin(), in.end(), [](long d) { return d < 0; }))
            return out; // a partially unknown input leaves the -1 unknown (None)
        long original = 1, known = 1;
        for (long d : in)
            original *= d;
        for (long d : m_target_shape)
            known *= d < 0 ? 1 : d;
        auto unknown = std::find(out.begin() + 1, out.end(), -1L);
        const bool ok = unknown != out.end() ? original % known == 0 : original == known;
        XK_CHECK(ok, value_error, this->where(), ": total size of new array must be unchanged, input_shape = ",
                 list_str(in), ", output_shape = ", list_str(m_target_shape), ".");
        if (unknown != out.end())
            *unknown = original / known;
        return out;
    }

    template <class T>
    void Reshape<T>::check_input(const PartialShape& input_shape) const
    {
        compute_output_shape(input_shape);
    }

    template <class T>
    json Reshape<T>::get_config() const
    {
        json config = BasicLayer<T>::get_config();
        config["target_shape"] = m_target_shape;
        return config;
    }

    template <class T>
    Tensor<T> Reshape<T>::forward(const Tensor& x, LayerCache<T>&) const
    {
        const PartialShape out = compute_output_shape(PartialShape(x.shape().begin(), x.shape().end()));
        return reshaped_copy(x, Shape(out.begin(), out.end()));
    }

    template <class T>
    void Reshape<T>::backward(const Tensor& x, const Tensor& dz, const LayerCache<T>&, Tensor* dx)
    {
        if (dx)
            add_flat(dz, *dx);
    }

    // ---- Activation ------------------------------------------------------------------------------------

    template <class T>
    ActivationLayer<T>::ActivationLayer(const json& config) : BasicLayer<T>(config, "Activation")
    {
        const std::string where = "Activation layer '" + this->name() + "'";
        check_config_keys(config, where, {"activation"});
        XK_CHECK(config.contains("activation"), value_error, where, ": missing required argument `activation`.");
        try
        {
            this->m_activation = get_activation(config["activation"]);
        }
        catch (const value_error& e)
        {
            throw value_error(where + ": " + e.what());
        }
    }

    template <class T>
    json ActivationLayer<T>::get_config() const
    {
        json config = BasicLayer<T>::get_config();
        config["activation"] = serialize(this->m_activation);
        return config;
    }

    template <class T>
    void ActivationLayer<T>::backward(const Tensor& x, const Tensor& dz, const LayerCache<T>&, Tensor* dx)
    {
        if (dx)
            add_flat(dz, *dx);
    }

    // ---- Dropout ---------------------------------------------------------------------------------------

    template <class T>
    Dropout<T>::Dropout(const json& config) : BasicLayer<T>(config, "Dropout")
    {
        const std::string where = "Dropout layer '" + this->name() + "'";
        check_config_keys(config, where, {"rate", "noise_shape", "seed"});
        m_rate_config = config.value("rate", json(nullptr));
        XK_CHECK(m_rate_config.is_number() && m_rate_config.get<double>() >= 0.0 && m_rate_config.get<double>() <= 1.0,
                 value_error, where, ": invalid value ", m_rate_config.dump(),
                 " received for `rate`, expected a value between 0 and 1.");
        m_rate = m_rate_config.get<double>();

        const json noise = config.value("noise_shape", json(nullptr));
        if (!noise.is_null())
        {
            XK_CHECK(noise.is_array(), value_error, where,
                     ": `noise_shape` must be a list of integers or None. Received noise_shape=", noise.dump(), ".");
            std::vector<long> dims;
            for (const auto& d : noise)
            {
                XK_CHECK(d.is_null() || (d.is_number_integer() && d.get<long>() > 0), value_error, where,
                         ": `noise_shape` must be a list of positive integers or None. Received noise_shape=",
                         noise.dump(), ".");
                dims.push_back(d.is_null() ? -1 : d.get<long>());
            }
            m_noise_shape = dims;
        }

        m_seed_config = config.value("seed", json(nullptr));
        XK_CHECK(m_seed_config.is_null() || m_seed_config.is_number_integer(), value_error, where,
                 ": `seed` must be an integer or None. Received seed=", m_seed_config.dump(), ".");
        if (m_seed_config.is_number_integer())
            m_seed = static_cast<std::uint64_t>(m_seed_config.get<long long>());
    }

    template <class T>
    json Dropout<T>::get_config() const
    {
        json config = BasicLayer<T>::get_config();
        config["rate"] = m_rate_config;
        json noise = nullptr;
        if (m_noise_shape)
        {
            noise = json::array();
            for (long d : *m_noise_shape)
                noise.push_back(d < 0 ? json(nullptr) : json(d));
        }
        config["noise_shape"] = noise;
        config["seed"] = m_seed_config;
        return config;
    }

    template <class T>
    Shape Dropout<T>::noise_shape_for(const Shape& x_shape) const
    {
        if (!m_noise_shape)
            return x_shape;
        const auto& noise = *m_noise_shape;
        bool ok = noise.size() == x_shape.size();
        for (std::size_t i = 0; ok && i < noise.size(); ++i)
            ok = noise[i] < 0 || noise[i] == 1 || std::size_t(noise[i]) == x_shape[i];
        XK_CHECK(ok, shape_error, this->where(), ": `noise_shape` ",
                 shape_str(PartialShape(noise.begin(), noise.end())), " does not broadcast to the input shape ", shape_str(x_shape),
                 ": it needs one entry per input axis, each 1, None or the input's extent.");
        Shape out;
        for (std::size_t i = 0; i < x_shape.size(); ++i)
            out.push_back(noise[i] < 0 ? x_shape[i] : std::size_t(noise[i]));
        return out;
    }

    template <class T>
    Tensor<T> Dropout<T>::forward(const Tensor& x, LayerCache<T>& cache) const
    {
        if (!cache.training || m_rate == 0.0)
            return x; // TF returns the input untouched for rate 0 as well
        XK_CHECK(m_rate < 1.0, value_error, this->where(),
                 ": `rate` must be a float in the range [0, 1) to drop units in training. Received rate=",
                 m_rate_config.dump(), ".");
        // A seeded layer walks the stream seed, seed+1, ... one mask per training call, as tf.keras does.
        Rng rng = make_rng(m_seed ? std::optional<std::uint64_t>(*m_seed + m_calls++) : std::nullopt);
        const T scale = T(1.0 / (1.0 - m_rate));
        Tensor mask = Tensor::from_shape(noise_shape_for(shape_of(x)));
        T* keep = mask.data();
        for (std::size_t i = 0, n = mask.size(); i < n; ++i)
            keep[i] = unit_uniform(rng) >= m_rate ? scale : T(0); // TF keeps a unit when uniform >= rate
        if (mask.shape() != x.shape())
            mask = Tensor(xt::broadcast(mask, x.shape()));
        Tensor y = Tensor::from_shape(x.shape());
        const T* in = x.data();
        const T* m = mask.data();
        T* out = y.data();
        for (std::size_t i = 0, n = y.size(); i < n; ++i)
            out[i] = in[i] * m[i];
        cache.tensors.push_back(std::move(mask)); // the scaled mask, for backward
        return y;
    }

    template <class T>
    void Dropout<T>::backward(const Tensor& x, const Tensor& dz, const LayerCache<T>& cache, Tensor* dx)
    {
        if (!dx)
            return;
        if (cache.tensors.empty())
        {
            add_flat(dz, *dx);
            return;
        }
        const T* mask = cache.tensors[0].data();
        const T* grad = dz.data();
        T* out = dx->data();
        for (std::size_t i = 0, n = dx->size(); i < n; ++i)
            out[i] += grad[i] * mask[i];
    }

    template class Flatten<float>;
    template class Flatten<double>;
    template class Reshape<float>;
    template class Reshape<double>;
    template class ActivationLayer<float>;
    template class ActivationLayer<double>;
    template class Dropout<float>;
    template class Dropout<double>;
}
