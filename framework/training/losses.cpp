#include "framework/training/losses.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <vector>

namespace xk
{
    namespace
    {
        enum class Reduction
        {
            SumOverBatchSize,
            Sum
        };

        /// y_pred seen as rows x classes: classes is the last axis, rows everything before it.
        struct Layout
        {
            std::size_t rows;
            std::size_t classes;
        };

        Layout layout_of(const Shape& pred, const char* loss)
        {
            XK_CHECK(!pred.empty(), shape_error, loss, ": y_pred must have at least one axis. Received shape ().");
            const std::size_t size = shape_size(pred);
            XK_CHECK(size > 0, shape_error, loss, ": y_pred of shape ", shape_str(pred), " is empty.");
            return {size / pred.back(), pred.back()};
        }

        bool equal_but_trailing_one(const Shape& longer, const Shape& shorter)
        {
            return longer.size() == shorter.size() + 1 && longer.back() == 1 &&
                   std::equal(shorter.begin(), shorter.end(), longer.begin());
        }

        /// Keras's squeeze_or_expand_dimensions: equal shapes, or equal once a trailing 1 is dropped. The
        /// row-major element order is the same either way, so y_true's data is used as it is.
        template <class T>
        void check_target(const Tensor<T>& y_true, const Shape& pred, const char* loss)
        {
            const Shape t = shape_of(y_true);
            XK_CHECK(t == pred || equal_but_trailing_one(t, pred) || equal_but_trailing_one(pred, t), shape_error, loss,
                     ": y_true of shape ", shape_str(t), " does not match y_pred of shape ", shape_str(pred), ".");
        }

        /// The 0-d loss total / divisor, whose backward adds upstream / divisor * dpred into y_pred's gradient.
        template <class T>
        BasicVariable<T> finish(BasicTape<T>& tape, const BasicVariable<T>& y_pred, bool needs, double total,
                                double divisor, std::shared_ptr<const Tensor<T>> dpred)
        {
            Tensor<T> value = Tensor<T>::from_shape({});
            value() = static_cast<T>(total / divisor);
            BasicVariable<T> out(std::move(value), needs);
            if (needs)
                tape.record([y_pred, out, dpred, divisor]() {
                    if (!out.has_grad())
                        return;
                    const T scale = static_cast<T>(double(out.grad()()) / divisor);
                    T* dst = y_pred.grad_buffer().data();
                    const T* src = dpred->data();
                    for (std::size_t i = 0, n = dpred->size(); i < n; ++i)
                        dst[i] += scale * src[i];
                });
            return out;
        }

        double divisor_of(Reduction reduction, std::size_t rows)
        {
            return reduction == Reduction::Sum ? 1.0 : static_cast<double>(rows);
        }

        // ------------------------------------------------------------ the fused losses

