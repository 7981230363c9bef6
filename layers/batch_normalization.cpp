#include "layers/batch_normalization.hpp"
#include "framework/engine/parallel.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

namespace xk
{
    namespace
    {
        /// "(3,)" or "(1, 2)", as Python prints a tuple.
        std::string tuple_str(const std::vector<long>& v)
        {
            std::string s = "(";
            for (std::size_t i = 0; i < v.size(); ++i)
                s += (i ? ", " : "") + std::to_string(v[i]);
            return s + (v.size() == 1 ? ",)" : ")");
        }

        /// The axis argument as a list of ints, or nullopt when it is neither an int nor a list of ints.
        std::optional<std::vector<long>> axis_list(const json& axis)
        {
            if (axis.is_number_integer())
                return std::vector<long>{axis.get<long>()};
            if (!axis.is_array() || axis.empty())
                return std::nullopt;
            std::vector<long> out;
            for (const auto& a : axis)
            {
                if (!a.is_number_integer())
                    return std::nullopt;
                out.push_back(a.get<long>());
            }
            return out;
        }

        /// The per-feature reductions' partitions (framework/engine/parallel.hpp: independent of the threads).
        constexpr std::size_t reduction_parts = reduction_partitions;
    }

    template <class T>
    BatchNormalization<T>::BatchNormalization(const json& config) : BasicLayer<T>(config, "BatchNormalization")
    {
        const std::string where = "BatchNormalization layer '" + this->name() + "'";
        // The last seven are BatchNormalizationBase's keyword arguments (Keras 3 writes synchronized and the
        // renorm trio into every config).
        check_config_keys(config, where,
                          {"axis", "momentum", "epsilon", "center", "scale", "beta_initializer",
                           "gamma_initializer", "moving_mean_initializer", "moving_variance_initializer",
                           "beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint",
                           "renorm", "renorm_clipping", "renorm_momentum", "fused", "virtual_batch_size",
                           "adjustment", "synchronized"});
        m_axis_config = config.value("axis", json(-1));
        const auto axes = axis_list(m_axis_config);
        XK_CHECK(axes, value_error, where,
                 ": expected an int or a list/tuple of ints for the argument 'axis', but received: ",
                 m_axis_config.dump(), ".");
        try
        {
            m_momentum = config_value<double>(config, "momentum", 0.99);
            m_epsilon = config_value<double>(config, "epsilon", 1e-3);
            m_center = config_value<bool>(config, "center", true);
            m_scale = config_value<bool>(config, "scale", true);
            m_beta_initializer = get_initializer(config.value("beta_initializer", json("zeros")));
            m_gamma_initializer = get_initializer(config.value("gamma_initializer", json("ones")));
            m_moving_mean_initializer = get_initializer(config.value("moving_mean_initializer", json("zeros")));
            m_moving_variance_initializer =
                get_initializer(config.value("moving_variance_initializer", json("ones")));
            m_beta_regularizer = get_regularizer(config.value("beta_regularizer", json(nullptr)));
            m_gamma_regularizer = get_regularizer(config.value("gamma_regularizer", json(nullptr)));
            m_beta_constraint = get_constraint(config.value("beta_constraint", json(nullptr)));
            m_gamma_constraint = get_constraint(config.value("gamma_constraint", json(nullptr)));
            m_synchronized = config_value<bool>(config, "synchronized", false);
            const json fused = config.value("fused", json(nullptr));
            if (!fused.is_null())
                m_fused_arg = config_value<bool>(config, "fused", false);
        }
        catch (const value_error& e)
        {
            throw value_error(where + ": " + e.what());
        }
        XK_CHECK(!config_value<bool>(config, "renorm", false), value_error, where,
                 ": batch renormalization (renorm=True) is not supported.");
        XK_CHECK(config.value("virtual_batch_size", json(nullptr)).is_null(), value_error, where,
                 ": `virtual_batch_size` (ghost batch normalization) is not supported. Received virtual_batch_size=",
                 config["virtual_batch_size"].dump(), ".");
        XK_CHECK(config.value("adjustment", json(nullptr)).is_null(), value_error, where,
                 ": `adjustment` is not supported.");

        // Keras decides at construction whether the fused kernel may run (the input rank is checked at build).
        const std::string dtype = BasicLayer<T>::get_config()["dtype"].template get<std::string>();
        m_float64 = dtype == "float64";
        XK_CHECK(!(m_synchronized && m_fused_arg.value_or(false)), value_error, where,
                 ": `fused=True` is not supported when `synchronized=True`.");
        const bool fusable_axis =
            axes->size() == 1 && std::set<long>{-4, -3, -1, 1, 3, 4}.count(axes->front()) == 1;
        if (m_fused_arg.value_or(false))
        {
            XK_CHECK(fusable_axis, value_error, where,
                     ": passing `fused=True` is only supported when axis is 1 or 3 for input rank = 4 or 1 or 4 "
                     "for input rank = 5. Got axis ",
                     m_axis_config.dump(), ".");
            XK_CHECK(!m_float64, value_error, where,
                     ": passing `fused=True` is only supported when the compute dtype is float16, bfloat16, or "
                     "float32. Got dtype: ",
                     dtype, ".");
        }
        if (m_synchronized || !fusable_axis || m_float64)
            m_fused_arg = false;
    }

