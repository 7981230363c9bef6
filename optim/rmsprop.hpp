#pragma once
// tf.keras 2.x RMSprop (OptimizerV2). With momentum it runs TensorFlow's ResourceApply(Centered)RMSProp,
// whose epsilon sits inside the square root; without momentum Keras's own Python update, whose epsilon is
// added after it. Both are reproduced.
#include "optim/optimizer.hpp"

namespace xk
{
    /// Config: learning_rate 0.001, rho 0.9, momentum 0 (in [0, 1]), epsilon 1e-7, centered false.
    /// Slots: "rms" always, "momentum" when momentum > 0, "mg" when centered (created in that order).
    ///   no momentum: rms = rho*rms + (1-rho)*g^2; [mg = rho*mg + (1-rho)*g; d = rms - mg^2]
    ///                w -= lr*g / (sqrt(d) + eps)
    ///   momentum:    rms += (g^2 - rms)*(1-rho); [mg += (g - mg)*(1-rho)]
    ///                mom = momentum*mom + lr*g / sqrt(d + eps); w -= mom
    /// Keras 3 (slots "velocity", "momentum", "average_gradient"), with or without momentum:
    ///   v = rho*v + (1-rho)*g^2; [a = rho*a + (1-rho)*g; d = v - a^2] ; inc = lr*g / sqrt(d + eps)
    ///   momentum: mom = momentum*mom + inc; w -= mom      otherwise: w -= inc
    class RMSprop : public Optimizer
    {
    public:
        explicit RMSprop(const json& config = json::object());

        std::string class_name() const override { return "RMSprop"; }

    protected:
        json own_config() const override;
        void create_slots(const std::vector<std::size_t>& vars) override;
        void prepare(float lr_t) override { m_lr_t = lr_t; }
        void apply_dense(std::size_t var, Tensor<float>& value, const Tensor<float>& grad) override;
        void adapt_loaded_weights(std::vector<OptimizerWeight>& weights, std::size_t expected) const override;
        std::string keras3_slot_name(const std::string& legacy_slot) const override;
        std::string keras3_update_difference() const override;

    private:
        double m_rho;
        double m_momentum;
        double m_epsilon;
        bool m_centered;
        float m_lr_t = 0.0f;
    };

    /// Keras 1's lists lack the iteration count: Keras prepends 0 (RMSprop, Adagrad, Adadelta).
    void prepend_missing_iterations(std::vector<OptimizerWeight>& weights, std::size_t expected);
}