        template <class T>
        BasicVariable<T> categorical_impl(BasicTape<T>& tape, const Tensor<T>& y_true, const BasicVariable<T>& y_pred,
                                          bool from_logits, double label_smoothing, Reduction reduction)
        {
            const char* loss = "categorical_crossentropy";
            const Layout L = layout_of(y_pred.shape(), loss);
            check_target(y_true, y_pred.shape(), loss);
            const bool needs = tape.needs_grad(y_pred);
            auto dpred = needs ? std::make_shared<Tensor<T>>(Tensor<T>::from_shape(y_pred.shape())) : nullptr;

            const std::size_t C = L.classes;
            const T eps = static_cast<T>(losses::epsilon);
            const T hi = T(1) - eps;
            const T keep = static_cast<T>(1.0 - label_smoothing);
            const T spread = static_cast<T>(label_smoothing) / static_cast<T>(C);
            std::vector<T> t(C), work(C);
            double total = 0.0;
            for (std::size_t r = 0; r < L.rows; ++r)
            {
                const T* tr = y_true.data() + r * C;
                const T* p = y_pred.value().data() + r * C;
                T* d = dpred ? dpred->data() + r * C : nullptr;
                for (std::size_t j = 0; j < C; ++j)
                    t[j] = label_smoothing != 0.0 ? tr[j] * keep + spread : tr[j];
                if (from_logits)
                {
                    // softmax_cross_entropy_with_logits: sum_j t_j (lse - z_j), shifted by the row max.
                    const T m = *std::max_element(p, p + C);
                    T se = 0;
                    for (std::size_t j = 0; j < C; ++j)
                        se += std::exp(p[j] - m);
                    const T lse = std::log(se);
                    T row = 0, tsum = 0;
                    for (std::size_t j = 0; j < C; ++j)
                    {
                        row += t[j] * (lse - (p[j] - m));
                        tsum += t[j];
                    }
                    total += double(row);
                    if (d) // the exact derivative: sum(t) softmax - t (softmax - t for normalised labels)
                        for (std::size_t j = 0; j < C; ++j)
                            d[j] = tsum * (std::exp(p[j] - m) / se) - t[j];
                    continue;
                }
                // Keras: p / sum(p), clipped to [eps, 1 - eps], then -sum(t log p).
                T s = 0;
                for (std::size_t j = 0; j < C; ++j)
                    s += p[j];
                T row = 0;
                for (std::size_t j = 0; j < C; ++j)
                {
                    work[j] = std::clamp(p[j] / s, eps, hi);
                    row += t[j] * std::log(work[j]);
                }
                total -= double(row);
                if (d)
                {
                    // u = dL/dq (zero where the clip cut), then through q = p / s: (u_k - sum_j u_j q_j) / s.
                    T dot = 0;
                    for (std::size_t j = 0; j < C; ++j)
                    {
                        const T q = p[j] / s;
                        const T u = (q >= eps && q <= hi) ? -t[j] / work[j] : T(0);
                        work[j] = u;
                        dot += u * q;
                    }
                    for (std::size_t j = 0; j < C; ++j)
                        d[j] = (work[j] - dot) / s;
                }
            }
            return finish<T>(tape, y_pred, needs, total, divisor_of(reduction, L.rows), dpred);
        }

        template <class T>
        BasicVariable<T> sparse_impl(BasicTape<T>& tape, const Tensor<T>& y_true, const BasicVariable<T>& y_pred,
                                     bool from_logits, Reduction reduction)
        {
            const char* loss = "sparse_categorical_crossentropy";
            const Shape pred = y_pred.shape();
            const Layout L = layout_of(pred, loss);
            XK_CHECK(y_true.size() == L.rows, shape_error, loss, ": y_true of shape ", shape_str(shape_of(y_true)),
                     " must hold one label per row of y_pred of shape ", shape_str(pred), " (", L.rows, " labels).");
            const bool needs = tape.needs_grad(y_pred);
            auto dpred = needs ? std::make_shared<Tensor<T>>(Tensor<T>::from_shape(pred)) : nullptr;

            const std::size_t C = L.classes;
            const T eps = static_cast<T>(losses::epsilon);
            const T hi = T(1) - eps;
            std::vector<T> z(C);
            double total = 0.0;
            for (std::size_t r = 0; r < L.rows; ++r)
            {
                const T label = y_true.data()[r];
                // Keras casts the labels to int64 (truncation); TensorFlow rejects labels out of range.
                XK_CHECK(std::isfinite(label) && label > T(-1) && label < static_cast<T>(C), value_error, loss,
                         ": received a label value of ", label, " which is outside the valid range of [0, ", C,
                         ") (row ", r, ").");
                const std::size_t k = static_cast<std::size_t>(label);
                const T* p = y_pred.value().data() + r * C;
                // Keras: the logits, or log of the clipped probabilities, into sparse softmax crossentropy.
                for (std::size_t j = 0; j < C; ++j)
                    z[j] = from_logits ? p[j] : std::log(std::clamp(p[j], eps, hi));
                const T m = *std::max_element(z.begin(), z.end());
                T se = 0;
                for (std::size_t j = 0; j < C; ++j)
                    se += std::exp(z[j] - m);
                const T lse = std::log(se);
                total += double(lse - (z[k] - m));
                if (!dpred)
                    continue;
                T* d = dpred->data() + r * C;
                for (std::size_t j = 0; j < C; ++j)
                {
                    T dz = std::exp(z[j] - m) / se - (j == k ? T(1) : T(0));
                    if (!from_logits) // through log(clip(p)): 1 / clip(p) inside the clip range, 0 outside
                        dz = (p[j] >= eps && p[j] <= hi) ? dz / p[j] : T(0);
                    d[j] = dz;
                }
            }
            return finish<T>(tape, y_pred, needs, total, divisor_of(reduction, L.rows), dpred);
        }