    template <class T>
    void BatchNormalization<T>::build_weights(const PartialShape& input_shape)
    {
        const long rank = long(input_shape.size());
        std::vector<long> axes = *axis_list(m_axis_config);
        for (long& a : axes)
            if (a < 0)
                a += rank;
        for (long a : axes)
            XK_CHECK(a >= 0 && a < rank, value_error, this->where(),
                     ": invalid value for `axis` argument. Expected 0 <= axis < inputs.rank (with inputs.rank=", rank,
                     "). Received: axis=", tuple_str(axes), ".");
        XK_CHECK(std::set<long>(axes.begin(), axes.end()).size() == axes.size(), value_error, this->where(),
                 ": duplicate axis: ", tuple_str(axes), ".");

        // The fused kernel (see the header) runs on 4-D and 5-D inputs with the channel axis first or last.
        m_fused = false;
        if (m_fused_arg.value_or(true))
        {
            XK_CHECK(rank == 4 || rank == 5 || !m_fused_arg.value_or(false), value_error, this->where(),
                     ": batch normalization layers with `fused=True` only support 4D or 5D input tensors. "
                     "Received tensor with shape: ",
                     shape_str(input_shape), ".");
            if (rank == 4 || rank == 5)
            {
                const long a = axes.front();
                m_fused = a == 1 || a == rank - 1;
                XK_CHECK(m_fused || rank == 5, value_error, this->where(),
                         ": unsupported axis. The use of `fused=True` is only possible with `axis=1` or `axis=3` "
                         "for 4D input tensors. Received: axis=",
                         tuple_str(axes), ".");
            }
        }

        for (long a : axes)
            XK_CHECK(input_shape[a] > 0, value_error, this->where(),
                     ": input has undefined `axis` dimension. Received input with shape ", shape_str(input_shape),
                     " and axis=", tuple_str(axes), ".");
        Shape param;
        if (axes.size() == 1)
            param = {std::size_t(input_shape[axes.front()])};
        else
            for (long i = 0; i < rank; ++i)
                param.push_back(std::find(axes.begin(), axes.end(), i) != axes.end() ? std::size_t(input_shape[i])
                                                                                     : 1);
        if (m_scale)
            m_gamma = &this->add_weight("gamma", param, m_gamma_initializer, m_gamma_regularizer, m_gamma_constraint);
        if (m_center)
            m_beta = &this->add_weight("beta", param, m_beta_initializer, m_beta_regularizer, m_beta_constraint);
        m_moving_mean = &this->add_weight("moving_mean", param, m_moving_mean_initializer, std::nullopt,
                                          std::nullopt, false);
        m_moving_variance = &this->add_weight("moving_variance", param, m_moving_variance_initializer,
                                              std::nullopt, std::nullopt, false);
        m_axes = axes;
    }

