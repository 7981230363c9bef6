#include "framework/keras/regularizers.hpp"

#include <cmath>

namespace xk
{
    namespace
    {
        // Keras's _check_penalty_number: any finite int or float, negative ones included. The factor is then
        // stored as floatx (float32), which is why get_config of L1(0.01) reports 0.009999999776482582.
        double penalty_factor(double value)
        {
            XK_CHECK(std::isfinite(value), value_error, "Value ", value,
                     " is not a valid regularization penalty number, an infinite number or NaN are not valid values.");
            return static_cast<double>(static_cast<float>(value));
        }

        double penalty_argument(const json& config, const std::string& key, double fallback)
        {
            auto it = config.find(key);
            if (it == config.end() || it->is_null())
                return fallback;
            XK_CHECK(it->is_number(), value_error, "Value ", it->dump(),
                     " is not a valid regularization penalty number, expected an int or float value.");
            return it->get<double>();
        }

        void check_keys(const json& config, const std::string& class_name, const std::vector<std::string>& known)
        {
            XK_CHECK(config.is_object(), value_error, "The config of ", class_name,
                     " must be a JSON object. Received: config=", config.dump(), ".");
            auto unknown = unknown_keys(config, known);
            XK_CHECK(unknown.empty(), value_error, "Unrecognized keyword argument passed to ", class_name, ": '",
                     unknown.empty() ? "" : unknown.front(), "'.");
        }

        const char* known_names = "L1, L1L2, L2, l1, l1_l2, l2";

        Regularizer from_config(const std::string& name, const json& config)
        {
            // L1 and L2 also take `l`, their argument's name before TF 2.3.
            if (name == "L1" || name == "l1")
            {
                check_keys(config, "L1", {"l1", "l"});
                double l1 = penalty_argument(config, "l1", 0.01);
                return Regularizer::l1(penalty_argument(config, "l", l1));
            }
            if (name == "L2" || name == "l2")
            {
                check_keys(config, "L2", {"l2", "l"});
                double l2 = penalty_argument(config, "l2", 0.01);
                return Regularizer::l2(penalty_argument(config, "l", l2));
            }
            // The class defaults to no penalty; the l1_l2 function (and its string name) to 0.01 each.
            double fallback = name == "l1_l2" ? 0.01 : 0.0;
            XK_CHECK(name == "L1L2" || name == "l1_l2", value_error, "Unknown regularizer: '", name,
                     "'. Expected one of: ", known_names, ".");
            check_keys(config, name, {"l1", "l2"});
            // An explicit null means 0 even for l1_l2, since L1L2 maps None to 0.
            auto read = [&](const char* key) {
                return config.contains(key) && config[key].is_null() ? 0.0 : penalty_argument(config, key, fallback);
            };
            return Regularizer::l1_l2(read("l1"), read("l2"));
        }
    }

    Regularizer Regularizer::l1(double l1)
    {
        return Regularizer(Kind::L1, penalty_factor(l1), 0.0);
    }

    Regularizer Regularizer::l2(double l2)
    {
        return Regularizer(Kind::L2, 0.0, penalty_factor(l2));
    }

    Regularizer Regularizer::l1_l2(double l1, double l2)
    {
        return Regularizer(Kind::L1L2, penalty_factor(l1), penalty_factor(l2));
    }

    std::string Regularizer::class_name() const
    {
        switch (m_kind)
        {
        case Kind::L1:
            return "L1";
        case Kind::L2:
            return "L2";
        default:
            return "L1L2";
        }
    }

    json Regularizer::get_config() const
    {
        switch (m_kind)
        {
        case Kind::L1:
            return {{"l1", m_l1}};
        case Kind::L2:
            return {{"l2", m_l2}};
        default:
            return {{"l1", m_l1}, {"l2", m_l2}};
        }
    }

    template <class T>
    T Regularizer::penalty(const Tensor<T>& w) const
    {
        // Accumulated in double: closer to TensorFlow's tree-reduced float sums than a running float sum.
        double abs_sum = 0.0, square_sum = 0.0;
        for (T v : w)
        {
            abs_sum += std::abs(double(v));
            square_sum += double(v) * double(v);
        }
        return static_cast<T>(m_l1 * abs_sum + m_l2 * square_sum);
    }

    template <class T>
    void Regularizer::add_gradient(const Tensor<T>& w, Tensor<T>& grad, T scale) const
    {
        XK_CHECK(w.shape() == grad.shape(), shape_error, "The gradient of a regularized weight must have its shape. ",
                 "Expected: ", shape_str(shape_of(w)), ". Received: ", shape_str(shape_of(grad)), ".");
        const T l1 = static_cast<T>(m_l1), two_l2 = static_cast<T>(2.0 * m_l2);
        const T* src = w.data();
        T* dst = grad.data();
        for (std::size_t i = 0, n = w.size(); i < n; ++i)
        {
            T sign = src[i] > T(0) ? T(1) : (src[i] < T(0) ? T(-1) : T(0));
            dst[i] += scale * (l1 * sign + two_l2 * src[i]);
        }
    }

    template float Regularizer::penalty<float>(const Tensor<float>&) const;
    template double Regularizer::penalty<double>(const Tensor<double>&) const;
    template void Regularizer::add_gradient<float>(const Tensor<float>&, Tensor<float>&, float) const;
    template void Regularizer::add_gradient<double>(const Tensor<double>&, Tensor<double>&, double) const;

    std::optional<Regularizer> get_regularizer(const json& identifier)
    {
        if (identifier.is_null())
            return std::nullopt;
        if (identifier.is_string())
            return from_config(identifier.get<std::string>(), json::object());
        XK_CHECK(identifier.is_object(), value_error,
                 "Could not interpret regularizer identifier: ", identifier.dump(), ".");
        auto name = identifier.find("class_name");
        XK_CHECK(name != identifier.end() && name->is_string(), value_error, "Improper config format: ",
                 identifier.dump(), ". Expecting a JSON object with `class_name` and `config` as keys.");
        auto config = identifier.find("config");
        bool no_config = config == identifier.end() || config->is_null();
        return from_config(name->get<std::string>(), no_config ? json::object() : *config);
    }

    json serialize(const std::optional<Regularizer>& regularizer)
    {
        if (!regularizer)
            return nullptr;
        return {{"class_name", regularizer->class_name()}, {"config", regularizer->get_config()}};
    }
}
