#pragma once
// Keras losses (tf.keras 2.x), each one fused tape op: the forward computes the loss and the derivative
// with respect to y_pred in the same pass, and the backward only scales it.
//
// Shapes: y_pred has the classes (or values) on its last axis, any leading axes; y_true has y_pred's shape
// (a trailing axis of size 1 on either side is ignored, as Keras's squeeze_or_expand_dimensions does), or
// for the sparse loss one integer label per row. Every loss is reduced like Keras's default
// SUM_OVER_BATCH_SIZE: the per-sample losses (the crossentropy of each row, the mean over the last axis
// of an elementwise loss) are summed and divided by their number. The result is a 0-d variable.
//
// Probabilities (from_logits false) follow tf.keras 2.x's backend exactly:
//  - categorical: p is normalised to sum 1 over the last axis, clipped to [1e-7, 1 - 1e-7], -sum(t log p);
//  - sparse categorical: p is clipped (not normalised), and the crossentropy is taken of softmax(log p),
//    which renormalises the clipped row;
//  - binary: p is clipped, then -(t log(p + 1e-7) + (1 - t) log(1 - p + 1e-7)).
// The clip's gradient is zero outside [1e-7, 1 - 1e-7], as TensorFlow's clip_by_value.
// tf.keras >= 2.7 skips this path when y_pred comes straight out of a softmax (categorical) or sigmoid
// (binary) activation and uses the cached logits instead. A tape variable does not say which op made it,
// so the probability path is always taken here: for such a model, pass the pre-activation output with
// from_logits = true to get what Keras computes.
// Logits (from_logits true) use a max-shifted log-sum-exp (softmax) or max(x, 0) - x t + log1p(exp(-|x|))
// (sigmoid), so extreme logits neither overflow nor lose the gradient.
#include "framework/keras/config.hpp"
#include "framework/engine/tape.hpp"

#include <string>

namespace xk
{
    namespace losses
    {
        /// Keras's backend.epsilon(), the clip bound of the probability losses.
        inline constexpr double epsilon = 1e-7;

        /// -sum(t * log p) over the last axis. label_smoothing s replaces t by t (1 - s) + s / classes.
        template <class T>
        BasicVariable<T> categorical_crossentropy(BasicTape<T>& tape, const Tensor<T>& y_true,
                                                  const BasicVariable<T>& y_pred, bool from_logits = false,
                                                  double label_smoothing = 0.0);

        /// y_true holds class indices (float values truncated to integers, as Keras casts them), one per
        /// row of y_pred; a label outside [0, classes) is a value_error.
        template <class T>
        BasicVariable<T> sparse_categorical_crossentropy(BasicTape<T>& tape, const Tensor<T>& y_true,
                                                         const BasicVariable<T>& y_pred, bool from_logits = false);

        /// Elementwise, averaged over the last axis. label_smoothing s replaces t by t (1 - s) + s / 2.
        template <class T>
        BasicVariable<T> binary_crossentropy(BasicTape<T>& tape, const Tensor<T>& y_true,
                                             const BasicVariable<T>& y_pred, bool from_logits = false,
                                             double label_smoothing = 0.0);

        /// mean((p - t)^2) over the last axis.
        template <class T>
        BasicVariable<T> mean_squared_error(BasicTape<T>& tape, const Tensor<T>& y_true,
                                            const BasicVariable<T>& y_pred);

        /// mean(|p - t|) over the last axis (the gradient of |0| is 0, as TensorFlow's).
        template <class T>
        BasicVariable<T> mean_absolute_error(BasicTape<T>& tape, const Tensor<T>& y_true,
                                             const BasicVariable<T>& y_pred);

        /// mean over the last axis of 0.5 e^2 where |e| <= delta, else delta |e| - 0.5 delta^2 (e = p - t).
        template <class T>
        BasicVariable<T> huber(BasicTape<T>& tape, const Tensor<T>& y_true, const BasicVariable<T>& y_pred,
                               double delta = 1.0);
    }

    /// A configured Keras loss: what compile(loss=...) holds. Built from a function name ("mse") or a class
    /// config ({"class_name": "CategoricalCrossentropy", "config": {...}}), and serialized back the same way.
    class Loss
    {
    public:
        enum class Kind
        {
            CategoricalCrossentropy,
            SparseCategoricalCrossentropy,
            BinaryCrossentropy,
            MeanSquaredError,
            MeanAbsoluteError,
            Huber
        };

        /// A loss class with its Keras config. Keys: reduction ("auto", "sum_over_batch_size" or "sum"), name,
        /// and from_logits / label_smoothing / axis (-1 only) / ignore_class (null only) / delta as the class
        /// takes them. Default names: "categorical_crossentropy", ..., "mean_squared_error",
        /// "mean_absolute_error", "huber_loss".
        explicit Loss(Kind kind, const json& config = json::object());
        /// The Keras loss function of that name ("categorical_crossentropy", "mse", "huber", ...), defaults.
        static Loss function(const std::string& name);

        Kind kind() const { return m_kind; }
        /// "CategoricalCrossentropy", "MeanSquaredError", ...
        std::string class_name() const;
        /// The class's `name`, or the function name it was made from.
        const std::string& name() const { return m_name; }
        bool from_logits() const { return m_from_logits; }
        double label_smoothing() const { return m_label_smoothing; }
        double delta() const { return m_delta; }
        /// Made from a function name: serialize() gives the name back.
        bool is_function() const { return m_is_function; }

        /// Keras's get_config() of the class.
        json get_config() const;

        /// The reduced loss of a batch, recorded on the tape.
        template <class T>
        BasicVariable<T> operator()(BasicTape<T>& tape, const Tensor<T>& y_true, const BasicVariable<T>& y_pred) const;

    private:
        Kind m_kind;
        std::string m_name;
        bool m_is_function = false;
        bool m_sum = false; ///< reduction "sum" instead of SUM_OVER_BATCH_SIZE
        std::string m_reduction = "auto";
        bool m_from_logits = false;
        double m_label_smoothing = 0.0;
        double m_delta = 1.0;
    };

    /// Keras's losses.get: a function name ("categorical_crossentropy", "sparse_categorical_crossentropy",
    /// "binary_crossentropy", "mean_squared_error" / "mse" / "MSE", "mean_absolute_error" / "mae" / "MAE",
    /// "huber"), a class name ("MeanSquaredError", ...) or {"class_name": ..., "config": {...}}.
    Loss get_loss(const json& identifier);
    /// The function name for a loss made from one, else {"class_name": ..., "config": ...}.
    json serialize(const Loss& loss);
}