    template <class T>
    void BatchNormalization<T>::check_input(const PartialShape& input_shape) const
    {
        const PartialShape& built = this->input_shape();
        XK_CHECK(input_shape.size() == built.size(), shape_error, "Input 0 of ", this->where(),
                 " is incompatible with the layer: expected ndim=", built.size(), ", found ndim=", input_shape.size(),
                 ". Full shape received: ", shape_str(input_shape), ".");
        for (long a : m_axes)
            XK_CHECK(input_shape[a] == built[a], shape_error, "Input 0 of ", this->where(),
                     " is incompatible with the layer: expected axis ", a, " of input shape to have value ", built[a],
                     ", but received input with shape ", shape_str(input_shape), ".");
    }

    template <class T>
    json BatchNormalization<T>::get_config() const
    {
        json config = BasicLayer<T>::get_config();
        config["axis"] = this->built() ? json(m_axes) : m_axis_config;
        config["momentum"] = m_momentum;
        config["epsilon"] = m_epsilon;
        config["center"] = m_center;
        config["scale"] = m_scale;
        config["beta_initializer"] = serialize(m_beta_initializer);
        config["gamma_initializer"] = serialize(m_gamma_initializer);
        config["moving_mean_initializer"] = serialize(m_moving_mean_initializer);
        config["moving_variance_initializer"] = serialize(m_moving_variance_initializer);
        config["beta_regularizer"] = serialize(m_beta_regularizer);
        config["gamma_regularizer"] = serialize(m_gamma_regularizer);
        config["beta_constraint"] = serialize(m_beta_constraint);
        config["gamma_constraint"] = serialize(m_gamma_constraint);
        return config;
    }

    template <class T>
    json BatchNormalization<T>::keras3_config() const
    {
        json config = get_config();
        config["synchronized"] = m_synchronized;
        return config;
    }

    template <class T>
    typename BatchNormalization<T>::Layout BatchNormalization<T>::layout_of(const Shape& shape) const
    {
        std::vector<long> sorted = m_axes;
        std::sort(sorted.begin(), sorted.end());
        Layout l;
        const bool adjacent = sorted.back() - sorted.front() + 1 == long(sorted.size());
        if (adjacent)
        {
            for (long i = 0; i < long(shape.size()); ++i)
                (i < sorted.front() ? l.outer : i > sorted.back() ? l.inner : l.features) *= shape[i];
            return l;
        }
        // Feature axes apart (axis=[1, 3]): move them last, in order, so features are contiguous and their
        // flat index is the one of the (1, d1, 1, d3) parameters.
        for (long i = 0; i < long(shape.size()); ++i)
            if (!std::binary_search(sorted.begin(), sorted.end(), i))
            {
                l.perm.push_back(std::size_t(i));
                l.outer *= shape[i];
            }
        for (long a : sorted)
        {
            l.perm.push_back(std::size_t(a));
            l.features *= shape[a];
        }
        return l;
    }

    template <class T>
    Tensor<T> BatchNormalization<T>::to_layout(const Tensor& x, const Layout& layout) const
    {
        Tensor moved = xt::transpose(x, layout.perm);
        return moved;
    }

