#include "optim/optimizer.hpp"
#include "optim/adadelta.hpp"
#include "optim/adagrad.hpp"
#include "optim/adam.hpp"
#include "optim/rmsprop.hpp"
#include "optim/sgd.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

namespace xk
{
    namespace
    {
        // Keys of the Keras >= 2.11 and Keras 3 optimizers, which OptimizerV2 does not take.
        const std::vector<std::string>& new_optimizer_keys()
        {
            static const std::vector<std::string> keys{"weight_decay",
                                                       "use_ema",
                                                       "ema_momentum",
                                                       "ema_overwrite_frequency",
                                                       "jit_compile",
                                                       "loss_scale_factor",
                                                       "gradient_accumulation_steps"};
            return keys;
        }

        std::string lower(std::string s)
        {
            std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
            return s;
        }

        std::optional<double> non_negative_kwarg(const json& config, const std::string& key)
        {
            auto it = config.find(key);
            if (it == config.end() || it->is_null())
                return std::nullopt;
            XK_CHECK(it->is_number(), value_error, "Invalid value for argument `", key,
                     "` of the optimizer. Expected a number. Received: ", key, "=", it->dump(), ".");
            double v = it->get<double>();
            // OptimizerV2 checks every keyword argument this way (not learning_rate itself).
            XK_CHECK(v >= 0, value_error, "Expected ", key, " >= 0, received: ", it->dump(), ".");
            return v;
        }

        std::string list_names(const std::vector<Weight<float>*>& weights)
        {
            std::string out = "[";
            for (std::size_t i = 0; i < weights.size(); ++i)
                out += (i ? ", '" : "'") + weights[i]->variable.name() + "'";
            return out + "]";
        }
    }

    // ---------------------------------------------------------------- construction and configuration

    UpdateRules rules_of_config(const json& config)
    {
        if (!config.is_object())
            return UpdateRules::legacy;
        if (auto it = config.find("is_legacy_optimizer"); it != config.end() && it->is_boolean())
            return it->get<bool>() ? UpdateRules::legacy : UpdateRules::keras3;
        for (const auto& key : new_optimizer_keys())
            if (config.contains(key))
                return UpdateRules::keras3;
        return UpdateRules::legacy;
    }

    namespace
    {
        std::string python_value(const std::optional<double>& v)
        {
            return v ? json(*v).dump() : "None";
        }
    }

    Optimizer::Optimizer(const json& config_in, const std::string& class_name, double default_learning_rate,
                         const std::vector<std::string>& own_keys, std::optional<UpdateRules> forced)
        : m_name(class_name), m_learning_rate(default_learning_rate)
    {
        const json config = config_in.is_null() ? json::object() : config_in;
        XK_CHECK(config.is_object(), value_error, "The config of ", class_name,
                 " must be a JSON object. Received: ", config.dump(), ".");
        m_rules = forced.value_or(rules_of_config(config));
        if (m_rules == UpdateRules::keras3)
        {
            read_keras3_config(config, class_name, own_keys);
            return;
        }

        std::vector<std::string> known{
            "name", "learning_rate", "lr", "decay", "clipnorm", "clipvalue", "global_clipnorm", "is_legacy_optimizer"};
        known.insert(known.end(), own_keys.begin(), own_keys.end());
        const std::vector<std::string> unknown = unknown_keys(config, known);
        if (!unknown.empty())
        {
            std::string keys, allowed;
            for (const auto& key : unknown)
                keys += (keys.empty() ? "" : ", ") + key;
            for (const auto& k : known)
                allowed += (allowed.empty() ? "" : ", ") + k;
            throw value_error("Unexpected keyword argument passed to optimizer " + class_name + ": " + keys +
                              ". Allowed kwargs are " + allowed + ".");
        }

        m_name = config_value<std::string>(config, "name", class_name);

        // Keras: kwargs.get("lr", learning_rate), so the legacy `lr` wins when both are given.
        non_negative_kwarg(config, "lr");
        json lr = nullptr;
        if (auto it = config.find("lr"); it != config.end() && !it->is_null())
            lr = *it;
        else if (auto it2 = config.find("learning_rate"); it2 != config.end() && !it2->is_null())
            lr = *it2;
        if (lr.is_object())
            m_schedule = get_schedule(lr);
        else if (!lr.is_null())
        {
            XK_CHECK(lr.is_number(), value_error, "Invalid value for argument `learning_rate` of ", class_name,
                     ". Expected a number or a serialized learning rate schedule. Received: learning_rate=", lr.dump(),
                     ".");
            m_learning_rate = lr.get<double>();
        }

        m_decay = non_negative_kwarg(config, "decay").value_or(0.0);
        m_clipnorm = non_negative_kwarg(config, "clipnorm");
        m_clipvalue = non_negative_kwarg(config, "clipvalue");
        m_global_clipnorm = non_negative_kwarg(config, "global_clipnorm");
        XK_CHECK(!(m_clipnorm && m_global_clipnorm), value_error,
                 "Cannot accept both `clipnorm` and `global_clipnorm`. Received: `clipnorm`=", *m_clipnorm,
                 ", `global_clipnorm`=", m_global_clipnorm.value_or(0.0), ".");
    }

