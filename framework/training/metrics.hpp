#pragma once
// Keras accuracy metrics (tf.keras 2.x). The functions in xk::metrics return per-sample values (1 or 0, or
// a fraction for binary_accuracy over several outputs), as Keras's metric functions do; Mean accumulates
// them over an epoch and Metric pairs a function with its Mean, as Keras's MeanMetricWrapper does. The
// running value is sum(values) / count(values), so batches weigh by their number of samples.
//
// Ties: argmax takes the first maximum (TensorFlow's CPU argmax). in_top_k counts a class as in the top k
// when fewer than k classes score strictly higher, so tied classes at the boundary all count; a
// non-finite score in the row, or a label outside [0, classes), counts as a miss (tf.math.in_top_k).
#include "framework/keras/config.hpp"
#include "framework/engine/tensor.hpp"

#include <string>

namespace xk
{
    namespace metrics
    {
        /// keras.metrics.accuracy: elementwise y_true == y_pred (same shapes).
        template <class T>
        Tensor<T> accuracy(const Tensor<T>& y_true, const Tensor<T>& y_pred);

        /// mean over the last axis of (y_true == (y_pred > threshold)); the result drops the last axis (a 1-d
        /// y_pred gives one value for the whole batch, as in Keras).
        template <class T>
        Tensor<T> binary_accuracy(const Tensor<T>& y_true, const Tensor<T>& y_pred, double threshold = 0.5);

        /// argmax(y_true) == argmax(y_pred) over the last axis.
        template <class T>
        Tensor<T> categorical_accuracy(const Tensor<T>& y_true, const Tensor<T>& y_pred);

        /// y_true (labels, y_pred's shape without the last axis, or with a last axis of 1) == argmax(y_pred).
        template <class T>
        Tensor<T> sparse_categorical_accuracy(const Tensor<T>& y_true, const Tensor<T>& y_pred);

        /// argmax(y_true) is in the top k of y_pred (rows flattened, as Keras does for rank > 2).
        template <class T>
        Tensor<T> top_k_categorical_accuracy(const Tensor<T>& y_true, const Tensor<T>& y_pred, int k = 5);

        /// The label is in the top k of y_pred; one value per row of y_pred.
        template <class T>
        Tensor<T> sparse_top_k_categorical_accuracy(const Tensor<T>& y_true, const Tensor<T>& y_pred, int k = 5);

        /// What compile(metrics=["accuracy"]) picks in tf.keras 2.x, from the shapes alone (a 1-d y_true next
        /// to a 2-d y_pred counts as (batch, 1)): "binary_accuracy" when y_pred's last axis is 1, else
        /// "sparse_categorical_accuracy" when y_true has a lower rank or a last axis of 1, else
        /// "categorical_accuracy".
        std::string resolve_accuracy(const Shape& y_true, const Shape& y_pred);
    }

    /// Keras's Mean metric: total and count, result total / count (0 before any update).
    class Mean
    {
    public:
        explicit Mean(std::string name = "mean") : m_name(std::move(name)) {}

        /// Adds every element with weight 1.
        template <class T>
        void update_state(const Tensor<T>& values);
        /// Adds `value` with weight `weight`: a batch's mean loss weighted by its batch size.
        void update_state(double value, double weight = 1.0);

        double result() const { return m_count == 0.0 ? 0.0 : m_total / m_count; }
        void reset_state();

        double total() const { return m_total; }
        double count() const { return m_count; }
        const std::string& name() const { return m_name; }
        /// {"name": ..., "dtype": "float32"}
        json get_config() const;

    private:
        std::string m_name;
        double m_total = 0.0;
        double m_count = 0.0;
    };

    /// A metric function with its running Mean (Keras's MeanMetricWrapper and its subclasses).
    class Metric
    {
    public:
        enum class Kind
        {
            Accuracy,
            BinaryAccuracy,
            CategoricalAccuracy,
            SparseCategoricalAccuracy,
            TopKCategoricalAccuracy,
            SparseTopKCategoricalAccuracy,
            /// compile()'s "accuracy" / "acc": resolved from the shapes of the first batch.
            AutoAccuracy
        };

        /// A metric class with its Keras config (name, dtype "float32", threshold 0.5 or k 5 as the class
        /// takes them). Default names: "accuracy", "binary_accuracy", "categorical_accuracy", ...
        explicit Metric(Kind kind, const json& config = json::object());
        /// A metric function name as compile() takes it; the metric is named after it.
        static Metric function(const std::string& name);

        Kind kind() const { return m_kind; }
        const std::string& name() const { return m_mean.name(); }
        /// "BinaryAccuracy", ...; "MeanMetricWrapper" for an unresolved "accuracy".
        std::string class_name() const;
        bool is_function() const { return m_is_function; }
        double threshold() const { return m_threshold; }
        int k() const { return m_k; }
        json get_config() const;

        /// The per-sample values of a batch (an AutoAccuracy resolves from the shapes without changing).
        template <class T>
        Tensor<T> call(const Tensor<T>& y_true, const Tensor<T>& y_pred) const;
        /// Adds a batch to the running mean and returns the batch's own mean. An AutoAccuracy is resolved
        /// for good at its first batch, as Keras builds compiled metrics.
        template <class T>
        double update_state(const Tensor<T>& y_true, const Tensor<T>& y_pred);

        double result() const { return m_mean.result(); }
        void reset_state() { m_mean.reset_state(); }
        const Mean& mean() const { return m_mean; }

    private:
        Kind m_kind;
        bool m_is_function = false;
        double m_threshold = 0.5;
        int m_k = 5;
        Mean m_mean;
    };

    /// Keras's metric identifiers: function names ("accuracy", "acc", "binary_accuracy",
    /// "categorical_accuracy", "sparse_categorical_accuracy", "top_k_categorical_accuracy",
    /// "sparse_top_k_categorical_accuracy"), class names ("BinaryAccuracy", ..., "Accuracy" is the
    /// exact-equality metric) or {"class_name": ..., "config": {...}}.
    Metric get_metric(const json& identifier);
    /// The function name for a metric made from one, else {"class_name": ..., "config": ...}.
    json serialize(const Metric& metric);
}
