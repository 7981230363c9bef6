#include "framework/training/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <map>

namespace xk
{
    namespace
    {
        /// Keras's squeeze_or_expand_dimensions on shapes: a trailing axis of 1 that only one side has is
        /// dropped. Row-major data does not move, so only the shapes change.
        void squeeze_or_expand(Shape& t, Shape& p)
        {
            if (p.size() == t.size() + 1 && p.back() == 1)
                p.pop_back();
            else if (t.size() == p.size() + 1 && t.back() == 1)
                t.pop_back();
        }

        Shape drop_last(Shape s)
        {
            s.pop_back();
            return s;
        }

        template <class T>
        void require_equal(const Shape& t, const Shape& p, const char* metric, const Tensor<T>& y_true,
                           const Tensor<T>& y_pred)
        {
            XK_CHECK(t == p, shape_error, metric, ": y_true of shape ", shape_str(shape_of(y_true)),
                     " does not match y_pred of shape ", shape_str(shape_of(y_pred)), ".");
            XK_CHECK(!p.empty(), shape_error, metric, ": y_pred must have at least one axis. Received shape ().");
        }

        /// Index of the first maximum (TensorFlow's argmax keeps the lowest index on ties).
        template <class T>
        std::size_t argmax(const T* x, std::size_t n)
        {
            std::size_t best = 0;
            for (std::size_t j = 1; j < n; ++j)
                if (x[j] > x[best])
                    best = j;
            return best;
        }

        /// tf.math.in_top_k for one row: fewer than k classes score strictly higher than the target's.
        template <class T>
        bool in_top_k(const T* scores, std::size_t n, long target, int k)
        {
            if (target < 0 || static_cast<std::size_t>(target) >= n || !std::isfinite(scores[target]))
                return false;
            const T t = scores[target];
            int higher = 0;
            for (std::size_t j = 0; j < n; ++j)
            {
                if (!std::isfinite(scores[j]))
                    return false;
                if (scores[j] > t)
                    ++higher;
            }
            return higher < k;
        }

        template <class T>
        Tensor<T> reshaped(const Tensor<T>& x, const Shape& shape)
        {
            Tensor<T> out = x;
            out.reshape(shape);
            return out;
        }

        struct KindInfo
        {
            std::string class_name;
            std::string default_name;
        };

        const KindInfo& info(Metric::Kind kind)
        {
            static const std::map<Metric::Kind, KindInfo> table{
                {Metric::Kind::Accuracy, {"Accuracy", "accuracy"}},
                {Metric::Kind::BinaryAccuracy, {"BinaryAccuracy", "binary_accuracy"}},
                {Metric::Kind::CategoricalAccuracy, {"CategoricalAccuracy", "categorical_accuracy"}},
                {Metric::Kind::SparseCategoricalAccuracy, {"SparseCategoricalAccuracy", "sparse_categorical_accuracy"}},
                {Metric::Kind::TopKCategoricalAccuracy, {"TopKCategoricalAccuracy", "top_k_categorical_accuracy"}},
                {Metric::Kind::SparseTopKCategoricalAccuracy,
                 {"SparseTopKCategoricalAccuracy", "sparse_top_k_categorical_accuracy"}},
                {Metric::Kind::AutoAccuracy, {"MeanMetricWrapper", "accuracy"}}};
            return table.at(kind);
        }

        const std::map<std::string, Metric::Kind>& function_names()
        {
            static const std::map<std::string, Metric::Kind> names{
                {"accuracy", Metric::Kind::AutoAccuracy},
                {"acc", Metric::Kind::AutoAccuracy},
                {"binary_accuracy", Metric::Kind::BinaryAccuracy},
                {"categorical_accuracy", Metric::Kind::CategoricalAccuracy},
                {"sparse_categorical_accuracy", Metric::Kind::SparseCategoricalAccuracy},
                {"top_k_categorical_accuracy", Metric::Kind::TopKCategoricalAccuracy},
                {"sparse_top_k_categorical_accuracy", Metric::Kind::SparseTopKCategoricalAccuracy}};
            return names;
        }