        /// An elementwise loss averaged over the last axis: f(p, t) returns {loss, dloss/dp}.
        template <class T, class F>
        BasicVariable<T> elementwise_impl(BasicTape<T>& tape, const Tensor<T>& y_true, const BasicVariable<T>& y_pred,
                                          const char* loss, Reduction reduction, F f)
        {
            const Layout L = layout_of(y_pred.shape(), loss);
            check_target(y_true, y_pred.shape(), loss);
            const bool needs = tape.needs_grad(y_pred);
            auto dpred = needs ? std::make_shared<Tensor<T>>(Tensor<T>::from_shape(y_pred.shape())) : nullptr;
            const T* t = y_true.data();
            const T* p = y_pred.value().data();
            T* d = dpred ? dpred->data() : nullptr;
            const T inv_classes = T(1) / static_cast<T>(L.classes);
            double total = 0.0;
            for (std::size_t r = 0; r < L.rows; ++r)
            {
                T row = 0;
                for (std::size_t j = r * L.classes, end = j + L.classes; j < end; ++j)
                {
                    auto [value, derivative] = f(p[j], t[j]);
                    row += value;
                    if (d)
                        d[j] = derivative * inv_classes;
                }
                total += double(row / static_cast<T>(L.classes)); // Keras's mean over the last axis
            }
            return finish<T>(tape, y_pred, needs, total, divisor_of(reduction, L.rows), dpred);
        }

        template <class T>
        BasicVariable<T> binary_impl(BasicTape<T>& tape, const Tensor<T>& y_true, const BasicVariable<T>& y_pred,
                                     bool from_logits, double label_smoothing, Reduction reduction)
        {
            const T eps = static_cast<T>(losses::epsilon);
            const T hi = T(1) - eps;
            const T keep = static_cast<T>(1.0 - label_smoothing);
            const T half = static_cast<T>(0.5 * label_smoothing);
            const bool smooth = label_smoothing != 0.0;
            return elementwise_impl<T>(tape, y_true, y_pred, "binary_crossentropy", reduction, [=](T p, T t) {
                if (smooth)
                    t = t * keep + half;
                if (from_logits)
                {
                    // sigmoid_cross_entropy_with_logits, and sigmoid(x) - t without overflow.
                    const T e = std::exp(-std::abs(p));
                    const T sigmoid = p >= 0 ? T(1) / (T(1) + e) : e / (T(1) + e);
                    return std::pair<T, T>(std::max(p, T(0)) - p * t + std::log1p(e), sigmoid - t);
                }
                const T c = std::clamp(p, eps, hi);
                const T value = -(t * std::log(c + eps) + (T(1) - t) * std::log(T(1) - c + eps));
                const T derivative = (p >= eps && p <= hi) ? -(t / (c + eps) - (T(1) - t) / (T(1) - c + eps)) : T(0);
                return std::pair<T, T>(value, derivative);
            });
        }

        template <class T>
        BasicVariable<T> mse_impl(BasicTape<T>& tape, const Tensor<T>& y_true, const BasicVariable<T>& y_pred,
                                  Reduction reduction)
        {
            return elementwise_impl<T>(tape, y_true, y_pred, "mean_squared_error", reduction, [](T p, T t) {
                const T e = p - t;
                return std::pair<T, T>(e * e, T(2) * e);
            });
        }

        template <class T>
        BasicVariable<T> mae_impl(BasicTape<T>& tape, const Tensor<T>& y_true, const BasicVariable<T>& y_pred,
                                  Reduction reduction)
        {
            return elementwise_impl<T>(tape, y_true, y_pred, "mean_absolute_error", reduction, [](T p, T t) {
                const T e = p - t;
                return std::pair<T, T>(std::abs(e), T((e > 0) - (e < 0)));
            });
        }

        template <class T>
        BasicVariable<T> huber_impl(BasicTape<T>& tape, const Tensor<T>& y_true, const BasicVariable<T>& y_pred,
                                    double delta_in, Reduction reduction)
        {
            const T delta = static_cast<T>(delta_in);
            const T half = T(0.5);
            return elementwise_impl<T>(tape, y_true, y_pred, "huber", reduction, [=](T p, T t) {
                const T e = p - t;
                const T a = std::abs(e);
                if (a <= delta) // Keras's tf.where(abs_error <= delta, ...): the quadratic side owns the boundary
                    return std::pair<T, T>(half * (e * e), e);
                return std::pair<T, T>(delta * a - half * (delta * delta), delta * T((e > 0) - (e < 0)));
            });
        }

