#include "optim/schedules.hpp"

#include <cmath>

namespace xk
{
    namespace
    {
        void check_keys(const json& config, const std::string& class_name, const std::vector<std::string>& known)
        {
            XK_CHECK(config.is_object(), value_error, "The config of ", class_name,
                     " must be a JSON object. Received: ", config.dump(), ".");
            auto unknown = unknown_keys(config, known);
            XK_CHECK(unknown.empty(), value_error, class_name, " got an unexpected keyword argument '",
                     unknown.empty() ? "" : unknown.front(), "'.");
        }

        const json& required(const json& config, const std::string& key, const std::string& class_name)
        {
            auto it = config.find(key);
            XK_CHECK(it != config.end() && !it->is_null(), value_error, class_name,
                     " is missing the required argument `", key, "`. Received config: ", config.dump(), ".");
            return *it;
        }

        double number(const json& value, const std::string& key, const std::string& class_name)
        {
            XK_CHECK(value.is_number(), value_error, "Invalid value for argument `", key, "` of ", class_name,
                     ". Expected a number. Received: ", key, "=", value.dump(), ".");
            return value.get<double>();
        }

        std::vector<double> numbers(const json& value, const std::string& key, const std::string& class_name)
        {
            XK_CHECK(value.is_array(), value_error, "Invalid value for argument `", key, "` of ", class_name,
                     ". Expected a list of numbers. Received: ", key, "=", value.dump(), ".");
            std::vector<double> out;
            for (const auto& v : value)
                out.push_back(number(v, key, class_name));
            return out;
        }

        json name_value(const json& config)
        {
            auto it = config.find("name");
            return it == config.end() ? json(nullptr) : *it;
        }
    }

    ExponentialDecay::ExponentialDecay(const json& config)
    {
        const std::string cls = "ExponentialDecay";
        check_keys(config, cls, {"initial_learning_rate", "decay_steps", "decay_rate", "staircase", "name"});
        m_initial = number(required(config, "initial_learning_rate", cls), "initial_learning_rate", cls);
        m_decay_steps = number(required(config, "decay_steps", cls), "decay_steps", cls);
        m_decay_rate = number(required(config, "decay_rate", cls), "decay_rate", cls);
        m_staircase = config_value<bool>(config, "staircase", false);
        // Keras does not check this, but a zero or negative period only yields inf/NaN rates.
        XK_CHECK(m_decay_steps > 0, value_error,
                 "Invalid value for argument `decay_steps` of ExponentialDecay. Expected a strictly positive "
                 "value. Received: decay_steps=",
                 config["decay_steps"].dump(), ".");
        m_config = {{"initial_learning_rate", config["initial_learning_rate"]},
                    {"decay_steps", config["decay_steps"]},
                    {"decay_rate", config["decay_rate"]},
                    {"staircase", m_staircase},
                    {"name", name_value(config)}};
    }

    ExponentialDecay::ExponentialDecay(double initial_learning_rate, double decay_steps, double decay_rate,
                                       bool staircase)
        : ExponentialDecay(json{{"initial_learning_rate", initial_learning_rate},
                                {"decay_steps", decay_steps},
                                {"decay_rate", decay_rate},
                                {"staircase", staircase}})
    {
    }

    float ExponentialDecay::operator()(std::int64_t step) const
    {
        // float32 throughout, as TensorFlow evaluates it for a Python-number initial rate.
        float p = static_cast<float>(step) / static_cast<float>(m_decay_steps);
        if (m_staircase)
            p = std::floor(p);
        return static_cast<float>(m_initial) * std::pow(static_cast<float>(m_decay_rate), p);
    }

    PiecewiseConstantDecay::PiecewiseConstantDecay(const json& config)
    {
        const std::string cls = "PiecewiseConstantDecay";
        check_keys(config, cls, {"boundaries", "values", "name"});
        m_boundaries = numbers(required(config, "boundaries", cls), "boundaries", cls);
        m_values = numbers(required(config, "values", cls), "values", cls);
        m_config = {{"boundaries", config["boundaries"]}, {"values", config["values"]}, {"name", name_value(config)}};
        validate();
    }

    PiecewiseConstantDecay::PiecewiseConstantDecay(std::vector<double> boundaries, std::vector<double> values)
        : m_boundaries(std::move(boundaries)), m_values(std::move(values))
    {
        m_config = {{"boundaries", m_boundaries}, {"values", m_values}, {"name", nullptr}};
        validate();
    }

    void PiecewiseConstantDecay::validate() const
    {
        XK_CHECK(m_boundaries.size() + 1 == m_values.size(), value_error,
                 "The length of boundaries should be 1 less than the length of values. Received: boundaries=",
                 m_config["boundaries"].dump(), " of length ", m_boundaries.size(),
                 ", and values=", m_config["values"].dump(), " of length ", m_values.size(), ".");
        // Keras leaves this to tf.case(exclusive=True), which fails at the first call; fail at construction.
        for (std::size_t i = 1; i < m_boundaries.size(); ++i)
            XK_CHECK(m_boundaries[i - 1] < m_boundaries[i], value_error,
                     "The boundaries of PiecewiseConstantDecay must be strictly increasing. Received: boundaries=",
                     m_config["boundaries"].dump(), ".");
    }

    float PiecewiseConstantDecay::operator()(std::int64_t step) const
    {
        // Keras casts the boundaries to the step's dtype: float32 in an optimizer.
        const float x = static_cast<float>(step);
        std::size_t i = 0;
        while (i < m_boundaries.size() && x > static_cast<float>(m_boundaries[i]))
            ++i;
        return static_cast<float>(m_values[i]);
    }

    Registry<SchedulePtr, const json&>& schedule_registry()
    {
        static Registry<SchedulePtr, const json&> registry = [] {
            Registry<SchedulePtr, const json&> r("learning rate schedule");
            r.add("ExponentialDecay", [](const json& c) { return std::make_shared<ExponentialDecay>(c); });
            r.add("PiecewiseConstantDecay", [](const json& c) { return std::make_shared<PiecewiseConstantDecay>(c); });
            return r;
        }();
        return registry;
    }

    SchedulePtr get_schedule(const json& serialized)
    {
        XK_CHECK(serialized.is_object(), value_error, "Could not interpret learning rate schedule: ", serialized.dump(),
                 ". Expected {\"class_name\": ..., \"config\": {...}}.");
        auto name = serialized.find("class_name");
        XK_CHECK(name != serialized.end() && name->is_string(), value_error,
                 "Improper config format: ", serialized.dump(),
                 ". Expecting a JSON object with `class_name` and `config` as keys.");
        auto config = serialized.find("config");
        bool no_config = config == serialized.end() || config->is_null();
        return schedule_registry().create(name->get<std::string>(), no_config ? json::object() : *config);
    }

    json serialize(const LearningRateSchedule& schedule)
    {
        return {{"class_name", schedule.class_name()}, {"config", schedule.get_config()}};
    }
}
