#include "optim/adadelta.hpp"
#include "optim/rmsprop.hpp"

#include <cmath>

namespace xk
{
    Adadelta::Adadelta(const json& config)
        : Optimizer(config, "Adadelta", 0.001, {"rho", "epsilon"}), m_rho(config_value<double>(config, "rho", 0.95)),
          m_epsilon(epsilon_value(config))
    {
    }

    json Adadelta::own_config() const
    {
        return {{"rho", m_rho}, {"epsilon", m_epsilon}};
    }

    void Adadelta::create_slots(const std::vector<std::size_t>& vars)
    {
        if (keras3_rules())
        {
            for (auto v : vars)
            {
                add_slot(v, "accumulated_grad");
                add_slot(v, "accumulated_delta_var");
            }
            return;
        }
        for (auto v : vars)
            add_slot(v, "accum_grad");
        for (auto v : vars)
            add_slot(v, "accum_var");
    }

    void Adadelta::apply_dense(std::size_t var, Tensor<float>& value, const Tensor<float>& grad)
    {
        float* w = value.data();
        const float* g = grad.data();
        const bool keras3 = keras3_rules();
        float* accum = slot(var, keras3 ? "accumulated_grad" : "accum_grad").data();
        float* accum_update = slot(var, keras3 ? "accumulated_delta_var" : "accum_var").data();
        const float rho = static_cast<float>(m_rho);
        const float one_minus_rho = one_minus(m_rho);
        const float eps = static_cast<float>(m_epsilon);
        if (keras3)
        {
            for (std::size_t i = 0, n = value.size(); i < n; ++i)
            {
                accum[i] = rho * accum[i] + one_minus_rho * (g[i] * g[i]);
                const float delta = -((std::sqrt(accum_update[i] + eps) * g[i]) / std::sqrt(accum[i] + eps));
                accum_update[i] = rho * accum_update[i] + one_minus_rho * (delta * delta);
                w[i] += m_lr_t * delta;
            }
            return;
        }
        for (std::size_t i = 0, n = value.size(); i < n; ++i) // ApplyAdadelta
        {
            accum[i] = accum[i] * rho + g[i] * g[i] * one_minus_rho;
            const float update = std::sqrt(accum_update[i] + eps) * (1.0f / std::sqrt(accum[i] + eps)) * g[i];
            w[i] -= update * m_lr_t;
            accum_update[i] = accum_update[i] * rho + update * update * one_minus_rho;
        }
    }

    void Adadelta::adapt_loaded_weights(std::vector<OptimizerWeight>& weights, std::size_t expected) const
    {
        if (!keras3_rules()) // files of tf.keras before the iteration count was saved
            prepend_missing_iterations(weights, expected);
    }

    std::string Adadelta::keras3_slot_name(const std::string& legacy_slot) const
    {
        return legacy_slot == "accum_grad" ? "accumulated_grad" : "accumulated_delta_var";
    }
}
