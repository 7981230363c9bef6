#pragma once
// Keras optimizers, with the update rules and state of either Keras generation, chosen by the config:
//
// Legacy rules (tf.keras 2.x OptimizerV2, tf.keras.optimizers.legacy.* from 2.11 on): configs without the
// new keys. The same configs and defaults, the same update rules (TensorFlow's training kernels, in float32),
// the same state variables in the same order and with the same names, so a model file's optimizer_weights
// can be read and written. One update (apply_gradients), as OptimizerV2 does it:
//  1. weights without a gradient are skipped (all of them without one is an error);
//  2. slots are created for weights seen for the first time;
//  3. the step's learning rate is lr(iterations) / (1 + decay * iterations), lr a number or a schedule;
//  4. gradients are clipped: clipvalue, then clipnorm (per tensor), then global_clipnorm;
//  5. each weight is updated, then its constraint applied;
//  6. iterations += 1.
//
// Keras 3 rules (keras/src/optimizers, also Keras 2.11-2.15's new optimizers): configs that carry any of
// weight_decay, use_ema, ema_momentum, ema_overwrite_frequency, loss_scale_factor,
// gradient_accumulation_steps, jit_compile, or is_legacy_optimizer=false (Keras 3's get_config writes them
// all). One update, as BaseOptimizer.apply does it:
//  1. gradients are divided by loss_scale_factor;
//  2. with gradient_accumulation_steps n, a step that is not the n-th only adds its gradients to the
//     accumulators; the n-th uses (g + accumulated) / n and resets the accumulators;
//  3. gradients are clipped by the one of clipnorm, global_clipnorm, clipvalue that is set;
//  4. weight decay: w -= w * weight_decay * lr (decoupled, before the update);
//  5. each weight is updated with Keras 3's update_step (RMSprop's and Adagrad's epsilon sit inside the
//     square root, unlike the legacy kernels; constants such as 1 - rho are taken in double, as Python does);
//  6. with use_ema, the moving averages are updated (and copied into the weights every
//     ema_overwrite_frequency steps); then the constraints are applied;
//  7. iterations += 1. The learning rate is lr(raw iteration count), no decay.
// State: the iteration count, the learning rate (when it is a number), the EMA averages, the gradient
// accumulators, then the optimizer's slots in Keras 3's order, named "<name>/<path with _>_<slot>".
//
// Gradients are read from each weight's variable and left in place: clear them (zero_grad) before the
// next backward pass, which accumulates.
//
// Every optimizer is constructed from its Keras config: Adam(json{{"learning_rate", 0.01}}). Spell the json
// out: a bare one-key braced list is ambiguous with the (deleted) copy constructor.
#include "framework/keras/layer.hpp"
#include "optim/schedules.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace xk
{
    /// An optimizer state variable as model files store it: ("Adam/conv2d/kernel/m:0", value).
    using OptimizerWeight = std::pair<std::string, Tensor<float>>;

    /// Which Keras generation's update rules and state an optimizer follows (see the header comment).
    enum class UpdateRules
    {
        legacy,
        keras3
    };

    /// The rules a config asks for (see the header comment).
    UpdateRules rules_of_config(const json& config);

    class Optimizer
    {
    public:
        virtual ~Optimizer() = default;
        Optimizer(const Optimizer&) = delete;
        Optimizer& operator=(const Optimizer&) = delete;

        /// Keras class name: "SGD", "RMSprop", "Adam", "Adamax", "Nadam", "Adagrad", "Adadelta".
        virtual std::string class_name() const = 0;
        /// The `name` argument (the class name by default); prefixes every state variable name.
        const std::string& name() const { return m_name; }

        /// One training step over `weights` (see the header comment). `paths` name the weights for the
        /// state variables the first time each is seen ("conv2d/kernel" gives "Adam/conv2d/kernel/m:0");
        /// without them the variable's own name is used.
        /// A model's step: apply_gradients(model.trainable_weights(), model.trainable_weight_paths()).
        void apply_gradients(const std::vector<Weight<float>*>& weights, const std::vector<std::string>& paths = {});

        /// Keras's _create_all_weights: creates the state of every weight (gradient or not) without updating
        /// anything, so that set_weights can restore a saved state before the first step.
        void build(const std::vector<Weight<float>*>& weights, const std::vector<std::string>& paths = {});

        UpdateRules rules() const { return m_rules; }
        bool keras3_rules() const { return m_rules == UpdateRules::keras3; }

        /// Number of updates applied so far (Keras's `iterations`). Under Keras 3's gradient accumulation, the
        /// apply calls divided by gradient_accumulation_steps.
        std::int64_t iterations() const;
        /// Calls of apply_gradients so far (the variable Keras saves; the same as iterations() otherwise).
        std::int64_t raw_iterations() const { return m_iterations; }
        void set_iterations(std::int64_t iterations);

        /// The learning rate the next update uses: the schedule (or number) at `iterations`, divided by
        /// 1 + decay * iterations (Keras's _decayed_lr, in float32).
        virtual float learning_rate() const;
        /// The configured rate: a number, or a schedule (then learning_rate_value() is meaningless).
        double learning_rate_value() const { return m_learning_rate; }
        const SchedulePtr& learning_rate_schedule() const { return m_schedule; }
        void set_learning_rate(double learning_rate);
        void set_learning_rate(SchedulePtr schedule);

        double decay() const { return m_decay; }
        // Keras 3's options (unset, false or 0.99 under the legacy rules).
        const std::optional<double>& weight_decay() const { return m_weight_decay; }
        bool use_ema() const { return m_use_ema; }
        double ema_momentum() const { return m_ema_momentum; }
        const std::optional<long>& ema_overwrite_frequency() const { return m_ema_overwrite_frequency; }
        const std::optional<double>& loss_scale_factor() const { return m_loss_scale_factor; }
        const std::optional<long>& gradient_accumulation_steps() const { return m_gradient_accumulation_steps; }

        /// Keras 3's scale_loss: the loss times loss_scale_factor (unchanged without one). Trainers scale the
        /// loss they differentiate; apply_gradients divides the gradients back.
        float scale_loss(float loss) const;
        /// Keras 3's finalize_variable_values, which fit() calls after its last epoch: with use_ema the
        /// weights take their moving averages.
        void finalize_variable_values(const std::vector<Weight<float>*>& weights);
        const std::optional<double>& clipnorm() const { return m_clipnorm; }
        const std::optional<double>& clipvalue() const { return m_clipvalue; }
        const std::optional<double>& global_clipnorm() const { return m_global_clipnorm; }

        /// Keras's get_config(). Legacy: name, learning_rate (a number or a serialized schedule), decay and the
        /// optimizer's own keys; clipnorm, clipvalue and global_clipnorm only when set, as OptimizerV2 does.
        /// Keras 3: name, learning_rate (the float32 value, as Keras reads it back from its variable),
        /// weight_decay, clipnorm, global_clipnorm, clipvalue, use_ema, ema_momentum,
        /// ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps, then the own keys.
        json get_config() const;

        /// The state in Keras's order. Legacy: "<name>/iter:0" first (a 0-d tensor; Keras stores an int64, here
        /// a float holding the integer), then every state variable in creation order (OptimizerV2 creates a
        /// slot kind for all the weights of a step before the next kind: m of every weight, then v of every
        /// weight). Keras 3: "<name>/iteration" (the raw count), "<name>/learning_rate" unless it is a
        /// schedule, then the state variables (Keras 3 interleaves Adam's and Adadelta's slots per weight).
        std::vector<OptimizerWeight> get_weights() const;
        /// Restores a state from get_weights() or a model file, by position as Keras does (names are only
        /// reported): the count and every shape must match the optimizer's current state (build() first).
        /// Keras's compatibility rules for older files apply (a missing iteration count for RMSprop, Adagrad
        /// and Adadelta; Keras 1 Adam's extra vhat slots).
        void set_weights(const std::vector<OptimizerWeight>& weights);

        /// The same optimizer under Keras 3's rules, for a `.keras` file: the config without `decay`, the same
        /// tracked weights, iteration count and slot values (renamed and reordered as Keras 3 keeps them).
        /// Prints a warning where Keras 3's update differs from this one's (a decay, RMSprop without momentum,
        /// Adagrad, Nadam's momentum schedule). An optimizer already under Keras 3's rules is copied.
        std::unique_ptr<Optimizer> as_keras3() const;

        /// A weight's slot ("m", "v", "momentum", ...); value_error when it has none.
        const Tensor<float>& get_slot(const BasicVariable<float>& variable, const std::string& slot_name) const;
        /// Slot kinds created so far, in creation order (Keras's get_slot_names()).
        const std::vector<std::string>& slot_names() const { return m_slot_names; }

        /// Drops the gradients of `weights` (the tape accumulates into them).
        static void zero_grad(const std::vector<Weight<float>*>& weights);

    protected:
        /// Chooses the rules from the config (or takes `forced`), reads the base keys of those rules
        /// (OptimizerV2: name, learning_rate / lr, decay, clipnorm, clipvalue, global_clipnorm; Keras 3: see
        /// get_config) and rejects keys outside them and `own_keys`, as Keras's constructors do.
        Optimizer(const json& config, const std::string& class_name, double default_learning_rate,
                  const std::vector<std::string>& own_keys, std::optional<UpdateRules> forced = std::nullopt);

        /// The subclass's keys for get_config().
        virtual json own_config() const = 0;
        /// Keras's _create_slots for the weights of one step (indices of tracked variables); add_slot is
        /// idempotent, so a subclass loops over all of them in Keras's order.
        virtual void create_slots(const std::vector<std::size_t>& vars) = 0;
        /// Keras's _prepare: per-step coefficients, before iterations is incremented.
        virtual void prepare(float lr_t) {}
        /// One weight's update (Keras's _resource_apply_dense) with its clipped gradient.
        virtual void apply_dense(std::size_t var, Tensor<float>& value, const Tensor<float>& grad) = 0;
        /// Keras 3's name of a legacy slot ("m" -> "momentum" for Adam).
        virtual std::string keras3_slot_name(const std::string& legacy_slot) const { return legacy_slot; }
        /// How Keras 3's update_step differs from this legacy configuration's ("" when it takes the same step).
        virtual std::string keras3_update_difference() const { return {}; }
        /// Throws for an optimizer that cannot take a schedule (Nadam).
        virtual void check_schedule() const {}
        /// Keras's per-optimizer set_weights compatibility rules (under the rules in force); `expected` is the
        /// current state's size.
        virtual void adapt_loaded_weights(std::vector<OptimizerWeight>& weights, std::size_t expected) const {}

        /// Creates the slot unless it exists, filled with `initial_value`, named "<name>/<path>/<slot>:0".
        void add_slot(std::size_t var, const std::string& slot_name, float initial_value = 0.0f);
        Tensor<float>& slot(std::size_t var, const std::string& slot_name);
        /// A state variable that belongs to no weight ("momentum_cache"), named "<name>/<weight>:0".
        std::size_t add_state(const std::string& weight_name, Tensor<float> initial_value);
        Tensor<float>& state(std::size_t index) { return m_state.at(index).second; }
        std::size_t state_count() const { return m_state.size(); }

        /// Legacy: Keras's `epsilon or backend.epsilon()`, 0 and null both mean 1e-7. Keras 3 keeps a 0.
        double epsilon_value(const json& config, double fallback = 1e-7) const;
        /// A Python float constant of an update (1 - rho) as Keras 3 hands it to a float32 op: computed in
        /// double, then rounded once. The legacy kernels compute it in float32 (1.0f - rho_f).
        float one_minus(double x) const;
        /// A momentum in [0, 1], as SGD and RMSprop require.
        static double momentum_value(const json& config);

    private:
        struct Tracked
        {
            BasicVariable<float> variable;
            std::string path;
            std::vector<std::pair<std::string, std::size_t>> slots; ///< slot name -> index in m_state
        };

        /// Indices of the tracked variables of `weights` (tracking new ones); only those with a gradient
        /// when `with_grad_only`.
        std::vector<std::size_t> track(const std::vector<Weight<float>*>& weights,
                                       const std::vector<std::string>& paths, bool with_grad_only);
        void read_keras3_config(const json& config, const std::string& class_name,
                                const std::vector<std::string>& own_keys);
        void clip_gradients(std::vector<Tensor<float>>& grads) const;
        void apply_keras3(const std::vector<Weight<float>*>& with_grad, const std::vector<std::size_t>& vars);
        /// Indices in m_state of the variables that belong to no weight (add_state), in creation order.
        std::vector<std::size_t> unshared_state() const;
        /// Keras 3's EMA averages and gradient accumulators, created before the optimizer's own slots.
        void create_base_slots(const std::vector<std::size_t>& vars);

        std::string m_name;
        double m_learning_rate = 0.0;
        SchedulePtr m_schedule;
        double m_decay = 0.0;
        std::optional<double> m_clipnorm;
        std::optional<double> m_clipvalue;
        std::optional<double> m_global_clipnorm;
        UpdateRules m_rules = UpdateRules::legacy;
        std::optional<double> m_weight_decay;
        bool m_use_ema = false;
        double m_ema_momentum = 0.99;
        std::optional<long> m_ema_overwrite_frequency;
        std::optional<double> m_loss_scale_factor;
        std::optional<long> m_gradient_accumulation_steps;

        std::int64_t m_iterations = 0;
        std::vector<Tracked> m_vars;
        std::vector<OptimizerWeight> m_state; ///< every state variable but iterations, in creation order
        std::vector<std::string> m_slot_names;
    };

    using OptimizerPtr = std::unique_ptr<Optimizer>;

    /// Optimizers by Keras class name and lower-case alias ("Adam", "adam", ...); factories take the config.
    Registry<OptimizerPtr, const json&>& optimizer_registry();

    /// Keras's optimizers.get: "adam" / "Adam" (case-insensitive, as Keras's deserialize), or
    /// {"class_name": ..., "config": {...}}.
    OptimizerPtr get_optimizer(const json& identifier);
    /// {"class_name": ..., "config": ...}
    json serialize(const Optimizer& optimizer);
}