    void Optimizer::read_keras3_config(const json& config, const std::string& class_name,
                                       const std::vector<std::string>& own_keys)
    {
        // BaseOptimizer.__init__: `decay` is dropped with a warning, anything else unknown is an error. Keras
        // 2.11-2.15's new optimizers also wrote jit_compile and is_legacy_optimizer.
        std::vector<std::string> known{"name",
                                       "learning_rate",
                                       "weight_decay",
                                       "clipnorm",
                                       "global_clipnorm",
                                       "clipvalue",
                                       "use_ema",
                                       "ema_momentum",
                                       "ema_overwrite_frequency",
                                       "loss_scale_factor",
                                       "gradient_accumulation_steps",
                                       "jit_compile",
                                       "is_legacy_optimizer",
                                       "decay"};
        known.insert(known.end(), own_keys.begin(), own_keys.end());
        const std::vector<std::string> unknown = unknown_keys(config, known);
        if (!unknown.empty())
        {
            json rest = json::object();
            for (const auto& key : unknown)
                rest[key] = config[key];
            throw value_error("Argument(s) not recognized: " + rest.dump() + " (" + class_name +
                              " with Keras 3's rules; `lr` and other OptimizerV2-only keys belong to configs "
                              "without Keras 3's keys).");
        }
        if (auto it = config.find("decay"); it != config.end() && !it->is_null() && it->is_number() &&
                                             it->get<double>() != 0.0)
            std::fprintf(stderr, "WARNING: %s: `decay` is deprecated in the new Keras optimizer, please check the "
                                 "docstring for valid arguments, or use the legacy optimizer, e.g., "
                                 "tf.keras.optimizers.legacy.%s. It is ignored.\n",
                         class_name.c_str(), class_name.c_str());

        m_name = config_value<std::string>(config, "name", keras3_snake_case(class_name));
        if (auto it = config.find("learning_rate"); it != config.end() && !it->is_null())
        {
            if (it->is_object())
                m_schedule = get_schedule(*it);
            else
            {
                XK_CHECK(it->is_number_float(), value_error,
                         "Argument `learning_rate` should be float, or an instance of LearningRateSchedule, or a "
                         "callable (that takes in the current iteration value and returns the corresponding "
                         "learning rate value). Received instead: learning_rate=",
                         it->dump());
                m_learning_rate = it->get<double>();
            }
        }
        auto optional_number = [&](const char* key) -> std::optional<double> {
            auto it = config.find(key);
            if (it == config.end() || it->is_null())
                return std::nullopt;
            XK_CHECK(it->is_number(), value_error, "Invalid value for argument `", key, "` of ", class_name,
                     ". Expected a number or None. Received: ", key, "=", it->dump(), ".");
            return it->get<double>();
        };
        m_weight_decay = optional_number("weight_decay");
        m_clipnorm = optional_number("clipnorm");
        m_global_clipnorm = optional_number("global_clipnorm");
        m_clipvalue = optional_number("clipvalue");
        const int clips = int(bool(m_clipnorm)) + int(bool(m_clipvalue)) + int(bool(m_global_clipnorm));
        XK_CHECK(clips <= 1, value_error,
                 "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. Received: clipnorm=",
                 python_value(m_clipnorm), ", clipvalue=", python_value(m_clipvalue),
                 ", global_clipnorm=", python_value(m_global_clipnorm));
        m_use_ema = config_value<bool>(config, "use_ema", false);
        m_ema_momentum = config_value<double>(config, "ema_momentum", 0.99);
        if (m_use_ema)
            XK_CHECK(m_ema_momentum >= 0.0 && m_ema_momentum <= 1.0, value_error,
                     "`ema_momentum` must be in the range [0, 1]. Received: ema_momentum=", m_ema_momentum);
        if (auto it = config.find("ema_overwrite_frequency"); it != config.end() && !it->is_null())
        {
            XK_CHECK(it->is_number_integer() && it->get<long>() >= 1, value_error,
                     "`ema_overwrite_frequency` must be an integer >= 1 or None. Received: "
                     "ema_overwrite_frequency=",
                     it->dump());
            m_ema_overwrite_frequency = it->get<long>();
        }
        m_loss_scale_factor = optional_number("loss_scale_factor");
        if (auto it = config.find("gradient_accumulation_steps"); it != config.end() && !it->is_null())
        {
            XK_CHECK(it->is_number_integer() && it->get<long>() >= 2, value_error,
                     "`gradient_accumulation_steps` must be an integer >= 2. Received: "
                     "gradient_accumulation_steps=",
                     it->dump());
            m_gradient_accumulation_steps = it->get<long>();
        }
    }

