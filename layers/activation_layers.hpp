#pragma once
// Keras's activation layers (tf.keras 2.x keras/layers/activation): the output has the input's shape.
//   ReLU:            backend.relu(x, alpha=negative_slope, max_value, threshold), op by op as tf.keras builds it:
//                    tf.nn.leaky_relu when only the slope is set; otherwise x * (x > threshold) when threshold != 0,
//                    tf.nn.relu6 when max_value == 6 (and threshold == 0), tf.nn.relu else; then
//                    clip_by_value(., 0, max_value) (unless relu6 ran) and minus slope * relu(threshold - x).
//                    The gradient is the one TensorFlow's registered gradients give that graph, boundaries
//                    included: 0 at x == threshold; at x == max_value 1 through clip_by_value (minimum and
//                    maximum pass ties to x) but 0 through relu6; the slope at x == 0 on the leaky_relu path.
//                    max_value, negative_slope and threshold must be >= 0 (negative_slope and threshold not None).
//   LeakyReLU:       backend.relu(x, alpha) (tf.nn.leaky_relu: x > 0 ? x : alpha * x; gradient alpha at 0);
//                    alpha defaults to 0.3 and may be negative, not None. Keras 3 files name it negative_slope
//                    (>= 0 there); it is read as alpha, and get_config writes tf.keras 2.x's alpha.
//   PReLU:           relu(x) - alpha * relu(-x), with the trainable weight "alpha" of the input's shape without
//                    the batch axis, extent 1 along shared_axes. As Keras's build, each shared axis i sets
//                    param_shape[i - 1] = 1 with Python indexing (0 and negative entries count from the end).
//                    alpha's gradient is the sum of dy * min(x, 0) over the batch and the shared axes.
//   ELU:             backend.elu(x, alpha): x for x > 0, alpha * (exp(x) - 1) otherwise (gradient alpha at 0);
//                    alpha defaults to 1.0 and must not be None.
//   Softmax:         along `axis` (an int, or a list: one entry is tf.nn.softmax on it, several are
//                    exp(x - reduce_logsumexp(x, axis)) over all of them jointly), checked against the input's rank
//                    at build and at each call with tf.nn.softmax's and the reductions' messages. xkeras passes
//                    no masks, so tf-keras 2.16's robust_masking is kept in the config and has no effect.
//   ThresholdedReLU: x * (x > theta); theta >= 0, default 1.0.
// Keras stores its float arguments with backend.cast_to_floatx (float32), so the layers compute with, and
// get_config writes, the float32 value of each (LeakyReLU's default alpha is written 0.30000001192092896).
// Keras gives none of these layers an input spec but PReLU (rank, and the extents of the axes alpha does not share);
// xkeras also refuses a PReLU input alpha does not broadcast against, where TensorFlow would fail in the product.
#include "framework/keras/layer.hpp"

#include <optional>
#include <vector>

namespace xk
{
    template <class T>
    class ReLU : public BasicLayer<T>
    {
    public:
        using Tensor = xk::Tensor<T>;

        explicit ReLU(const json& config);

        std::string class_name() const override { return "ReLU"; }
        PartialShape compute_output_shape(const PartialShape& input_shape) const override { return input_shape; }
        json get_config() const override;

        const std::optional<double>& max_value() const { return m_max_value; }
        double negative_slope() const { return m_negative_slope; }
        double threshold() const { return m_threshold; }

    protected:
        Tensor forward(const Tensor& x, LayerCache<T>& cache) const override;
        void backward(const Tensor& x, const Tensor& dz, const LayerCache<T>& cache, Tensor* dx) override;

    private:
        std::optional<double> m_max_value; // float32 values, as cast_to_floatx leaves them
        double m_negative_slope = 0.0;
        double m_threshold = 0.0;
    };

    template <class T>
    class LeakyReLU : public BasicLayer<T>
    {
    public:
        using Tensor = xk::Tensor<T>;

        explicit LeakyReLU(const json& config);

        std::string class_name() const override { return "LeakyReLU"; }
        PartialShape compute_output_shape(const PartialShape& input_shape) const override { return input_shape; }
        json get_config() const override;
        json keras3_config() const override;

        double alpha() const { return m_alpha; }