    template <class T>
    Tensor<T> BatchNormalization<T>::forward(const Tensor& x_in, LayerCache<T>& cache) const
    {
        const Layout l = layout_of(shape_of(x_in));
        const Tensor moved = l.perm.empty() ? Tensor() : to_layout(x_in, l);
        const T* x = l.perm.empty() ? x_in.data() : moved.data();
        const std::size_t F = l.features, inner = l.inner, count = l.outer * l.inner;

        // tf.keras 2.x runs a frozen BatchNormalization in inference mode whatever `training` says.
        cache.training = cache.training && this->trainable();
        // tf.nn.fused_batch_norm raises epsilon to cuDNN's minimum, 1.001e-5, in both modes; the config keeps
        // the value given.
        const double epsilon = m_fused ? std::max(m_epsilon, 1.001e-5) : m_epsilon;

        // Per-feature sums over (outer, inner), in double, each partition privately then in a fixed order.
        auto feature_sums = [&](auto value) {
            const std::size_t parts = std::min(l.outer, reduction_parts);
            std::vector<std::vector<double>> partial(parts, std::vector<double>(F, 0.0));
            parallel_for(parts, 1, [&](std::size_t p0, std::size_t p1) {
                for (std::size_t p = p0; p < p1; ++p)
                    for (std::size_t o = l.outer * p / parts; o < l.outer * (p + 1) / parts; ++o)
                        for (std::size_t f = 0; f < F; ++f)
                            for (std::size_t i = 0; i < inner; ++i)
                                partial[p][f] += value(x[(o * F + f) * inner + i], f);
            });
            std::vector<double> total(F, 0.0);
            for (const auto& part : partial)
                for (std::size_t f = 0; f < F; ++f)
                    total[f] += part[f];
            return total;
        };

        Tensor mean = Tensor::from_shape(Shape{F});
        Tensor inv_std = Tensor::from_shape(Shape{F});
        if (cache.training)
        {
            const std::vector<double> sums = feature_sums([](T v, std::size_t) { return double(v); });
            std::vector<double> batch_mean(F);
            for (std::size_t f = 0; f < F; ++f)
                batch_mean[f] = sums[f] / double(count);
            const std::vector<double> squares = feature_sums([&](T v, std::size_t f) {
                const double d = double(v) - batch_mean[f];
                return d * d;
            });
            // The moving statistics are state, not parameters: they live in the non-trainable weights'
            // Variables, whose values the shared handles let a const forward update, as Keras's
            // assign_moving_average does during the training call itself.
            T* moving_mean = m_moving_mean->variable.value().data();
            T* moving_variance = m_moving_variance->variable.value().data();
            const double bessel = m_fused ? double(count) / double(std::max<std::size_t>(count - 1, 1)) : 1.0;
            for (std::size_t f = 0; f < F; ++f)
            {
                const double variance = squares[f] / double(count);
                mean.data()[f] = T(batch_mean[f]);
                inv_std.data()[f] = T(1.0 / std::sqrt(variance + epsilon));
                moving_mean[f] = T(double(moving_mean[f]) * m_momentum + batch_mean[f] * (1.0 - m_momentum));
                moving_variance[f] =
                    T(double(moving_variance[f]) * m_momentum + variance * bessel * (1.0 - m_momentum));
            }
        }
        else
        {
            const T* moving_mean = m_moving_mean->variable.value().data();
            const T* moving_variance = m_moving_variance->variable.value().data();
            for (std::size_t f = 0; f < F; ++f)
            {
                mean.data()[f] = moving_mean[f];
                inv_std.data()[f] = T(1.0 / std::sqrt(double(moving_variance[f]) + epsilon));
            }
        }

        // y = (x - mean) * (inv_std * gamma) + beta
        std::vector<T> scale(F), shift(F, T(0));
        for (std::size_t f = 0; f < F; ++f)
        {
            scale[f] = inv_std.data()[f] * (m_gamma ? m_gamma->variable.value().data()[f] : T(1));
            if (m_beta)
                shift[f] = m_beta->variable.value().data()[f];
        }
        Tensor y_moved = Tensor::from_shape(l.perm.empty() ? shape_of(x_in) : shape_of(moved));
        T* y = y_moved.data();
        parallel_for(l.outer, 16, [&](std::size_t o0, std::size_t o1) {
            for (std::size_t o = o0; o < o1; ++o)
                for (std::size_t f = 0; f < F; ++f)
                    for (std::size_t i = 0; i < inner; ++i)
                    {
                        const std::size_t at = (o * F + f) * inner + i;
                        y[at] = (x[at] - mean.data()[f]) * scale[f] + shift[f];
                    }
        });
        cache.tensors.push_back(std::move(mean)); // the statistics this call normalised with
        cache.tensors.push_back(std::move(inv_std));
        if (l.perm.empty())
            return y_moved;
        std::vector<std::size_t> inverse(l.perm.size());
        for (std::size_t i = 0; i < l.perm.size(); ++i)
            inverse[l.perm[i]] = i;
        Tensor y_out = xt::transpose(y_moved, inverse);
        return y_out;
    }