    double Optimizer::epsilon_value(const json& config, double fallback) const
    {
        double eps = config_value<double>(config, "epsilon", fallback);
        if (keras3_rules())
            return eps;
        return eps == 0.0 ? 1e-7 : eps; // OptimizerV2: `epsilon or backend_config.epsilon()`
    }

    float Optimizer::one_minus(double x) const
    {
        return keras3_rules() ? static_cast<float>(1.0 - x) : 1.0f - static_cast<float>(x);
    }

    double Optimizer::momentum_value(const json& config)
    {
        double momentum = config_value<double>(config, "momentum", 0.0);
        XK_CHECK(momentum >= 0.0 && momentum <= 1.0, value_error,
                 "`momentum` must be between [0, 1]. Received: momentum=", config.at("momentum").dump(), ".");
        return momentum;
    }

    json Optimizer::get_config() const
    {
        if (keras3_rules())
        {
            auto optional = [](const auto& v) { return v ? json(*v) : json(nullptr); };
            json config = json::object();
            config["name"] = m_name;
            // Keras reads the rate back from its float32 variable.
            config["learning_rate"] =
                m_schedule ? serialize(*m_schedule) : json(static_cast<double>(static_cast<float>(m_learning_rate)));
            config["weight_decay"] = optional(m_weight_decay);
            config["clipnorm"] = optional(m_clipnorm);
            config["global_clipnorm"] = optional(m_global_clipnorm);
            config["clipvalue"] = optional(m_clipvalue);
            config["use_ema"] = m_use_ema;
            config["ema_momentum"] = m_ema_momentum;
            config["ema_overwrite_frequency"] = optional(m_ema_overwrite_frequency);
            config["loss_scale_factor"] = optional(m_loss_scale_factor);
            config["gradient_accumulation_steps"] = optional(m_gradient_accumulation_steps);
            config.update(own_config());
            return config;
        }
        json config = json::object();
        config["name"] = m_name;
        if (m_clipnorm)
            config["clipnorm"] = *m_clipnorm;
        if (m_clipvalue)
            config["clipvalue"] = *m_clipvalue;
        if (m_global_clipnorm)
            config["global_clipnorm"] = *m_global_clipnorm;
        config["learning_rate"] = m_schedule ? serialize(*m_schedule) : json(m_learning_rate);
        config["decay"] = m_decay;
        config.update(own_config());
        return config;
    }

    float Optimizer::learning_rate() const
    {
        if (keras3_rules()) // schedule(raw iteration count); no decay
            return m_schedule ? (*m_schedule)(m_iterations) : static_cast<float>(m_learning_rate);
        float lr = m_schedule ? (*m_schedule)(m_iterations) : static_cast<float>(m_learning_rate);
        if (m_decay > 0.0)
            lr = lr / (1.0f + static_cast<float>(m_decay) * static_cast<float>(m_iterations));
        return lr;
    }

