#include "optim/adagrad.hpp"
#include "optim/rmsprop.hpp"

#include <cmath>

namespace xk
{
    Adagrad::Adagrad(const json& config)
        : Optimizer(config, "Adagrad", 0.001, {"initial_accumulator_value", "epsilon"}),
          m_initial_accumulator_value(config_value<double>(config, "initial_accumulator_value", 0.1)),
          m_epsilon(epsilon_value(config))
    {
        XK_CHECK(m_initial_accumulator_value >= 0.0, value_error,
                 "initial_accumulator_value must be non-negative: ", config.at("initial_accumulator_value").dump());
    }

    json Adagrad::own_config() const
    {
        return {{"initial_accumulator_value", m_initial_accumulator_value}, {"epsilon", m_epsilon}};
    }

    void Adagrad::create_slots(const std::vector<std::size_t>& vars)
    {
        for (auto v : vars)
            add_slot(v, "accumulator", static_cast<float>(m_initial_accumulator_value));
    }

    void Adagrad::apply_dense(std::size_t var, Tensor<float>& value, const Tensor<float>& grad)
    {
        float* w = value.data();
        const float* g = grad.data();
        float* acc = slot(var, "accumulator").data();
        const float eps = static_cast<float>(m_epsilon);
        if (keras3_rules())
        {
            for (std::size_t i = 0, n = value.size(); i < n; ++i)
            {
                acc[i] += g[i] * g[i];
                w[i] -= (m_lr_t * g[i]) / std::sqrt(acc[i] + eps);
            }
            return;
        }
        for (std::size_t i = 0, n = value.size(); i < n; ++i) // ApplyAdagradV2
        {
            acc[i] += g[i] * g[i];
            w[i] -= g[i] * m_lr_t / (std::sqrt(acc[i]) + eps);
        }
    }

    void Adagrad::adapt_loaded_weights(std::vector<OptimizerWeight>& weights, std::size_t expected) const
    {
        if (!keras3_rules()) // files of tf.keras before the iteration count was saved
            prepend_missing_iterations(weights, expected);
    }

    std::string Adagrad::keras3_update_difference() const
    {
        return "epsilon sits inside the square root";
    }
}