        // ------------------------------------------------------------ names

        struct KindInfo
        {
            std::string class_name;
            std::string default_name;
            std::vector<std::string> keys; ///< config keys besides reduction and name
        };

        const KindInfo& info(Loss::Kind kind)
        {
            static const std::map<Loss::Kind, KindInfo> table{
                {Loss::Kind::CategoricalCrossentropy,
                 {"CategoricalCrossentropy", "categorical_crossentropy", {"from_logits", "label_smoothing", "axis"}}},
                {Loss::Kind::SparseCategoricalCrossentropy,
                 {"SparseCategoricalCrossentropy", "sparse_categorical_crossentropy", {"from_logits", "ignore_class"}}},
                {Loss::Kind::BinaryCrossentropy,
                 {"BinaryCrossentropy", "binary_crossentropy", {"from_logits", "label_smoothing", "axis"}}},
                {Loss::Kind::MeanSquaredError, {"MeanSquaredError", "mean_squared_error", {}}},
                {Loss::Kind::MeanAbsoluteError, {"MeanAbsoluteError", "mean_absolute_error", {}}},
                {Loss::Kind::Huber, {"Huber", "huber_loss", {"delta"}}}};
            return table.at(kind);
        }

        const std::map<std::string, Loss::Kind>& function_names()
        {
            static const std::map<std::string, Loss::Kind> names{
                {"categorical_crossentropy", Loss::Kind::CategoricalCrossentropy},
                {"sparse_categorical_crossentropy", Loss::Kind::SparseCategoricalCrossentropy},
                {"binary_crossentropy", Loss::Kind::BinaryCrossentropy},
                {"mean_squared_error", Loss::Kind::MeanSquaredError},
                {"mse", Loss::Kind::MeanSquaredError},
                {"MSE", Loss::Kind::MeanSquaredError},
                {"mean_absolute_error", Loss::Kind::MeanAbsoluteError},
                {"mae", Loss::Kind::MeanAbsoluteError},
                {"MAE", Loss::Kind::MeanAbsoluteError},
                {"huber", Loss::Kind::Huber}};
            return names;
        }

        const std::map<std::string, Loss::Kind>& class_names()
        {
            static const std::map<std::string, Loss::Kind> names{
                {"CategoricalCrossentropy", Loss::Kind::CategoricalCrossentropy},
                {"SparseCategoricalCrossentropy", Loss::Kind::SparseCategoricalCrossentropy},
                {"BinaryCrossentropy", Loss::Kind::BinaryCrossentropy},
                {"MeanSquaredError", Loss::Kind::MeanSquaredError},
                {"MeanAbsoluteError", Loss::Kind::MeanAbsoluteError},
                {"Huber", Loss::Kind::Huber}};
            return names;
        }

        std::string known_losses()
        {
            std::string out;
            for (const auto& table : {function_names(), class_names()})
                for (const auto& entry : table)
                    out += (out.empty() ? "" : ", ") + entry.first;
            return out;
        }
    }

    // ---------------------------------------------------------------- the loss functions

    namespace losses
    {
        template <class T>
        BasicVariable<T> categorical_crossentropy(BasicTape<T>& tape, const Tensor<T>& y_true,
                                                  const BasicVariable<T>& y_pred, bool from_logits,
                                                  double label_smoothing)
        {
            return categorical_impl(tape, y_true, y_pred, from_logits, label_smoothing, Reduction::SumOverBatchSize);
        }

        template <class T>
        BasicVariable<T> sparse_categorical_crossentropy(BasicTape<T>& tape, const Tensor<T>& y_true,
                                                         const BasicVariable<T>& y_pred, bool from_logits)
        {
            return sparse_impl(tape, y_true, y_pred, from_logits, Reduction::SumOverBatchSize);
        }

        template <class T>
        BasicVariable<T> binary_crossentropy(BasicTape<T>& tape, const Tensor<T>& y_true,
                                             const BasicVariable<T>& y_pred, bool from_logits, double label_smoothing)
        {
            return binary_impl(tape, y_true, y_pred, from_logits, label_smoothing, Reduction::SumOverBatchSize);
        }