    void Optimizer::set_learning_rate(double learning_rate)
    {
        m_learning_rate = learning_rate;
        m_schedule.reset();
    }

    void Optimizer::set_learning_rate(SchedulePtr schedule)
    {
        XK_CHECK(schedule, value_error, "set_learning_rate was given a null schedule.");
        check_schedule();
        m_schedule = std::move(schedule);
    }

    std::int64_t Optimizer::iterations() const
    {
        return m_gradient_accumulation_steps ? m_iterations / *m_gradient_accumulation_steps : m_iterations;
    }

    float Optimizer::scale_loss(float loss) const
    {
        return m_loss_scale_factor ? loss * static_cast<float>(*m_loss_scale_factor) : loss;
    }

    void Optimizer::set_iterations(std::int64_t iterations)
    {
        XK_CHECK(iterations >= 0, value_error, "`iterations` must be >= 0. Received: ", iterations, ".");
        m_iterations = iterations;
    }

    // ---------------------------------------------------------------- state

    std::vector<std::size_t> Optimizer::track(const std::vector<Weight<float>*>& weights,
                                              const std::vector<std::string>& paths, bool with_grad_only)
    {
        XK_CHECK(paths.empty() || paths.size() == weights.size(), value_error, "Optimizer ", m_name, ": got ",
                 paths.size(), " weight paths for ", weights.size(), " weights.");
        std::vector<std::size_t> out;
        for (std::size_t i = 0; i < weights.size(); ++i)
        {
            const Weight<float>* w = weights[i];
            XK_CHECK(w != nullptr, value_error, "Optimizer ", m_name, ": weight #", i, " is null.");
            if (with_grad_only && !w->variable.has_grad())
                continue;
            // The same list comes back every step: try the same position first.
            std::size_t found = m_vars.size();
            if (i < m_vars.size() && m_vars[i].variable.same_node(w->variable))
                found = i;
            else
                for (std::size_t k = 0; k < m_vars.size(); ++k)
                    if (m_vars[k].variable.same_node(w->variable))
                    {
                        found = k;
                        break;
                    }
            if (found == m_vars.size())
            {
                std::string path = !paths.empty()                ? paths[i]
                                   : !w->variable.name().empty() ? w->variable.name()
                                                                 : w->name;
                m_vars.push_back({w->variable, path, {}});
            }
            out.push_back(found);
        }
        return out;
    }

    void Optimizer::add_slot(std::size_t var, const std::string& slot_name, float initial_value)
    {
        Tracked& t = m_vars.at(var);
        for (const auto& s : t.slots)
            if (s.first == slot_name)
                return;
        if (std::find(m_slot_names.begin(), m_slot_names.end(), slot_name) == m_slot_names.end())
            m_slot_names.push_back(slot_name);
        std::string name = m_name + "/" + t.path + "/" + slot_name + ":0";
        if (keras3_rules()) // "adam/dense_kernel_momentum"
        {
            std::string flat = t.path;
            std::replace(flat.begin(), flat.end(), '/', '_');
            name = m_name + "/" + flat + "_" + slot_name;
        }
        m_state.emplace_back(std::move(name), Tensor<float>(t.variable.value().shape(), initial_value));
        t.slots.emplace_back(slot_name, m_state.size() - 1);
    }

    Tensor<float>& Optimizer::slot(std::size_t var, const std::string& slot_name)
    {
        for (const auto& s : m_vars.at(var).slots)
            if (s.first == slot_name)
                return m_state[s.second].second;
        throw value_error("Optimizer " + m_name + " has no slot '" + slot_name + "' for '" + m_vars[var].path + "'.");
    }

    std::size_t Optimizer::add_state(const std::string& weight_name, Tensor<float> initial_value)
    {
        m_state.emplace_back(m_name + "/" + weight_name + ":0", std::move(initial_value));
        return m_state.size() - 1;
    }

