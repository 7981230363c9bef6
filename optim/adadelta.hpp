#pragma once
// tf.keras 2.x Adadelta (OptimizerV2, TensorFlow's ResourceApplyAdadelta).
#include "optim/optimizer.hpp"

namespace xk
{
    /// Config: learning_rate 0.001, rho 0.95, epsilon 1e-7. Slots "accum_grad", then "accum_var".
    ///   accum_grad = rho * accum_grad + (1 - rho) * g^2
    ///   update = sqrt(accum_var + eps) / sqrt(accum_grad + eps) * g;  w -= lr * update
    ///   accum_var = rho * accum_var + (1 - rho) * update^2
    /// Keras 3: the same update, its slots "accumulated_grad" and "accumulated_delta_var" interleaved per weight.
    class Adadelta : public Optimizer
    {
    public:
        explicit Adadelta(const json& config = json::object());

        std::string class_name() const override { return "Adadelta"; }

    protected:
        json own_config() const override;
        void create_slots(const std::vector<std::size_t>& vars) override;
        void prepare(float lr_t) override { m_lr_t = lr_t; }
        void apply_dense(std::size_t var, Tensor<float>& value, const Tensor<float>& grad) override;
        void adapt_loaded_weights(std::vector<OptimizerWeight>& weights, std::size_t expected) const override;
        std::string keras3_slot_name(const std::string& legacy_slot) const override;

    private:
        double m_rho;
        double m_epsilon;
        float m_lr_t = 0.0f;
    };
}
