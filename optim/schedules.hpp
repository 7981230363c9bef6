#pragma once
// Keras learning-rate schedules (tf.keras.optimizers.schedules, 2.x): a schedule maps the optimizer's step
// count to a learning rate. An optimizer evaluates its schedule at `iterations` before each update.
// Values are computed in float32, as TensorFlow does for a Python-number initial rate.
#include "framework/keras/config.hpp"
#include "framework/keras/registry.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace xk
{
    class LearningRateSchedule
    {
    public:
        virtual ~LearningRateSchedule() = default;

        /// Keras class name: "ExponentialDecay", "PiecewiseConstantDecay".
        virtual std::string class_name() const = 0;
        /// The learning rate at optimizer step `step` (Keras casts the step to float32 first).
        virtual float operator()(std::int64_t step) const = 0;
        /// Keras's get_config(): exactly its keys, the values as they were given.
        virtual json get_config() const = 0;
    };

    using SchedulePtr = std::shared_ptr<const LearningRateSchedule>;

    /// initial_learning_rate * decay_rate ^ (step / decay_steps); with staircase the exponent is floored.
    /// Config keys: initial_learning_rate, decay_steps, decay_rate, staircase (false), name (null).
    class ExponentialDecay : public LearningRateSchedule
    {
    public:
        explicit ExponentialDecay(const json& config);
        ExponentialDecay(double initial_learning_rate, double decay_steps, double decay_rate, bool staircase = false);

        std::string class_name() const override { return "ExponentialDecay"; }
        float operator()(std::int64_t step) const override;
        json get_config() const override { return m_config; }

    private:
        json m_config;
        double m_initial;
        double m_decay_steps;
        double m_decay_rate;
        bool m_staircase;
    };

    /// values[0] while step <= boundaries[0], values[i] while boundaries[i-1] < step <= boundaries[i], and
    /// values.back() once step > boundaries.back(). Config keys: boundaries, values, name (null).
    class PiecewiseConstantDecay : public LearningRateSchedule
    {
    public:
        explicit PiecewiseConstantDecay(const json& config);
        PiecewiseConstantDecay(std::vector<double> boundaries, std::vector<double> values);

        std::string class_name() const override { return "PiecewiseConstantDecay"; }
        float operator()(std::int64_t step) const override;
        json get_config() const override { return m_config; }

    private:
        void validate() const;

        json m_config;
        std::vector<double> m_boundaries;
        std::vector<double> m_values;
    };

    /// Schedules by Keras class name; factories take the "config" object.
    Registry<SchedulePtr, const json&>& schedule_registry();

    /// From Keras's serialized form {"class_name": ..., "config": {...}} (extra keys of the Keras >= 2.13
    /// format, "module" and "registered_name", are ignored).
    SchedulePtr get_schedule(const json& serialized);
    /// {"class_name": ..., "config": ...}, as keras.optimizers.schedules.serialize writes it in tf.keras 2.x.
    json serialize(const LearningRateSchedule& schedule);
}
