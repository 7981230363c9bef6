#pragma once
// tf.keras 2.x Adam, Adamax and Nadam (OptimizerV2), updating as TensorFlow's ResourceApplyAdam,
// ResourceApplyAdamWithAmsgrad and ResourceApplyAdaMax kernels do and as Keras's Nadam does in Python.
// t below is the step being taken (iterations + 1).
#include "optim/optimizer.hpp"

namespace xk
{
    /// Config: learning_rate 0.001, beta_1 0.9, beta_2 0.999, epsilon 1e-7, amsgrad false.
    /// Slots "m", "v" (and "vhat" with amsgrad), each kind created for every weight before the next.
    ///   alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
    ///   m += (g - m) * (1 - beta_1);  v += (g^2 - v) * (1 - beta_2);  [vhat = max(vhat, v)]
    ///   w -= m * alpha / (sqrt(v or vhat) + epsilon)        (epsilon is Kingma & Ba's "epsilon hat")
    /// Keras 3: the same update; its slots "momentum" and "velocity" are interleaved per weight, then
    /// "velocity_hat" of every weight with amsgrad.
    class Adam : public Optimizer
    {
    public:
        explicit Adam(const json& config = json::object());

        std::string class_name() const override { return "Adam"; }

    protected:
        /// For AdamW: Adam's keys under `rules`.
        Adam(const json& config, const std::string& class_name, std::optional<UpdateRules> rules);

        json own_config() const override;
        void create_slots(const std::vector<std::size_t>& vars) override;
        void prepare(float lr_t) override;
        void apply_dense(std::size_t var, Tensor<float>& value, const Tensor<float>& grad) override;
        void adapt_loaded_weights(std::vector<OptimizerWeight>& weights, std::size_t expected) const override;
        std::string keras3_slot_name(const std::string& legacy_slot) const override;

    private:
        double m_beta_1;
        double m_beta_2;
        double m_epsilon;
        bool m_amsgrad;
        float m_alpha = 0.0f;
    };

    /// Keras 3's AdamW (no legacy form): Adam with decoupled weight decay, weight_decay 0.004 by default
    /// (w -= w * weight_decay * lr before each Adam step; null is refused, as in Keras).
    class AdamW : public Adam
    {
    public:
        explicit AdamW(const json& config = json::object());

        std::string class_name() const override { return "AdamW"; }
    };

    /// Config: learning_rate 0.001, beta_1 0.9, beta_2 0.999, epsilon 1e-7. Slots "m", "v".
    ///   m += (g - m) * (1 - beta_1);  v = max(beta_2 * v, |g|);  w -= lr / (1 - beta_1^t) * (m / (v + eps))
    /// Keras 3: slots "momentum" and "norm" interleaved per weight; w -= lr * m / ((1 - beta_1^t) * (u + eps)).
    class Adamax : public Optimizer
    {
    public:
        explicit Adamax(const json& config = json::object());

        std::string class_name() const override { return "Adamax"; }

    protected:
        json own_config() const override;
        void create_slots(const std::vector<std::size_t>& vars) override;
        void prepare(float lr_t) override;
        void apply_dense(std::size_t var, Tensor<float>& value, const Tensor<float>& grad) override;
        std::string keras3_slot_name(const std::string& legacy_slot) const override;

    private:
        double m_beta_1;
        double m_beta_2;
        double m_epsilon;
        float m_lr_t = 0.0f;
        float m_beta_1_power = 0.0f;
    };

    /// Legacy config: learning_rate 0.001, beta_1 0.9, beta_2 0.999, epsilon 1e-7; "decay" is 0.004 and is
    /// Nadam's momentum-schedule decay, not a learning-rate decay (Keras sets it from `schedule_decay`, default
    /// 0.004, whatever `decay` says). Learning-rate schedules are rejected, as Keras does.
    /// State: "momentum_cache" (a scalar, starting at 1), then slots "m", "v".
    ///   mu_t = beta_1 * (1 - 0.5 * 0.96^(decay * t)),  mu_t1 = beta_1 * (1 - 0.5 * 0.96^(decay * (t + 1)))
    ///   cache *= mu_t;  g' = g / (1 - cache);  m = beta_1*m + (1-beta_1)*g;  m' = m / (1 - cache * mu_t1)
    ///   v = beta_2*v + (1-beta_2)*g^2;  v' = v / (1 - beta_2^t)
    ///   w -= lr * ((1 - mu_t) * g' + mu_t1 * m') / (sqrt(v') + epsilon)
    /// Keras 3 (keras/src/optimizers/nadam.py): no schedule decay (0.96^t), schedules allowed. State
    /// "u_product" (a scalar, 1), then "momentum" and "velocity" interleaved per weight (Keras 3.0-3.6's
    /// order; 3.10+ tracks u_product after the slots, and set_weights takes either).
    ///   u_t = beta_1 (1 - 0.5 * 0.96^t),  u_t1 = beta_1 (1 - 0.5 * 0.96^(t+1)),  u_product *= u_t
    ///   m += (g - m)(1 - beta_1);  v += (g^2 - v)(1 - beta_2)
    ///   m_hat = u_t1 m / (1 - u_product u_t1) + (1 - u_t) g / (1 - u_product);  v_hat = v / (1 - beta_2^t)
    ///   w -= m_hat lr / (sqrt(v_hat) + epsilon)
    class Nadam : public Optimizer
    {
    public:
        explicit Nadam(const json& config = json::object());

        std::string class_name() const override { return "Nadam"; }
        /// Nadam applies no learning-rate decay: the rate is the configured number.
        float learning_rate() const override;

    protected:
        json own_config() const override;
        void check_schedule() const override;
        void create_slots(const std::vector<std::size_t>& vars) override;
        void prepare(float lr_t) override;
        void apply_dense(std::size_t var, Tensor<float>& value, const Tensor<float>& grad) override;
        std::string keras3_slot_name(const std::string& legacy_slot) const override;
        std::string keras3_update_difference() const override;
        void adapt_loaded_weights(std::vector<OptimizerWeight>& weights, std::size_t expected) const override;

    private:
        void apply_dense_keras3(std::size_t var, Tensor<float>& value, const Tensor<float>& grad);

        double m_beta_1;
        double m_beta_2;
        double m_epsilon;
        std::size_t m_cache = 0; ///< index of momentum_cache (Keras 3: u_product) in the state
        bool m_has_cache = false;
        // Per-step coefficients (Keras's _prepare_local).
        float m_lr_t = 0.0f;
        float m_mu_t = 0.0f;
        float m_mu_t1 = 0.0f;
        float m_one_minus_schedule_new = 0.0f;
        float m_one_minus_schedule_next = 0.0f;
        float m_v_denominator = 0.0f;
    };
}
