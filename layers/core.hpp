#pragma once
// Small weightless layers of Keras's core and reshaping packages.
//   Flatten:    (batch, d1, ..., dk) -> (batch, d1*...*dk); channels_first inputs are first moved to
//               channels_last, so the flattened order is the channels_last one (tf.keras 2.x Flatten).
//   Reshape:    (batch, ...) -> (batch,) + target_shape, with at most one -1 inferred from the size.
//   Activation: activation(x), elementwise (softmax along its axis).
//   Dropout:    in training, x * mask / (1 - rate) with mask ~ Bernoulli(1 - rate) (broadcast along the
//               noise_shape axes of size 1); identity in inference.
#include <atomic>
#include "framework/keras/layer.hpp"

#include <cstdint>
#include <optional>

namespace xk
{
    template <class T>
    class Flatten : public BasicLayer<T>
    {
    public:
        using Tensor = xk::Tensor<T>;

        explicit Flatten(const json& config);

        std::string class_name() const override { return "Flatten"; }
        PartialShape compute_output_shape(const PartialShape& input_shape) const override;
        json get_config() const override;
        const std::string& data_format() const { return m_data_format; }

    protected:
        void check_input(const PartialShape& input_shape) const override;
        Tensor forward(const Tensor& x, LayerCache<T>& cache) const override;
        void backward(const Tensor& x, const Tensor& dz, const LayerCache<T>& cache, Tensor* dx) override;

    private:
        /// Whether inputs of this rank are transposed before flattening.
        bool moves_channels(std::size_t rank) const { return m_data_format == "channels_first" && rank > 2; }

        std::string m_data_format;
    };

    template <class T>
    class Reshape : public BasicLayer<T>
    {
    public:
        using Tensor = xk::Tensor<T>;

        /// target_shape is required: positive ints, and at most one -1.
        explicit Reshape(const json& config);

        std::string class_name() const override { return "Reshape"; }
        PartialShape compute_output_shape(const PartialShape& input_shape) const override;
        json get_config() const override;
        const std::vector<long>& target_shape() const { return m_target_shape; }

    protected:
        void check_input(const PartialShape& input_shape) const override;
        Tensor forward(const Tensor& x, LayerCache<T>& cache) const override;
        void backward(const Tensor& x, const Tensor& dz, const LayerCache<T>& cache, Tensor* dx) override;

    private:
        std::vector<long> m_target_shape;
    };

    template <class T>
    class ActivationLayer : public BasicLayer<T>
    {
    public:
        using Tensor = xk::Tensor<T>;

        /// activation is required.
        explicit ActivationLayer(const json& config);

        std::string class_name() const override { return "Activation"; }
        PartialShape compute_output_shape(const PartialShape& input_shape) const override { return input_shape; }
        json get_config() const override;

    protected:
        /// The pre-activation output is the input itself: call() applies the activation.
        Tensor forward(const Tensor& x, LayerCache<T>& cache) const override { return x; }
        void backward(const Tensor& x, const Tensor& dz, const LayerCache<T>& cache, Tensor* dx) override;
    };

    /// The mask: tf.keras 2.x draws it from TF's generators, which cannot be reproduced bit for bit; here it
    /// comes from xk::make_rng. A layer with a `seed` draws its k-th training mask from seed + k, as tf.keras
    /// moves on to seed+1, seed+2, ... (two layers built with the same seed draw the same sequence). An
    /// unseeded layer draws from the process-wide generator (reproducible after set_random_seed).
    template <class T>
    class Dropout : public BasicLayer<T>
    {
    public:
        using Tensor = xk::Tensor<T>;

        /// rate is required, in [0, 1].
        explicit Dropout(const json& config);

        std::string class_name() const override { return "Dropout"; }
        PartialShape compute_output_shape(const PartialShape& input_shape) const override { return input_shape; }
        json get_config() const override;

        double rate() const { return m_rate; }
        const std::optional<std::uint64_t>& seed() const { return m_seed; }

    protected:
        Tensor forward(const Tensor& x, LayerCache<T>& cache) const override;
        void backward(const Tensor& x, const Tensor& dz, const LayerCache<T>& cache, Tensor* dx) override;

    private:
        /// The mask's shape for an input shape: noise_shape with None (-1) entries filled from the input.
        /// Throws when it does not broadcast to the input (checked only when a mask is drawn, as in Keras).
        Shape noise_shape_for(const Shape& x_shape) const;

        double m_rate = 0.0;
        json m_rate_config;                       // as given (0 stays an int, as Keras writes it back)
        std::optional<std::vector<long>> m_noise_shape; // -1 for None
        std::optional<std::uint64_t> m_seed;
        mutable std::atomic<std::uint64_t> m_calls{0}; ///< training calls so far: the seed stream's position
        json m_seed_config;
    };
}
