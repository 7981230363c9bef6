#include "optim/adam.hpp"

#include <algorithm>
#include <cmath>

namespace xk
{
    namespace
    {
        const std::vector<std::string> adam_keys{"beta_1", "beta_2", "epsilon"};

        // Keras's Nadam: kwargs["decay"] = kwargs.pop("schedule_decay", 0.004), before OptimizerV2 reads it.
        json nadam_config(const json& config)
        {
            json c = config.is_object() ? config : json::object();
            if (rules_of_config(c) == UpdateRules::keras3)
                return c; // Keras 3's Nadam has no schedule decay
            json decay = 0.004;
            if (auto it = c.find("schedule_decay"); it != c.end())
            {
                decay = *it;
                c.erase(it);
            }
            c["decay"] = decay;
            return config.is_null() || config.is_object() ? c : config;
        }
    }

    // ---------------------------------------------------------------- Adam

    Adam::Adam(const json& config) : Adam(config, "Adam", std::nullopt) {}

    Adam::Adam(const json& config, const std::string& class_name, std::optional<UpdateRules> rules)
        : Optimizer(config, class_name, 0.001, {"beta_1", "beta_2", "epsilon", "amsgrad"}, rules),
          m_beta_1(config_value<double>(config, "beta_1", 0.9)),
          m_beta_2(config_value<double>(config, "beta_2", 0.999)), m_epsilon(epsilon_value(config)),
          m_amsgrad(config_value<bool>(config, "amsgrad", false))
    {
    }

    json Adam::own_config() const
    {
        return {{"beta_1", m_beta_1}, {"beta_2", m_beta_2}, {"epsilon", m_epsilon}, {"amsgrad", m_amsgrad}};
    }

    void Adam::create_slots(const std::vector<std::size_t>& vars)
    {
        if (keras3_rules())
        {
            for (auto v : vars)
            {
                add_slot(v, "momentum");
                add_slot(v, "velocity");
            }
            if (m_amsgrad)
                for (auto v : vars)
                    add_slot(v, "velocity_hat");
            return;
        }
        for (auto v : vars)
            add_slot(v, "m");
        for (auto v : vars)
            add_slot(v, "v");
        if (m_amsgrad)
            for (auto v : vars)
                add_slot(v, "vhat");
    }

    void Adam::prepare(float lr_t)
    {
        const float step = static_cast<float>(iterations() + 1);
        const float beta_1_power = std::pow(static_cast<float>(m_beta_1), step);
        const float beta_2_power = std::pow(static_cast<float>(m_beta_2), step);
        m_alpha = lr_t * std::sqrt(1.0f - beta_2_power) / (1.0f - beta_1_power);
    }

    void Adam::apply_dense(std::size_t var, Tensor<float>& value, const Tensor<float>& grad)
    {
        float* w = value.data();
        const float* g = grad.data();
        const bool keras3 = keras3_rules();
        float* m = slot(var, keras3 ? "momentum" : "m").data();
        float* v = slot(var, keras3 ? "velocity" : "v").data();
        float* vhat = m_amsgrad ? slot(var, keras3 ? "velocity_hat" : "vhat").data() : nullptr;
        const float one_minus_beta_1 = one_minus(m_beta_1);
        const float one_minus_beta_2 = one_minus(m_beta_2);
        const float eps = static_cast<float>(m_epsilon);
        for (std::size_t i = 0, n = value.size(); i < n; ++i)
        {
            m[i] += (g[i] - m[i]) * one_minus_beta_1;
            v[i] += (g[i] * g[i] - v[i]) * one_minus_beta_2;
            float second = v[i];
            if (vhat)
            {
                vhat[i] = std::max(vhat[i], v[i]);
                second = vhat[i];
            }
            w[i] -= (m[i] * m_alpha) / (std::sqrt(second) + eps);
        }
    }

    void Adam::adapt_loaded_weights(std::vector<OptimizerWeight>& weights, std::size_t expected) const
    {
        // Keras 1's Adam saved vhat slots even without amsgrad (3n + 1 weights): Keras drops the extra ones.
        const std::size_t num_vars = (expected - 1) / 2;
        if (!keras3_rules() && weights.size() == 3 * num_vars + 1 && weights.size() > expected)
            weights.resize(expected);
    }

    std::string Adam::keras3_slot_name(const std::string& legacy_slot) const
    {
        return legacy_slot == "m" ? "momentum" : legacy_slot == "v" ? "velocity" : "velocity_hat";
    }

    // ---------------------------------------------------------------- AdamW

    namespace
    {
        json adamw_config(const json& config)
        {
            json c = config.is_object() ? config : json::object();
            if (!c.contains("weight_decay"))
                c["weight_decay"] = 0.004;
            XK_CHECK(!c["weight_decay"].is_null(), value_error,
                     "Argument `weight_decay` must be a float. Received: weight_decay=None");
            return config.is_null() || config.is_object() ? c : config;
        }
    }

    AdamW::AdamW(const json& config) : Adam(adamw_config(config), "AdamW", UpdateRules::keras3) {}

