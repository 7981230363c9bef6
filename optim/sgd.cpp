#include "optim/sgd.hpp"

namespace xk
{
    SGD::SGD(const json& config)
        : Optimizer(config, "SGD", 0.01, {"momentum", "nesterov"}), m_momentum(momentum_value(config)),
          m_nesterov(config_value<bool>(config, "nesterov", false))
    {
    }

    json SGD::own_config() const
    {
        return {{"momentum", m_momentum}, {"nesterov", m_nesterov}};
    }

    void SGD::create_slots(const std::vector<std::size_t>& vars)
    {
        if (m_momentum > 0.0)
            for (auto v : vars)
                add_slot(v, "momentum");
    }

    void SGD::apply_dense(std::size_t var, Tensor<float>& value, const Tensor<float>& grad)
    {
        float* w = value.data();
        const float* g = grad.data();
        const std::size_t n = value.size();
        const float lr = m_lr_t;
        if (m_momentum <= 0.0)
        {
            for (std::size_t i = 0; i < n; ++i) // ApplyGradientDescent
                w[i] -= g[i] * lr;
            return;
        }
        const float mom = static_cast<float>(m_momentum);
        float* a = slot(var, "momentum").data();
        for (std::size_t i = 0; i < n; ++i) // ApplyKerasMomentum
        {
            a[i] = a[i] * mom - g[i] * lr;
            w[i] += m_nesterov ? a[i] * mom - g[i] * lr : a[i];
        }
    }
}
