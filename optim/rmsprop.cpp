#include "optim/rmsprop.hpp"

#include <cmath>

namespace xk
{
    RMSprop::RMSprop(const json& config)
        : Optimizer(config, "RMSprop", 0.001, {"rho", "momentum", "epsilon", "centered"}),
          m_rho(config_value<double>(config, "rho", 0.9)), m_momentum(momentum_value(config)),
          m_epsilon(epsilon_value(config)), m_centered(config_value<bool>(config, "centered", false))
    {
    }

    json RMSprop::own_config() const
    {
        return {{"rho", m_rho}, {"momentum", m_momentum}, {"epsilon", m_epsilon}, {"centered", m_centered}};
    }

    void RMSprop::create_slots(const std::vector<std::size_t>& vars)
    {
        for (auto v : vars)
            add_slot(v, keras3_rules() ? "velocity" : "rms");
        if (m_momentum > 0.0)
            for (auto v : vars)
                add_slot(v, "momentum");
        if (m_centered)
            for (auto v : vars)
                add_slot(v, keras3_rules() ? "average_gradient" : "mg");
    }

    void RMSprop::apply_dense(std::size_t var, Tensor<float>& value, const Tensor<float>& grad)
    {
        float* w = value.data();
        const float* g = grad.data();
        const std::size_t n = value.size();
        const float lr = m_lr_t;
        const float rho = static_cast<float>(m_rho);
        const float one_minus_rho = one_minus(m_rho);
        const float eps = static_cast<float>(m_epsilon);
        if (keras3_rules())
        {
            float* velocity = slot(var, "velocity").data();
            float* average = m_centered ? slot(var, "average_gradient").data() : nullptr;
            float* mom = m_momentum > 0.0 ? slot(var, "momentum").data() : nullptr;
            const float momentum = static_cast<float>(m_momentum);
            for (std::size_t i = 0; i < n; ++i)
            {
                velocity[i] = rho * velocity[i] + one_minus_rho * (g[i] * g[i]);
                float denominator = velocity[i] + eps;
                if (average)
                {
                    average[i] = rho * average[i] + one_minus_rho * g[i];
                    denominator = velocity[i] - average[i] * average[i] + eps;
                }
                const float increment = (lr * g[i]) / std::sqrt(denominator);
                if (mom)
                {
                    mom[i] = momentum * mom[i] + increment;
                    w[i] -= mom[i];
                }
                else
                    w[i] -= increment;
            }
            return;
        }
        float* ms = slot(var, "rms").data();
        float* mg = m_centered ? slot(var, "mg").data() : nullptr;
        if (m_momentum > 0.0)
        {
            const float momentum = static_cast<float>(m_momentum);
            float* mom = slot(var, "momentum").data();
            for (std::size_t i = 0; i < n; ++i) // ApplyRMSProp / ApplyCenteredRMSProp
            {
                ms[i] += (g[i] * g[i] - ms[i]) * one_minus_rho;
                float denom = ms[i];
                if (mg)
                {
                    mg[i] += (g[i] - mg[i]) * one_minus_rho;
                    denom = ms[i] - mg[i] * mg[i];
                }
                mom[i] = mom[i] * momentum + (g[i] * lr) / std::sqrt(denom + eps);
                w[i] -= mom[i];
            }
            return;
        }
        for (std::size_t i = 0; i < n; ++i) // Keras's Python update
        {
            ms[i] = rho * ms[i] + one_minus_rho * (g[i] * g[i]);
            float denom = ms[i];
            if (mg)
            {
                mg[i] = rho * mg[i] + one_minus_rho * g[i];
                denom = ms[i] - mg[i] * mg[i];
            }
            w[i] = w[i] - lr * g[i] / (std::sqrt(denom) + eps);
        }
    }

    void RMSprop::adapt_loaded_weights(std::vector<OptimizerWeight>& weights, std::size_t expected) const
    {
        if (!keras3_rules()) // files of tf.keras before the iteration count was saved
            prepend_missing_iterations(weights, expected);
    }

    void prepend_missing_iterations(std::vector<OptimizerWeight>& weights, std::size_t expected)
    {
        if (weights.size() + 1 != expected)
            return;
        Tensor<float> zero = Tensor<float>::from_shape({});
        zero() = 0.0f;
        weights.insert(weights.begin(), OptimizerWeight("iterations (absent, set to 0)", std::move(zero)));
    }

    std::string RMSprop::keras3_slot_name(const std::string& legacy_slot) const
    {
        return legacy_slot == "rms" ? "velocity" : legacy_slot == "mg" ? "average_gradient" : legacy_slot;
    }

    std::string RMSprop::keras3_update_difference() const
    {
        // TensorFlow's momentum kernel already takes the root of (ms + epsilon).
        return m_momentum > 0.0 ? "" : "epsilon sits inside the square root";
    }
}