    protected:
        Tensor forward(const Tensor& x, LayerCache<T>& cache) const override;
        void backward(const Tensor& x, const Tensor& dz, const LayerCache<T>& cache, Tensor* dx) override;

    private:
        double m_alpha = 0.0;
    };

    template <class T>
    class PReLU : public BasicLayer<T>
    {
    public:
        using Tensor = xk::Tensor<T>;

        explicit PReLU(const json& config);

        std::string class_name() const override { return "PReLU"; }
        PartialShape compute_output_shape(const PartialShape& input_shape) const override { return input_shape; }
        json get_config() const override;

        /// As given (an int becomes a list of one), or nullopt for None.
        const std::optional<std::vector<long>>& shared_axes() const { return m_shared_axes; }

    protected:
        void build_weights(const PartialShape& input_shape) override;
        void check_input(const PartialShape& input_shape) const override;
        Tensor forward(const Tensor& x, LayerCache<T>& cache) const override;
        void backward(const Tensor& x, const Tensor& dz, const LayerCache<T>& cache, Tensor* dx) override;

    private:
        /// Whether axis i (>= 1) of the input is in shared_axes as written (Keras's input spec test).
        bool listed_shared(long axis) const;

        json m_alpha_initializer_config; // serialized; null when given as None
        InitializerPtr m_alpha_initializer; // what draws alpha: add_weight's glorot_uniform for None
        std::optional<Regularizer> m_alpha_regularizer;
        std::optional<Constraint> m_alpha_constraint;
        std::optional<std::vector<long>> m_shared_axes;
        Weight<T>* m_alpha = nullptr;
    };

    template <class T>
    class ELU : public BasicLayer<T>
    {
    public:
        using Tensor = xk::Tensor<T>;

        explicit ELU(const json& config);

        std::string class_name() const override { return "ELU"; }
        PartialShape compute_output_shape(const PartialShape& input_shape) const override { return input_shape; }
        json get_config() const override;

        double alpha() const { return m_alpha; }

    protected:
        Tensor forward(const Tensor& x, LayerCache<T>& cache) const override;
        void backward(const Tensor& x, const Tensor& dz, const LayerCache<T>& cache, Tensor* dx) override;

    private:
        double m_alpha = 1.0;
        Activation m_elu; // activations.hpp's elu(alpha): the same formula as backend.elu
    };

    template <class T>
    class Softmax : public BasicLayer<T>
    {
    public:
        using Tensor = xk::Tensor<T>;

        explicit Softmax(const json& config);

        std::string class_name() const override { return "Softmax"; }
        PartialShape compute_output_shape(const PartialShape& input_shape) const override { return input_shape; }
        json get_config() const override;

        /// The axes as given: one entry for an int axis.
        const std::vector<long>& axes() const { return m_axes; }

    protected:
        void build_weights(const PartialShape& input_shape) override { check_input(input_shape); }
        void check_input(const PartialShape& input_shape) const override;
        Tensor forward(const Tensor& x, LayerCache<T>& cache) const override;
        void backward(const Tensor& x, const Tensor& dz, const LayerCache<T>& cache, Tensor* dx) override;

    private:
        /// Whether this is the joint softmax over several axes (a list of more than one).
        bool joint() const { return m_axes.size() > 1; }
        Tensor joint_forward(const Tensor& x) const;

        json m_axis_config; // as given: an int or a list
        std::vector<long> m_axes;
        Activation m_softmax; // activations.hpp's softmax on m_axes[0], when not joint
        bool m_robust_masking = false; // tf-keras 2.16's key: only affects masks, which xkeras does not pass
    };

    template <class T>
    class ThresholdedReLU : public BasicLayer<T>
    {
    public:
        using Tensor = xk::Tensor<T>;

        explicit ThresholdedReLU(const json& config);

        std::string class_name() const override { return "ThresholdedReLU"; }
        PartialShape compute_output_shape(const PartialShape& input_shape) const override { return input_shape; }
        json get_config() const override;
        json keras3_config() const override;

        double theta() const { return m_theta; }

    protected:
        Tensor forward(const Tensor& x, LayerCache<T>& cache) const override;
        void backward(const Tensor& x, const Tensor& dz, const LayerCache<T>& cache, Tensor* dx) override;

    private:
        double m_theta = 1.0;
    };
}