    template <class T>
    void BatchNormalization<T>::backward(const Tensor& x_in, const Tensor& dz_in, const LayerCache<T>& cache,
                                         Tensor* dx_out)
    {
        const Layout l = layout_of(shape_of(x_in));
        const Tensor x_moved = l.perm.empty() ? Tensor() : to_layout(x_in, l);
        const Tensor dz_moved = l.perm.empty() ? Tensor() : to_layout(dz_in, l);
        const T* x = l.perm.empty() ? x_in.data() : x_moved.data();
        const T* dz = l.perm.empty() ? dz_in.data() : dz_moved.data();
        const std::size_t F = l.features, inner = l.inner, count = l.outer * l.inner;
        const T* mean = cache.tensors.at(0).data();
        const T* inv_std = cache.tensors.at(1).data();

        // sum(dz) and sum(dz * x_hat) per feature: the beta and gamma gradients, and the terms the batch
        // statistics contribute to dx in training mode.
        const std::size_t parts = std::min(l.outer, reduction_parts);
        std::vector<std::vector<double>> partial(parts, std::vector<double>(2 * F, 0.0));
        parallel_for(parts, 1, [&](std::size_t p0, std::size_t p1) {
            for (std::size_t p = p0; p < p1; ++p)
                for (std::size_t o = l.outer * p / parts; o < l.outer * (p + 1) / parts; ++o)
                    for (std::size_t f = 0; f < F; ++f)
                        for (std::size_t i = 0; i < inner; ++i)
                        {
                            const std::size_t at = (o * F + f) * inner + i;
                            partial[p][2 * f] += double(dz[at]);
                            partial[p][2 * f + 1] += double(dz[at]) * double((x[at] - mean[f]) * inv_std[f]);
                        }
        });
        std::vector<double> sum_dz(F, 0.0), sum_dz_xhat(F, 0.0);
        for (const auto& part : partial)
            for (std::size_t f = 0; f < F; ++f)
            {
                sum_dz[f] += part[2 * f];
                sum_dz_xhat[f] += part[2 * f + 1];
            }
        if (m_gamma)
            if (Tensor* dgamma = this->grad_of(*m_gamma))
                for (std::size_t f = 0; f < F; ++f)
                    dgamma->data()[f] += T(sum_dz_xhat[f]);
        if (m_beta)
            if (Tensor* dbeta = this->grad_of(*m_beta))
                for (std::size_t f = 0; f < F; ++f)
                    dbeta->data()[f] += T(sum_dz[f]);
        if (!dx_out)
            return;

        // Inference: dx = dz * gamma * inv_std. Training, through the batch mean and variance too:
        // dx = gamma * inv_std * (dz - mean(dz) - x_hat * mean(dz * x_hat)).
        const bool training = cache.training;
        std::vector<T> scale(F), mean_dz(F, T(0)), mean_dz_xhat(F, T(0));
        for (std::size_t f = 0; f < F; ++f)
        {
            scale[f] = inv_std[f] * (m_gamma ? m_gamma->variable.value().data()[f] : T(1));
            if (training)
            {
                mean_dz[f] = T(sum_dz[f] / double(count));
                mean_dz_xhat[f] = T(sum_dz_xhat[f] / double(count));
            }
        }
        Tensor dx_moved = l.perm.empty() ? Tensor() : Tensor(shape_of(x_moved), T(0));
        T* dx = l.perm.empty() ? dx_out->data() : dx_moved.data();
        parallel_for(l.outer, 16, [&](std::size_t o0, std::size_t o1) {
            for (std::size_t o = o0; o < o1; ++o)
                for (std::size_t f = 0; f < F; ++f)
                    for (std::size_t i = 0; i < inner; ++i)
                    {
                        const std::size_t at = (o * F + f) * inner + i;
                        const T x_hat = (x[at] - mean[f]) * inv_std[f];
                        dx[at] += scale[f] * (dz[at] - mean_dz[f] - x_hat * mean_dz_xhat[f]);
                    }
        });
        if (l.perm.empty())
            return;
        std::vector<std::size_t> inverse(l.perm.size());
        for (std::size_t i = 0; i < l.perm.size(); ++i)
            inverse[l.perm[i]] = i;
        *dx_out += xt::transpose(dx_moved, inverse);
    }

    template class BatchNormalization<float>;
    template class BatchNormalization<double>;
}
