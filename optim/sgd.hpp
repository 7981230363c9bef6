#pragma once
// tf.keras 2.x SGD (OptimizerV2): plain steps, or Keras's momentum form (ResourceApplyKerasMomentum).
#include "optim/optimizer.hpp"

namespace xk
{
    /// Config: learning_rate 0.01, momentum 0 (in [0, 1]), nesterov false, plus the OptimizerV2 keys.
    ///   momentum 0:  w -= lr * g
    ///   momentum m:  a = m * a - lr * g;  w += a             (slot "momentum", only when m > 0)
    ///   nesterov:    a = m * a - lr * g;  w += m * a - lr * g
    /// Keras 3's SGD takes the same steps with the same slot.
    class SGD : public Optimizer
    {
    public:
        explicit SGD(const json& config = json::object());

        std::string class_name() const override { return "SGD"; }
        double momentum() const { return m_momentum; }
        bool nesterov() const { return m_nesterov; }

    protected:
        json own_config() const override;
        void create_slots(const std::vector<std::size_t>& vars) override;
        void prepare(float lr_t) override { m_lr_t = lr_t; }
        void apply_dense(std::size_t var, Tensor<float>& value, const Tensor<float>& grad) override;

    private:
        double m_momentum;
        bool m_nesterov;
        float m_lr_t = 0.0f;
    };
}