        const std::map<std::string, Metric::Kind>& class_names()
        {
            static const std::map<std::string, Metric::Kind> names{
                {"Accuracy", Metric::Kind::Accuracy},
                {"BinaryAccuracy", Metric::Kind::BinaryAccuracy},
                {"CategoricalAccuracy", Metric::Kind::CategoricalAccuracy},
                {"SparseCategoricalAccuracy", Metric::Kind::SparseCategoricalAccuracy},
                {"TopKCategoricalAccuracy", Metric::Kind::TopKCategoricalAccuracy},
                {"SparseTopKCategoricalAccuracy", Metric::Kind::SparseTopKCategoricalAccuracy}};
            return names;
        }

        std::string known_metrics()
        {
            std::string out;
            for (const auto& table : {function_names(), class_names()})
                for (const auto& entry : table)
                    out += (out.empty() ? "" : ", ") + entry.first;
            return out;
        }

        Metric::Kind resolved_kind(const std::string& name)
        {
            return function_names().at(name);
        }
    }

    // ---------------------------------------------------------------- metric functions

    namespace metrics
    {
        template <class T>
        Tensor<T> accuracy(const Tensor<T>& y_true, const Tensor<T>& y_pred)
        {
            Shape t = shape_of(y_true), p = shape_of(y_pred);
            squeeze_or_expand(t, p);
            XK_CHECK(t == p, shape_error, "accuracy: y_true of shape ", shape_str(shape_of(y_true)),
                     " does not match y_pred of shape ", shape_str(shape_of(y_pred)), ".");
            Tensor<T> out = Tensor<T>::from_shape(p);
            for (std::size_t i = 0, n = out.size(); i < n; ++i)
                out.data()[i] = y_true.data()[i] == y_pred.data()[i] ? T(1) : T(0);
            return out;
        }

        template <class T>
        Tensor<T> binary_accuracy(const Tensor<T>& y_true, const Tensor<T>& y_pred, double threshold)
        {
            Shape t = shape_of(y_true), p = shape_of(y_pred);
            squeeze_or_expand(t, p);
            require_equal(t, p, "binary_accuracy", y_true, y_pred);
            const std::size_t classes = p.back();
            Tensor<T> out = Tensor<T>::from_shape(drop_last(p));
            const T thr = static_cast<T>(threshold);
            for (std::size_t r = 0, rows = out.size(); r < rows; ++r)
            {
                T hits = 0;
                for (std::size_t j = r * classes; j < (r + 1) * classes; ++j)
                    hits += y_true.data()[j] == (y_pred.data()[j] > thr ? T(1) : T(0)) ? T(1) : T(0);
                out.data()[r] = hits / static_cast<T>(classes);
            }
            return out;
        }

        template <class T>
        Tensor<T> categorical_accuracy(const Tensor<T>& y_true, const Tensor<T>& y_pred)
        {
            Shape t = shape_of(y_true), p = shape_of(y_pred);
            squeeze_or_expand(t, p);
            require_equal(t, p, "categorical_accuracy", y_true, y_pred);
            const std::size_t classes = p.back();
            Tensor<T> out = Tensor<T>::from_shape(drop_last(p));
            for (std::size_t r = 0, rows = out.size(); r < rows; ++r)
                out.data()[r] =
                    argmax(y_true.data() + r * classes, classes) == argmax(y_pred.data() + r * classes, classes) ? T(1)
                                                                                                                 : T(0);
            return out;
        }