    const Tensor<float>& Optimizer::get_slot(const BasicVariable<float>& variable, const std::string& slot_name) const
    {
        for (const auto& t : m_vars)
            if (t.variable.same_node(variable))
            {
                for (const auto& s : t.slots)
                    if (s.first == slot_name)
                        return m_state[s.second].second;
                throw value_error("Optimizer " + m_name + " has no slot '" + slot_name + "' for '" + t.path + "'.");
            }
        throw value_error("Optimizer " + m_name + " has no state for variable '" + variable.name() +
                          "': it has not been built or updated with it.");
    }

    void Optimizer::build(const std::vector<Weight<float>*>& weights, const std::vector<std::string>& paths)
    {
        std::vector<std::size_t> vars = track(weights, paths, false);
        if (!vars.empty())
        {
            create_base_slots(vars);
            create_slots(vars);
        }
    }

    void Optimizer::create_base_slots(const std::vector<std::size_t>& vars)
    {
        // Keras >= 3.10's order: every average, then every accumulator.
        if (m_use_ema)
            for (auto v : vars)
                add_slot(v, "average");
        if (m_gradient_accumulation_steps)
            for (auto v : vars)
                add_slot(v, "gradient_accumulator");
    }

    std::vector<OptimizerWeight> Optimizer::get_weights() const
    {
        std::vector<OptimizerWeight> out;
        Tensor<float> iter = Tensor<float>::from_shape({});
        iter() = static_cast<float>(m_iterations);
        out.emplace_back(m_name + (keras3_rules() ? "/iteration" : "/iter:0"), std::move(iter));
        if (keras3_rules() && !m_schedule)
        {
            Tensor<float> lr = Tensor<float>::from_shape({});
            lr() = static_cast<float>(m_learning_rate);
            out.emplace_back(m_name + "/learning_rate", std::move(lr));
        }
        out.insert(out.end(), m_state.begin(), m_state.end());
        return out;
    }

    void Optimizer::set_weights(const std::vector<OptimizerWeight>& weights_in)
    {
        const std::size_t leading = keras3_rules() && !m_schedule ? 2 : 1; // iterations [, learning_rate]
        const std::size_t expected = m_state.size() + leading;
        std::vector<OptimizerWeight> weights = weights_in;
        adapt_loaded_weights(weights, expected);
        XK_CHECK(weights.size() == expected, value_error, "You called `set_weights(weights)` on optimizer ", m_name,
                 " with a weight list of length ", weights_in.size(), ", but the optimizer was expecting ", expected,
                 " weights (the iteration count", (leading == 2 ? ", the learning rate" : ""), " and ", m_state.size(),
                 " state variables)",
                 (m_vars.empty() ? "; build(model) creates the state of a model's weights first." : "."));
        const Tensor<float>& iter = weights[0].second;
        XK_CHECK(iter.dimension() == 0, value_error,
                 "Optimizer weight shape () not compatible with provided weight shape ", shape_str(shape_of(iter)),
                 " (weight #0, the iteration count, provided as '", weights[0].first, "').");
        const double count = iter();
        XK_CHECK(count >= 0 && std::floor(count) == count, value_error, "Optimizer ", m_name,
                 ": the iteration count must be a non-negative integer. Received: ", count, " (provided as '",
                 weights[0].first, "').");
        if (leading == 2)
            XK_CHECK(weights[1].second.dimension() == 0, value_error,
                     "Optimizer weight shape () not compatible with provided weight shape ",
                     shape_str(shape_of(weights[1].second)), " (weight #1, the learning rate, provided as '",
                     weights[1].first, "').");
        for (std::size_t i = leading; i < weights.size(); ++i)
        {
            const Tensor<float>& have = m_state[i - leading].second;
            const Tensor<float>& got = weights[i].second;
            XK_CHECK(have.shape() == got.shape(), value_error, "Optimizer weight shape ", shape_str(shape_of(have)),
                     " not compatible with provided weight shape ", shape_str(shape_of(got)), " (weight #", i, ": '",
                     m_state[i - leading].first, "', provided as '", weights[i].first, "').");
        }
        // Every check passed: assign. Keras 3's learning rate is a variable, so the saved value wins.
        m_iterations = static_cast<std::int64_t>(count);
        if (leading == 2)
            m_learning_rate = weights[1].second();
        for (std::size_t i = leading; i < weights.size(); ++i)
            m_state[i - leading].second = weights[i].second;
    }