    // ---------------------------------------------------------------- Adamax

    Adamax::Adamax(const json& config)
        : Optimizer(config, "Adamax", 0.001, adam_keys), m_beta_1(config_value<double>(config, "beta_1", 0.9)),
          m_beta_2(config_value<double>(config, "beta_2", 0.999)), m_epsilon(epsilon_value(config))
    {
    }

    json Adamax::own_config() const
    {
        return {{"beta_1", m_beta_1}, {"beta_2", m_beta_2}, {"epsilon", m_epsilon}};
    }

    void Adamax::create_slots(const std::vector<std::size_t>& vars)
    {
        if (keras3_rules())
        {
            for (auto v : vars)
            {
                add_slot(v, "momentum");
                add_slot(v, "norm");
            }
            return;
        }
        for (auto v : vars)
            add_slot(v, "m");
        for (auto v : vars)
            add_slot(v, "v");
    }

    void Adamax::prepare(float lr_t)
    {
        m_lr_t = lr_t;
        m_beta_1_power = std::pow(static_cast<float>(m_beta_1), static_cast<float>(iterations() + 1));
    }

    void Adamax::apply_dense(std::size_t var, Tensor<float>& value, const Tensor<float>& grad)
    {
        float* w = value.data();
        const float* g = grad.data();
        const bool keras3 = keras3_rules();
        float* m = slot(var, keras3 ? "momentum" : "m").data();
        float* u = slot(var, keras3 ? "norm" : "v").data();
        const float one_minus_beta_1 = one_minus(m_beta_1);
        const float beta_2 = static_cast<float>(m_beta_2);
        const float eps = static_cast<float>(m_epsilon);
        if (keras3)
        {
            const float bias = 1.0f - m_beta_1_power;
            for (std::size_t i = 0, n = value.size(); i < n; ++i)
            {
                m[i] += (g[i] - m[i]) * one_minus_beta_1;
                u[i] = std::max(beta_2 * u[i], std::abs(g[i]));
                w[i] -= (m_lr_t * m[i]) / (bias * (u[i] + eps));
            }
            return;
        }
        const float scaled_lr = m_lr_t / (1.0f - m_beta_1_power);
        for (std::size_t i = 0, n = value.size(); i < n; ++i) // ApplyAdaMax
        {
            m[i] += (g[i] - m[i]) * one_minus_beta_1;
            u[i] = std::max(beta_2 * u[i], std::abs(g[i]));
            w[i] -= scaled_lr * (m[i] / (u[i] + eps));
        }
    }

    std::string Adamax::keras3_slot_name(const std::string& legacy_slot) const
    {
        return legacy_slot == "m" ? "momentum" : "norm";
    }

    // ---------------------------------------------------------------- Nadam

    Nadam::Nadam(const json& config)
        : Optimizer(nadam_config(config), "Nadam", 0.001, adam_keys),
          m_beta_1(config_value<double>(config, "beta_1", 0.9)),
          m_beta_2(config_value<double>(config, "beta_2", 0.999)), m_epsilon(epsilon_value(config))
    {
        if (learning_rate_schedule())
            check_schedule();
    }

    void Nadam::check_schedule() const
    {
        if (keras3_rules())
            return;
        throw value_error("The Nadam optimizer does not support tf.keras.optimizers.LearningRateSchedules as the "
                          "learning rate.");
    }

    float Nadam::learning_rate() const
    {
        if (keras3_rules())
            return Optimizer::learning_rate();
        return static_cast<float>(learning_rate_value());
    }

    json Nadam::own_config() const
    {
        return {{"beta_1", m_beta_1}, {"beta_2", m_beta_2}, {"epsilon", m_epsilon}};
    }

    void Nadam::create_slots(const std::vector<std::size_t>& vars)
    {
        if (!m_has_cache)
        {
            Tensor<float> one = Tensor<float>::from_shape({});
            one() = 1.0f;
            m_cache = add_state(keras3_rules() ? "u_product" : "momentum_cache", std::move(one));
            m_has_cache = true;
        }
        if (keras3_rules())
        {
            for (auto v : vars)
            {
                add_slot(v, "momentum");
                add_slot(v, "velocity");
            }
            return;
        }
        for (auto v : vars)
            add_slot(v, "m");
        for (auto v : vars)
            add_slot(v, "v");
    }