        template <class T>
        Tensor<T> sparse_categorical_accuracy(const Tensor<T>& y_true, const Tensor<T>& y_pred)
        {
            Shape t = shape_of(y_true), p = shape_of(y_pred);
            squeeze_or_expand(t, p);
            XK_CHECK(!p.empty(), shape_error, "sparse_categorical_accuracy: y_pred must have at least one axis.");
            // Keras squeezes a (batch, 1) y_true to (batch,).
            if (t.size() == p.size() && !t.empty() && t.back() == 1)
                t.pop_back();
            const Shape rows_shape = drop_last(p);
            XK_CHECK(t == rows_shape, shape_error, "sparse_categorical_accuracy: y_true of shape ",
                     shape_str(shape_of(y_true)), " must hold one label per row of y_pred of shape ",
                     shape_str(shape_of(y_pred)), ".");
            const std::size_t classes = p.back();
            Tensor<T> out = Tensor<T>::from_shape(rows_shape);
            for (std::size_t r = 0, rows = out.size(); r < rows; ++r)
                out.data()[r] =
                    y_true.data()[r] == static_cast<T>(argmax(y_pred.data() + r * classes, classes)) ? T(1) : T(0);
            return out;
        }

        template <class T>
        Tensor<T> top_k_categorical_accuracy(const Tensor<T>& y_true, const Tensor<T>& y_pred, int k)
        {
            Shape t = shape_of(y_true), p = shape_of(y_pred);
            squeeze_or_expand(t, p);
            require_equal(t, p, "top_k_categorical_accuracy", y_true, y_pred);
            const std::size_t classes = p.back();
            Tensor<T> out = Tensor<T>::from_shape(drop_last(p));
            for (std::size_t r = 0, rows = out.size(); r < rows; ++r)
            {
                const long target = static_cast<long>(argmax(y_true.data() + r * classes, classes));
                out.data()[r] = in_top_k(y_pred.data() + r * classes, classes, target, k) ? T(1) : T(0);
            }
            return out;
        }

        template <class T>
        Tensor<T> sparse_top_k_categorical_accuracy(const Tensor<T>& y_true, const Tensor<T>& y_pred, int k)
        {
            const Shape p = shape_of(y_pred);
            XK_CHECK(!p.empty(), shape_error, "sparse_top_k_categorical_accuracy: y_pred must have at least one axis.");
            const std::size_t classes = p.back();
            Tensor<T> out = Tensor<T>::from_shape(drop_last(p));
            XK_CHECK(y_true.size() == out.size(), shape_error, "sparse_top_k_categorical_accuracy: y_true of shape ",
                     shape_str(shape_of(y_true)), " must hold one label per row of y_pred of shape ", shape_str(p),
                     ".");
            for (std::size_t r = 0, rows = out.size(); r < rows; ++r)
            {
                const T label = y_true.data()[r];
                // Keras casts the labels to int32; a non-finite one cannot be in the top k.
                const long target = std::isfinite(label) ? static_cast<long>(label) : -1;
                out.data()[r] = in_top_k(y_pred.data() + r * classes, classes, target, k) ? T(1) : T(0);
            }
            return out;
        }

        std::string resolve_accuracy(const Shape& y_true_in, const Shape& y_pred)
        {
            XK_CHECK(!y_true_in.empty() && !y_pred.empty(), shape_error,
                     "Cannot resolve `accuracy` for y_true of shape ", shape_str(y_true_in), " and y_pred of shape ",
                     shape_str(y_pred), ": both need at least one axis.");
            Shape y_true = y_true_in;
            if (y_true.size() == 1 && y_pred.size() == 2) // compile's match_dtype_and_rank
                y_true.push_back(1);
            const bool is_binary = y_pred.back() == 1;
            const bool is_sparse = y_true.size() < y_pred.size() || (y_true.back() == 1 && y_pred.back() > 1);
            if (is_binary)
                return "binary_accuracy";
            return is_sparse ? "sparse_categorical_accuracy" : "categorical_accuracy";
        }
    }

    // ---------------------------------------------------------------- Mean

    template <class T>
    void Mean::update_state(const Tensor<T>& values)
    {
        double sum = 0.0;
        for (std::size_t i = 0, n = values.size(); i < n; ++i)
            sum += double(values.data()[i]);
        m_total += sum;
        m_count += double(values.size());
    }

    void Mean::update_state(double value, double weight)
    {
        m_total += value * weight;
        m_count += weight;
    }

    void Mean::reset_state()
    {
        m_total = 0.0;
        m_count = 0.0;
    }

