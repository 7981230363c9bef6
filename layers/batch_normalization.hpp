#pragma once
// BatchNormalization (tf.keras 2.x): y = gamma * (x - mean) / sqrt(var + epsilon) + beta per feature of the
// `axis` axes, reducing over all the other axes.
//   training=true (and the layer trainable): the batch mean and biased batch variance normalise, and the
//   moving statistics move towards them: moving = moving * momentum + batch * (1 - momentum).
//   otherwise (inference, or trainable=false as in tf.keras 2.x): moving_mean and moving_variance normalise.
//   weights: gamma, beta (trainable, when scale/center), moving_mean, moving_variance (non-trainable); shape
//   (features,) for one axis, the input's rank with 1 on the reduced axes for several (tf.keras 2.x).
//
// Which variance updates moving_variance depends on the kernel tf.keras 2.x picks (fused=None):
//   - 4-D input with axis 1 or 3, or 5-D with axis 1 or 4 (axis given as one of -4, -3, -1, 1, 3, 4, dtype
//     not float64, not synchronized): the fused kernel, whose running variance gets Bessel's correction,
//     var * m / (m - 1) with m the elements per feature (m = 1: no correction). Keras's
//     _bessels_correction_test_only is True in v2, so the corrected value reaches moving_variance as is.
//   - any other input (2-D, 3-D, other axes, fused=False, synchronized=True): tf.nn.moments, the biased
//     variance.
// Normalisation itself always uses the biased variance. The fused kernel also raises epsilon to at least
// 1.001e-5 (tf.nn.fused_batch_norm's cuDNN minimum), in training and inference alike.
#include "framework/keras/layer.hpp"

namespace xk
{
    template <class T>
    class BatchNormalization : public BasicLayer<T>
    {
    public:
        using Tensor = xk::Tensor<T>;

        explicit BatchNormalization(const json& config);

        std::string class_name() const override { return "BatchNormalization"; }
        PartialShape compute_output_shape(const PartialShape& input_shape) const override { return input_shape; }
        /// "axis" is the argument as given before build and the resolved list of axes after it, as tf.keras
        /// 2.x writes it (a default layer saved after use says [3] for images, not -1).
        json get_config() const override;
        json keras3_config() const override;

        /// The normalised axes (non-negative), known after build.
        const std::vector<long>& axes() const { return m_axes; }
        double momentum() const { return m_momentum; }
        double epsilon() const { return m_epsilon; }
        /// Whether tf.keras would run the fused kernel: moving_variance takes the Bessel-corrected variance.
        bool fused() const { return m_fused; }

    protected:
        void build_weights(const PartialShape& input_shape) override;
        void check_input(const PartialShape& input_shape) const override;
        /// In training mode forward also updates moving_mean and moving_variance (see the .cpp).
        Tensor forward(const Tensor& x, LayerCache<T>& cache) const override;
        void backward(const Tensor& x, const Tensor& dz, const LayerCache<T>& cache, Tensor* dx) override;

    private:
        /// The input viewed as (outer, features, inner), after moving non-adjacent axes last if needed.
        struct Layout
        {
            std::vector<std::size_t> perm; ///< empty: the input is used as it is
            std::size_t outer = 1;
            std::size_t features = 1;
            std::size_t inner = 1;
        };
        Layout layout_of(const Shape& shape) const;
        Tensor to_layout(const Tensor& x, const Layout& layout) const;

        json m_axis_config;          // as given: an int or a list
        std::vector<long> m_axes;    // resolved by build
        double m_momentum = 0.99;
        double m_epsilon = 1e-3;
        bool m_center = true;
        bool m_scale = true;
        std::optional<bool> m_fused_arg; // Keras's `fused`: None, True or False
        bool m_synchronized = false;
        bool m_float64 = false;
        bool m_fused = false;
        InitializerPtr m_beta_initializer;
        InitializerPtr m_gamma_initializer;
        InitializerPtr m_moving_mean_initializer;
        InitializerPtr m_moving_variance_initializer;
        std::optional<Regularizer> m_beta_regularizer;
        std::optional<Regularizer> m_gamma_regularizer;
        std::optional<Constraint> m_beta_constraint;
        std::optional<Constraint> m_gamma_constraint;
        Weight<T>* m_gamma = nullptr;
        Weight<T>* m_beta = nullptr;
        Weight<T>* m_moving_mean = nullptr;
        Weight<T>* m_moving_variance = nullptr;
    };
}