        template <class T>
        BasicVariable<T> mean_squared_error(BasicTape<T>& tape, const Tensor<T>& y_true, const BasicVariable<T>& y_pred)
        {
            return mse_impl(tape, y_true, y_pred, Reduction::SumOverBatchSize);
        }

        template <class T>
        BasicVariable<T> mean_absolute_error(BasicTape<T>& tape, const Tensor<T>& y_true,
                                             const BasicVariable<T>& y_pred)
        {
            return mae_impl(tape, y_true, y_pred, Reduction::SumOverBatchSize);
        }

        template <class T>
        BasicVariable<T> huber(BasicTape<T>& tape, const Tensor<T>& y_true, const BasicVariable<T>& y_pred,
                               double delta)
        {
            return huber_impl(tape, y_true, y_pred, delta, Reduction::SumOverBatchSize);
        }
    }

    // ---------------------------------------------------------------- Loss

    Loss::Loss(Kind kind, const json& config_in) : m_kind(kind), m_name(info(kind).default_name)
    {
        const json config = config_in.is_null() ? json::object() : config_in;
        const KindInfo& k = info(kind);
        XK_CHECK(config.is_object(), value_error, "The config of ", k.class_name,
                 " must be a JSON object. Received: ", config.dump(), ".");
        // Keras 3 adds dtype (null or float32); tf.keras 2.13+ LossFunctionWrapper configs carry their fn.
        std::vector<std::string> known{"reduction", "name", "dtype", "fn"};
        known.insert(known.end(), k.keys.begin(), k.keys.end());
        auto unknown = unknown_keys(config, known);
        XK_CHECK(unknown.empty(), value_error, k.class_name, " got an unexpected keyword argument '",
                 unknown.empty() ? "" : unknown.front(), "'.");

        if (auto dtype = config.find("dtype"); dtype != config.end())
        {
            const json name = dtype->is_object() ? dtype->value("config", json::object()).value("name", json()) : *dtype;
            XK_CHECK(name.is_null() || name == "float32", value_error, "Invalid value for argument `dtype` of ",
                     k.class_name, ". Only float32 is supported. Received: dtype=", dtype->dump(), ".");
        }
        if (auto fn = config.find("fn"); fn != config.end())
        {
            // A string, or saving_lib's {"class_name": "function", "config": "<name>"}.
            const json name = fn->is_object() ? fn->value("config", json()) : *fn;
            auto own = name.is_string() ? function_names().find(name.get<std::string>()) : function_names().end();
            XK_CHECK(own != function_names().end() && own->second == kind, value_error, "Invalid value for argument `fn` of ",
                     k.class_name, ": expected its own loss function (", k.default_name, "). Received: fn=", fn->dump(),
                     ".");
        }
        m_name = config_value<std::string>(config, "name", m_name);
        m_reduction = config_value<std::string>(config, "reduction", "auto");
        XK_CHECK(m_reduction == "auto" || m_reduction == "sum_over_batch_size" || m_reduction == "sum", value_error,
                 "Invalid value for argument `reduction` of ", k.class_name,
                 ". Expected one of \"auto\", \"sum_over_batch_size\", \"sum\" (a training loss is a scalar). "
                 "Received: reduction=",
                 config["reduction"].dump(), ".");
        m_sum = m_reduction == "sum";
        m_from_logits = config_value<bool>(config, "from_logits", false);
        m_label_smoothing = config_value<double>(config, "label_smoothing", 0.0);
        m_delta = config_value<double>(config, "delta", 1.0);
        const long axis = config_value<long>(config, "axis", -1);
        XK_CHECK(axis == -1, value_error, "Invalid value for argument `axis` of ", k.class_name,
                 ". Only the last axis (-1) is supported. Received: axis=", axis, ".");
        XK_CHECK(!config.contains("ignore_class") || config["ignore_class"].is_null(), value_error,
                 "Invalid value for argument `ignore_class` of ", k.class_name,
                 ". Only null is supported. Received: ignore_class=", config.value("ignore_class", json()).dump(), ".");
    }

    Loss Loss::function(const std::string& name)
    {
        auto it = function_names().find(name);
        XK_CHECK(it != function_names().end(), unknown_identifier_error, "Unknown loss function: '", name,
                 "'. Expected one of: ", known_losses(), ".");
        Loss loss(it->second);
        loss.m_name = name;
        loss.m_is_function = true;
        return loss;
    }

    std::string Loss::class_name() const
    {
        return info(m_kind).class_name;
    }

