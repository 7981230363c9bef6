#pragma once
// tf.keras 2.x Adagrad (OptimizerV2, TensorFlow's ResourceApplyAdagradV2).
#include "optim/optimizer.hpp"

namespace xk
{
    /// Config: learning_rate 0.001, initial_accumulator_value 0.1 (>= 0), epsilon 1e-7.
    /// Slot "accumulator", starting at initial_accumulator_value.
    ///   acc += g^2;  w -= lr * g / (sqrt(acc) + epsilon)
    /// Keras 3: w -= lr * g / sqrt(acc + epsilon).
    class Adagrad : public Optimizer
    {
    public:
        explicit Adagrad(const json& config = json::object());

        std::string class_name() const override { return "Adagrad"; }

    protected:
        json own_config() const override;
        void create_slots(const std::vector<std::size_t>& vars) override;
        void prepare(float lr_t) override { m_lr_t = lr_t; }
        void apply_dense(std::size_t var, Tensor<float>& value, const Tensor<float>& grad) override;
        void adapt_loaded_weights(std::vector<OptimizerWeight>& weights, std::size_t expected) const override;
        std::string keras3_update_difference() const override;

    private:
        double m_initial_accumulator_value;
        double m_epsilon;
        float m_lr_t = 0.0f;
    };
}