    void Nadam::prepare(float lr_t)
    {
        const float beta_1 = static_cast<float>(m_beta_1);
        const float beta_2 = static_cast<float>(m_beta_2);
        const float local_step = static_cast<float>(iterations() + 1);
        const float next_step = static_cast<float>(iterations() + 2);
        const float decay = static_cast<float>(this->decay());
        const float decay_base = 0.96f;
        m_lr_t = lr_t;
        if (keras3_rules())
        {
            // _backend_update_step: u_product *= beta_1 (1 - 0.5 * 0.96^t) before the updates, which read it.
            float& u_product = state(m_cache)();
            u_product = u_product * beta_1 * (1.0f - 0.5f * std::pow(decay_base, local_step));
            m_mu_t = beta_1 * (1.0f - 0.5f * std::pow(decay_base, local_step));
            m_mu_t1 = beta_1 * (1.0f - 0.5f * std::pow(decay_base, next_step));
            m_one_minus_schedule_new = 1.0f - u_product;
            m_one_minus_schedule_next = 1.0f - u_product * m_mu_t1;
            m_v_denominator = 1.0f - std::pow(beta_2, local_step);
            return;
        }
        m_mu_t = beta_1 * (1.0f - 0.5f * std::pow(decay_base, decay * local_step));
        m_mu_t1 = beta_1 * (1.0f - 0.5f * std::pow(decay_base, decay * next_step));
        float& cache = state(m_cache)();
        const float schedule_new = cache * m_mu_t;
        cache = schedule_new;
        const float schedule_next = schedule_new * m_mu_t1;
        m_one_minus_schedule_new = 1.0f - schedule_new;
        m_one_minus_schedule_next = 1.0f - schedule_next;
        m_v_denominator = 1.0f - std::pow(beta_2, local_step);
    }

    void Nadam::apply_dense(std::size_t var, Tensor<float>& value, const Tensor<float>& grad)
    {
        if (keras3_rules())
        {
            apply_dense_keras3(var, value, grad);
            return;
        }
        float* w = value.data();
        const float* g = grad.data();
        float* m = slot(var, "m").data();
        float* v = slot(var, "v").data();
        const float beta_1 = static_cast<float>(m_beta_1);
        const float beta_2 = static_cast<float>(m_beta_2);
        const float one_minus_beta_1 = 1.0f - beta_1;
        const float one_minus_beta_2 = 1.0f - beta_2;
        const float one_minus_mu_t = 1.0f - m_mu_t;
        const float eps = static_cast<float>(m_epsilon);
        for (std::size_t i = 0, n = value.size(); i < n; ++i)
        {
            const float g_prime = g[i] / m_one_minus_schedule_new;
            m[i] = beta_1 * m[i] + one_minus_beta_1 * g[i];
            const float m_prime = m[i] / m_one_minus_schedule_next;
            v[i] = beta_2 * v[i] + one_minus_beta_2 * (g[i] * g[i]);
            const float v_prime = v[i] / m_v_denominator;
            const float m_bar = one_minus_mu_t * g_prime + m_mu_t1 * m_prime;
            w[i] = w[i] - m_lr_t * m_bar / (std::sqrt(v_prime) + eps);
        }
    }

    void Nadam::apply_dense_keras3(std::size_t var, Tensor<float>& value, const Tensor<float>& grad)
    {
        float* w = value.data();
        const float* g = grad.data();
        float* m = slot(var, "momentum").data();
        float* v = slot(var, "velocity").data();
        // Keras 3 casts beta_1 and beta_2 to the variable's dtype first, so 1 - beta is taken in float32.
        const float one_minus_beta_1 = 1.0f - static_cast<float>(m_beta_1);
        const float one_minus_beta_2 = 1.0f - static_cast<float>(m_beta_2);
        const float one_minus_u_t = 1.0f - m_mu_t;
        const float eps = static_cast<float>(m_epsilon);
        for (std::size_t i = 0, n = value.size(); i < n; ++i)
        {
            m[i] += (g[i] - m[i]) * one_minus_beta_1;
            v[i] += (g[i] * g[i] - v[i]) * one_minus_beta_2;
            const float m_hat = m_mu_t1 * m[i] / m_one_minus_schedule_next + one_minus_u_t * g[i] / m_one_minus_schedule_new;
            const float v_hat = v[i] / m_v_denominator;
            w[i] -= m_hat * m_lr_t / (std::sqrt(v_hat) + eps);
        }
    }

    std::string Nadam::keras3_slot_name(const std::string& legacy_slot) const
    {
        return legacy_slot == "m" ? "momentum" : "velocity";
    }

    std::string Nadam::keras3_update_difference() const
    {
        return "Keras 3's momentum schedule is beta_1 (1 - 0.5 * 0.96^t), tf.keras's beta_1 (1 - 0.5 * "
               "0.96^(schedule_decay * t))";
    }

    void Nadam::adapt_loaded_weights(std::vector<OptimizerWeight>& weights, std::size_t expected) const
    {
        // Keras 3.10+ tracks u_product after the slots, 3.0-3.6 before them: the one scalar among the state
        // variables tells which (a weight of shape () would be ambiguous; it is taken as 3.6's order).
        const std::size_t at = expected - (state_count() - m_cache);
        if (!keras3_rules() || weights.size() != expected || at >= weights.size() ||
            weights[at].second.dimension() == 0 || weights.back().second.dimension() != 0)
            return;
        OptimizerWeight u_product = std::move(weights.back());
        weights.pop_back();
        weights.insert(weights.begin() + static_cast<std::ptrdiff_t>(at), std::move(u_product));
    }
}