    void Optimizer::zero_grad(const std::vector<Weight<float>*>& weights)
    {
        for (auto* w : weights)
            if (w)
                w->variable.zero_grad();
    }

    // ---------------------------------------------------------------- the update

    void Optimizer::clip_gradients(std::vector<Tensor<float>>& grads) const
    {
        if (m_clipvalue) // tf.clip_by_value(g, -clipvalue, clipvalue)
        {
            const float c = static_cast<float>(*m_clipvalue);
            for (auto& g : grads)
                for (auto& v : g)
                    v = std::min(std::max(v, -c), c);
        }
        if (m_clipnorm) // tf.clip_by_norm per tensor: g * c / max(||g||, c)
        {
            const float c = static_cast<float>(*m_clipnorm);
            for (auto& g : grads)
            {
                double l2sum = 0.0;
                for (float v : g)
                    l2sum += double(v) * double(v);
                const float norm = l2sum > 0.0 ? static_cast<float>(std::sqrt(l2sum)) : 0.0f;
                const float denom = std::max(norm, c);
                for (auto& v : g)
                    v = v * c / denom;
            }
        }
        if (m_global_clipnorm) // tf.clip_by_global_norm: every g * c * min(1/global_norm, 1/c)
        {
            const float c = static_cast<float>(*m_global_clipnorm);
            double sum = 0.0;
            for (const auto& g : grads)
                for (float v : g)
                    sum += double(v) * double(v);
            const float norm = static_cast<float>(std::sqrt(sum));
            // A non-finite norm makes every gradient NaN, as TensorFlow does.
            const float scale = std::isfinite(norm) ? c * std::min(1.0f / norm, 1.0f / c) : NAN;
            for (auto& g : grads)
                for (auto& v : g)
                    v = v * scale;
        }
    }

    void Optimizer::apply_gradients(const std::vector<Weight<float>*>& weights, const std::vector<std::string>& paths)
    {
        if (weights.empty())
            return; // Keras: a no-op that does not count as a step
        std::vector<Weight<float>*> with_grad;
        for (auto* w : weights)
        {
            XK_CHECK(w != nullptr, value_error, "Optimizer ", m_name, ": a weight pointer is null.");
            if (w->variable.has_grad())
                with_grad.push_back(w);
        }
        XK_CHECK(!with_grad.empty(), value_error, "No gradients provided for any variable: ", list_names(weights),
                 ". Provided `grads_and_vars` has no gradient (run a backward pass first).");

        std::vector<std::size_t> vars = track(weights, paths, true);
        create_base_slots(vars);
        create_slots(vars);
        if (keras3_rules())
        {
            apply_keras3(with_grad, vars);
            return;
        }
        // Without clipping the gradients are used in place, not copied.
        const bool clipping = m_clipvalue || m_clipnorm || m_global_clipnorm;
        std::vector<Tensor<float>> clipped;
        if (clipping)
        {
            for (auto* w : with_grad)
                clipped.push_back(w->variable.grad());
            clip_gradients(clipped);
        }
        prepare(learning_rate());
        for (std::size_t i = 0; i < with_grad.size(); ++i)
        {
            Weight<float>& w = *with_grad[i];
            Tensor<float>& value = w.variable.value();
            const Tensor<float>& grad = clipping ? clipped[i] : w.variable.grad();
            XK_CHECK(value.shape() == grad.shape(), shape_error, "Optimizer ", m_name, ": the gradient of '",
                     m_vars[vars[i]].path, "' has shape ", shape_str(shape_of(grad)), " but the weight has shape ",
                     shape_str(shape_of(value)), ".");
            apply_dense(vars[i], value, grad);
            if (w.constraint) // Keras applies the constraint right after the weight's update
                w.constraint->apply(value);
        }
        ++m_iterations;
    }