    json Loss::get_config() const
    {
        json config = {{"reduction", m_reduction}, {"name", m_name}};
        switch (m_kind)
        {
        case Kind::CategoricalCrossentropy:
        case Kind::BinaryCrossentropy:
            config["from_logits"] = m_from_logits;
            config["label_smoothing"] = m_label_smoothing;
            config["axis"] = -1;
            break;
        case Kind::SparseCategoricalCrossentropy:
            config["from_logits"] = m_from_logits;
            config["ignore_class"] = nullptr;
            break;
        case Kind::Huber:
            config["delta"] = m_delta;
            break;
        default:
            break;
        }
        return config;
    }

    template <class T>
    BasicVariable<T> Loss::operator()(BasicTape<T>& tape, const Tensor<T>& y_true, const BasicVariable<T>& y_pred) const
    {
        const Reduction r = m_sum ? Reduction::Sum : Reduction::SumOverBatchSize;
        switch (m_kind)
        {
        case Kind::CategoricalCrossentropy:
            return categorical_impl(tape, y_true, y_pred, m_from_logits, m_label_smoothing, r);
        case Kind::SparseCategoricalCrossentropy:
            return sparse_impl(tape, y_true, y_pred, m_from_logits, r);
        case Kind::BinaryCrossentropy:
            return binary_impl(tape, y_true, y_pred, m_from_logits, m_label_smoothing, r);
        case Kind::MeanSquaredError:
            return mse_impl(tape, y_true, y_pred, r);
        case Kind::MeanAbsoluteError:
            return mae_impl(tape, y_true, y_pred, r);
        default:
            return huber_impl(tape, y_true, y_pred, m_delta, r);
        }
    }

    Loss get_loss(const json& identifier)
    {
        if (identifier.is_string())
        {
            const std::string name = identifier.get<std::string>();
            if (function_names().count(name))
                return Loss::function(name);
            auto it = class_names().find(name);
            XK_CHECK(it != class_names().end(), unknown_identifier_error, "Unknown loss function: '", name,
                     "'. Expected one of: ", known_losses(), ".");
            return Loss(it->second);
        }
        XK_CHECK(identifier.is_object(), value_error,
                 "Could not interpret loss function identifier: ", identifier.dump(), ".");
        auto name = identifier.find("class_name");
        XK_CHECK(name != identifier.end() && name->is_string(), value_error,
                 "Improper config format: ", identifier.dump(),
                 ". Expecting a JSON object with `class_name` and `config` as keys.");
        auto it = class_names().find(name->get<std::string>());
        XK_CHECK(it != class_names().end(), unknown_identifier_error, "Unknown loss class: '", name->get<std::string>(),
                 "'. Expected one of: ", known_losses(), ".");
        auto config = identifier.find("config");
        return Loss(it->second, config == identifier.end() ? json::object() : *config);
    }

    json serialize(const Loss& loss)
    {
        if (loss.is_function())
            return loss.name();
        return {{"class_name", loss.class_name()}, {"config", loss.get_config()}};
    }

#define XK_INSTANTIATE_LOSSES(T)                                                                                       \
    template BasicVariable<T> losses::categorical_crossentropy(BasicTape<T>&, const Tensor<T>&,                        \
                                                               const BasicVariable<T>&, bool, double);                 \
    template BasicVariable<T> losses::sparse_categorical_crossentropy(BasicTape<T>&, const Tensor<T>&,                 \
                                                                      const BasicVariable<T>&, bool);                  \
    template BasicVariable<T> losses::binary_crossentropy(BasicTape<T>&, const Tensor<T>&, const BasicVariable<T>&,    \
                                                          bool, double);                                               \
    template BasicVariable<T> losses::mean_squared_error(BasicTape<T>&, const Tensor<T>&, const BasicVariable<T>&);    \
    template BasicVariable<T> losses::mean_absolute_error(BasicTape<T>&, const Tensor<T>&, const BasicVariable<T>&);   \
    template BasicVariable<T> losses::huber(BasicTape<T>&, const Tensor<T>&, const BasicVariable<T>&, double);         \
    template BasicVariable<T> Loss::operator()(BasicTape<T>&, const Tensor<T>&, const BasicVariable<T>&) const;

    XK_INSTANTIATE_LOSSES(float)
    XK_INSTANTIATE_LOSSES(double)
}