    json Mean::get_config() const
    {
        return {{"name", m_name}, {"dtype", "float32"}};
    }

    // ---------------------------------------------------------------- Metric

    Metric::Metric(Kind kind, const json& config_in) : m_kind(kind), m_mean(info(kind).default_name)
    {
        const json config = config_in.is_null() ? json::object() : config_in;
        const KindInfo& k = info(kind);
        XK_CHECK(config.is_object(), value_error, "The config of ", k.class_name,
                 " must be a JSON object. Received: ", config.dump(), ".");
        std::vector<std::string> known{"name", "dtype"};
        if (kind == Kind::BinaryAccuracy)
            known.push_back("threshold");
        if (kind == Kind::TopKCategoricalAccuracy || kind == Kind::SparseTopKCategoricalAccuracy)
            known.push_back("k");
        auto unknown = unknown_keys(config, known);
        XK_CHECK(unknown.empty(), value_error, k.class_name, " got an unexpected keyword argument '",
                 unknown.empty() ? "" : unknown.front(), "'.");
        m_mean = Mean(config_value<std::string>(config, "name", k.default_name));
        m_threshold = config_value<double>(config, "threshold", 0.5);
        m_k = config_value<int>(config, "k", 5);
        XK_CHECK(m_k > 0, value_error, "Invalid value for argument `k` of ", k.class_name,
                 ". Expected a strictly positive integer. Received: k=", m_k, ".");
    }

    Metric Metric::function(const std::string& name)
    {
        auto it = function_names().find(name);
        XK_CHECK(it != function_names().end(), unknown_identifier_error, "Unknown metric function: '", name,
                 "'. Expected one of: ", known_metrics(), ".");
        Metric metric(it->second, {{"name", name}});
        metric.m_is_function = true;
        return metric;
    }

    std::string Metric::class_name() const
    {
        return info(m_kind).class_name;
    }

    json Metric::get_config() const
    {
        json config = m_mean.get_config();
        if (m_kind == Kind::BinaryAccuracy)
            config["threshold"] = m_threshold;
        if (m_kind == Kind::TopKCategoricalAccuracy || m_kind == Kind::SparseTopKCategoricalAccuracy)
            config["k"] = m_k;
        return config;
    }

    template <class T>
    Tensor<T> Metric::call(const Tensor<T>& y_true_in, const Tensor<T>& y_pred_in) const
    {
        // compile's match_dtype_and_rank, then MeanMetricWrapper's squeeze_or_expand_dimensions.
        Shape t = shape_of(y_true_in), p = shape_of(y_pred_in);
        if (t.size() == 1 && p.size() == 2)
            t.push_back(1);
        Kind kind = m_kind == Kind::AutoAccuracy ? resolved_kind(metrics::resolve_accuracy(t, p)) : m_kind;
        squeeze_or_expand(t, p);
        const Tensor<T>* y_true = &y_true_in;
        const Tensor<T>* y_pred = &y_pred_in;
        Tensor<T> true_view, pred_view;
        if (t != shape_of(y_true_in))
        {
            XK_CHECK(shape_size(t) == y_true_in.size(), shape_error, "metric ", name(), ": y_true of shape ",
                     shape_str(shape_of(y_true_in)), " cannot be viewed as ", shape_str(t), ".");
            true_view = reshaped(y_true_in, t);
            y_true = &true_view;
        }
        if (p != shape_of(y_pred_in))
        {
            pred_view = reshaped(y_pred_in, p);
            y_pred = &pred_view;
        }
        switch (kind)
        {
        case Kind::Accuracy:
            return metrics::accuracy(*y_true, *y_pred);
        case Kind::BinaryAccuracy:
            return metrics::binary_accuracy(*y_true, *y_pred, m_threshold);
        case Kind::CategoricalAccuracy:
            return metrics::categorical_accuracy(*y_true, *y_pred);
        case Kind::SparseCategoricalAccuracy:
            return metrics::sparse_categorical_accuracy(*y_true, *y_pred);
        case Kind::TopKCategoricalAccuracy:
            return metrics::top_k_categorical_accuracy(*y_true, *y_pred, m_k);
        default:
            return metrics::sparse_top_k_categorical_accuracy(*y_true, *y_pred, m_k);
        }
    }