    void Optimizer::apply_keras3(const std::vector<Weight<float>*>& with_grad, const std::vector<std::size_t>& vars)
    {
        std::vector<Tensor<float>> grads;
        for (std::size_t i = 0; i < with_grad.size(); ++i)
        {
            const Tensor<float>& g = with_grad[i]->variable.grad();
            XK_CHECK(with_grad[i]->variable.value().shape() == g.shape(), shape_error, "Optimizer ", m_name,
                     ": the gradient of '", m_vars[vars[i]].path, "' has shape ", shape_str(shape_of(g)),
                     " but the weight has shape ", shape_str(shape_of(with_grad[i]->variable.value())), ".");
            grads.push_back(g);
        }
        if (m_loss_scale_factor)
        {
            const float factor = static_cast<float>(*m_loss_scale_factor);
            for (auto& g : grads)
                for (auto& v : g)
                    v = v / factor;
        }
        bool update = true;
        if (m_gradient_accumulation_steps)
        {
            const long n = *m_gradient_accumulation_steps;
            update = (m_iterations + 1) % n == 0;
            const float steps = static_cast<float>(n);
            for (std::size_t i = 0; i < grads.size(); ++i)
            {
                Tensor<float>& acc = slot(vars[i], "gradient_accumulator");
                float* a = acc.data();
                float* g = grads[i].data();
                for (std::size_t k = 0, size = acc.size(); k < size; ++k)
                {
                    if (update)
                    {
                        g[k] = (g[k] + a[k]) / steps;
                        a[k] = 0.0f;
                    }
                    else
                        a[k] += g[k];
                }
            }
        }
        if (update)
        {
            clip_gradients(grads);
            const float lr = learning_rate();
            if (m_weight_decay)
            {
                const float wd = static_cast<float>(*m_weight_decay);
                for (auto* w : with_grad)
                    for (auto& v : w->variable.value())
                        v = v - v * wd * lr;
            }
            prepare(lr);
            for (std::size_t i = 0; i < with_grad.size(); ++i)
                apply_dense(vars[i], with_grad[i]->variable.value(), grads[i]);
        }
        if (m_use_ema)
        {
            // Over every tracked variable, as Keras averages all trainable variables.
            const float momentum = iterations() != 0 ? static_cast<float>(m_ema_momentum) : 0.0f;
            const float rest = 1.0f - momentum;
            for (std::size_t v = 0; v < m_vars.size(); ++v)
            {
                float* average = slot(v, "average").data();
                const Tensor<float>& value = m_vars[v].variable.value();
                for (std::size_t k = 0, size = value.size(); k < size; ++k)
                    average[k] = momentum * average[k] + rest * value.data()[k];
            }
            if (m_ema_overwrite_frequency && (iterations() + 1) % *m_ema_overwrite_frequency == 0)
                for (std::size_t v = 0; v < m_vars.size(); ++v)
                    m_vars[v].variable.value() = slot(v, "average");
        }
        for (auto* w : with_grad)
            if (w->constraint)
                w->constraint->apply(w->variable.value());
        ++m_iterations;
    }

    std::unique_ptr<Optimizer> Optimizer::as_keras3() const
    {
        json config = get_config();
        if (!keras3_rules())
        {
            std::string difference = keras3_update_difference();
            if (difference.empty() && m_decay != 0.0)
                difference = "Keras 3 has no learning-rate `decay`; it is dropped";
            if (!difference.empty())
                std::fprintf(stderr,
                             "WARNING: %s '%s' is saved with Keras 3's rules, whose update differs from this "
                             "tf.keras one: %s.\n",
                             class_name().c_str(), m_name.c_str(), difference.c_str());
            config.erase("decay");
            config["use_ema"] = false; // selects Keras 3's rules; every other new key keeps its default
        }
        std::unique_ptr<Optimizer> twin = get_optimizer({{"class_name", class_name()}, {"config", config}});
        std::vector<std::size_t> all;
        for (std::size_t v = 0; v < m_vars.size(); ++v)
        {
            twin->m_vars.push_back({m_vars[v].variable, m_vars[v].path, {}});
            all.push_back(v);
        }
        if (!all.empty())
        {
            twin->create_base_slots(all);
            twin->create_slots(all);
        }
        for (std::size_t v = 0; v < m_vars.size(); ++v)
            for (const auto& [slot_name, index] : m_vars[v].slots)
                twin->slot(v, keras3_rules() ? slot_name : keras3_slot_name(slot_name)) = m_state[index].second;
        // State of no weight (Nadam's momentum product) is the same quantity under both rules, in order.
        const std::vector<std::size_t> own = unshared_state(), twin_own = twin->unshared_state();
        if (own.size() == twin_own.size())
            for (std::size_t i = 0; i < own.size(); ++i)
                twin->m_state[twin_own[i]].second = m_state[own[i]].second;
        twin->m_iterations = m_iterations;
        twin->m_learning_rate = m_learning_rate;
        return twin;
    }