    template <class T>
    double Metric::update_state(const Tensor<T>& y_true, const Tensor<T>& y_pred)
    {
        if (m_kind == Kind::AutoAccuracy)
        {
            Shape t = shape_of(y_true);
            if (t.size() == 1 && y_pred.dimension() == 2)
                t.push_back(1);
            m_kind = resolved_kind(metrics::resolve_accuracy(t, shape_of(y_pred)));
        }
        Tensor<T> values = call(y_true, y_pred);
        m_mean.update_state(values);
        Mean batch;
        batch.update_state(values);
        return batch.result();
    }

    Metric get_metric(const json& identifier)
    {
        if (identifier.is_string())
        {
            const std::string name = identifier.get<std::string>();
            if (function_names().count(name))
                return Metric::function(name);
            auto it = class_names().find(name);
            XK_CHECK(it != class_names().end(), unknown_identifier_error, "Unknown metric function: '", name,
                     "'. Expected one of: ", known_metrics(), ".");
            return Metric(it->second);
        }
        XK_CHECK(identifier.is_object(), value_error, "Could not interpret metric identifier: ", identifier.dump(),
                 ".");
        auto name = identifier.find("class_name");
        XK_CHECK(name != identifier.end() && name->is_string(), value_error,
                 "Improper config format: ", identifier.dump(),
                 ". Expecting a JSON object with `class_name` and `config` as keys.");
        auto config = identifier.find("config");
        if (*name == "MeanMetricWrapper" && config != identifier.end() && config->is_object() && config->contains("fn"))
        {
            // tf.keras's compiled string metrics: {"name": "accuracy", "fn": "categorical_accuracy"}.
            const json& fn = (*config)["fn"];
            const json fn_name = fn.is_object() ? fn.value("config", json()) : fn;
            XK_CHECK(fn_name.is_string() && function_names().count(fn_name.get<std::string>()), unknown_identifier_error,
                     "Unknown metric function: ", fn.dump(), " (the fn of a MeanMetricWrapper). Expected one of: ",
                     known_metrics(), ".");
            json rest = *config;
            rest.erase("fn");
            return Metric(function_names().at(fn_name.get<std::string>()), rest);
        }
        auto it = class_names().find(name->get<std::string>());
        XK_CHECK(it != class_names().end(), unknown_identifier_error, "Unknown metric class: '", name->get<std::string>(),
                 "'. Expected one of: ", known_metrics(), ".");
        return Metric(it->second, config == identifier.end() ? json::object() : *config);
    }

    json serialize(const Metric& metric)
    {
        if (metric.is_function())
            return metric.name();
        return {{"class_name", metric.class_name()}, {"config", metric.get_config()}};
    }

#define XK_INSTANTIATE_METRICS(T)                                                                                      \
    template Tensor<T> metrics::accuracy(const Tensor<T>&, const Tensor<T>&);                                          \
    template Tensor<T> metrics::binary_accuracy(const Tensor<T>&, const Tensor<T>&, double);                           \
    template Tensor<T> metrics::categorical_accuracy(const Tensor<T>&, const Tensor<T>&);                              \
    template Tensor<T> metrics::sparse_categorical_accuracy(const Tensor<T>&, const Tensor<T>&);                       \
    template Tensor<T> metrics::top_k_categorical_accuracy(const Tensor<T>&, const Tensor<T>&, int);                   \
    template Tensor<T> metrics::sparse_top_k_categorical_accuracy(const Tensor<T>&, const Tensor<T>&, int);            \
    template void Mean::update_state(const Tensor<T>&);                                                                \
    template Tensor<T> Metric::call(const Tensor<T>&, const Tensor<T>&) const;                                         \
    template double Metric::update_state(const Tensor<T>&, const Tensor<T>&);

    XK_INSTANTIATE_METRICS(float)
    XK_INSTANTIATE_METRICS(double)
}