    std::vector<std::size_t> Optimizer::unshared_state() const
    {
        std::vector<bool> of_a_weight(m_state.size(), false);
        for (const auto& t : m_vars)
            for (const auto& s : t.slots)
                of_a_weight[s.second] = true;
        std::vector<std::size_t> out;
        for (std::size_t i = 0; i < m_state.size(); ++i)
            if (!of_a_weight[i])
                out.push_back(i);
        return out;
    }

    void Optimizer::finalize_variable_values(const std::vector<Weight<float>*>& weights)
    {
        if (!m_use_ema)
            return;
        for (auto* w : weights)
            for (std::size_t v = 0; v < m_vars.size(); ++v)
                if (w && m_vars[v].variable.same_node(w->variable))
                    w->variable.value() = slot(v, "average");
    }

    // ---------------------------------------------------------------- registry

    Registry<OptimizerPtr, const json&>& optimizer_registry()
    {
        static Registry<OptimizerPtr, const json&> registry = [] {
            Registry<OptimizerPtr, const json&> r("optimizer");
            auto add = [&r](const std::string& class_name, auto make) {
                r.add(class_name, make);
                r.add(lower(class_name), make);
            };
            add("SGD", [](const json& c) -> OptimizerPtr { return std::make_unique<SGD>(c); });
            add("RMSprop", [](const json& c) -> OptimizerPtr { return std::make_unique<RMSprop>(c); });
            add("Adam", [](const json& c) -> OptimizerPtr { return std::make_unique<Adam>(c); });
            add("AdamW", [](const json& c) -> OptimizerPtr { return std::make_unique<AdamW>(c); });
            add("Adamax", [](const json& c) -> OptimizerPtr { return std::make_unique<Adamax>(c); });
            add("Nadam", [](const json& c) -> OptimizerPtr { return std::make_unique<Nadam>(c); });
            add("Adagrad", [](const json& c) -> OptimizerPtr { return std::make_unique<Adagrad>(c); });
            add("Adadelta", [](const json& c) -> OptimizerPtr { return std::make_unique<Adadelta>(c); });
            return r;
        }();
        return registry;
    }

    OptimizerPtr get_optimizer(const json& identifier)
    {
        // Keras's deserialize lower-cases built-in class names, so "RMSProp" and "ADAM" work too.
        if (identifier.is_string())
            return optimizer_registry().create(lower(identifier.get<std::string>()), json::object());
        XK_CHECK(identifier.is_object(), value_error, "Could not interpret optimizer identifier: ", identifier.dump(),
                 ".");
        auto name = identifier.find("class_name");
        XK_CHECK(name != identifier.end() && name->is_string(), value_error,
                 "Improper config format: ", identifier.dump(),
                 ". Expecting a JSON object with `class_name` and `config` as keys.");
        std::string class_name = name->get<std::string>();
        auto config = identifier.find("config");
        bool no_config = config == identifier.end() || config->is_null();
        json options = no_config ? json::object() : *config;
        // TF 2.9-2.10 registered its experimental (Keras 3 style) optimizers as custom objects: "Custom>Adam".
        const std::string custom_prefix = "Custom>";
        if (class_name.rfind(custom_prefix, 0) == 0 && optimizer_registry().contains(lower(class_name.substr(custom_prefix.size()))))
        {
            class_name = class_name.substr(custom_prefix.size());
            if (options.is_object() && rules_of_config(options) == UpdateRules::legacy)
                options["is_legacy_optimizer"] = false;
        }
        return optimizer_registry().create(lower(class_name), options);
    }

    json serialize(const Optimizer& optimizer)
    {
        return {{"class_name", optimizer.class_name()}, {"config", optimizer.get_config()}};
    }
}
