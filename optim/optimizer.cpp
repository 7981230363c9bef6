#include "optim/optimizer.hpp"
#include "optim/adadelta.hpp"
#include "optim/adagrad.hpp"
#include "optim/adam.hpp"
#include "optim/rmsprop.hpp"
#include "optim/sgd.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>

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

    Optimizer::Optimizer(const json& config_in, const std::string& default_name, double default_learning_rate,
                         const std::vector<std::string>& own_keys)
        : m_name(default_name), m_learning_rate(default_learning_rate)
    {
        const json config = config_in.is_null() ? json::object() : config_in;
        XK_CHECK(config.is_object(), value_error, "The config of ", default_name,
                 " must be a JSON object. Received: ", config.dump(), ".");

        // Keras >= 2.11 serializes this flag: true for the OptimizerV2 (legacy) optimizers we implement.
        if (auto it = config.find("is_legacy_optimizer"); it != config.end() && !it->is_null())
            XK_CHECK(it->is_boolean() && it->get<bool>(), value_error, "This ", default_name,
                     " config is of the Keras >= 2.11 optimizer (is_legacy_optimizer=", it->dump(),
                     "), whose update rules differ from OptimizerV2's; xkeras implements "
                     "tf.keras.optimizers.legacy.",
                     default_name, ".");

        std::vector<std::string> known{
            "name", "learning_rate", "lr", "decay", "clipnorm", "clipvalue", "global_clipnorm", "is_legacy_optimizer"};
        known.insert(known.end(), own_keys.begin(), own_keys.end());
        const std::vector<std::string> unknown = unknown_keys(config, known);
        if (!unknown.empty())
        {
            std::string keys, allowed, newer;
            for (const auto& key : unknown)
            {
                keys += (keys.empty() ? "" : ", ") + key;
                if (std::find(new_optimizer_keys().begin(), new_optimizer_keys().end(), key) !=
                    new_optimizer_keys().end())
                    newer += (newer.empty() ? "`" : ", `") + key + "`";
            }
            for (const auto& k : known)
                allowed += (allowed.empty() ? "" : ", ") + k;
            throw value_error("Unexpected keyword argument passed to optimizer " + default_name + ": " + keys +
                              ". Allowed kwargs are " + allowed + "." +
                              (newer.empty() ? ""
                                             : " (" + newer +
                                                   ": keys of the Keras >= 2.11 optimizers; xkeras implements the "
                                                   "OptimizerV2 ones, tf.keras.optimizers.legacy.*.)"));
        }

        m_name = config_value<std::string>(config, "name", default_name);

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
            XK_CHECK(lr.is_number(), value_error, "Invalid value for argument `learning_rate` of ", default_name,
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

    double Optimizer::epsilon_value(const json& config, double fallback)
    {
        double eps = config_value<double>(config, "epsilon", fallback);
        return eps == 0.0 ? 1e-7 : eps; // Keras: `epsilon or backend_config.epsilon()`
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
        m_state.emplace_back(m_name + "/" + t.path + "/" + slot_name + ":0",
                             Tensor<float>(t.variable.value().shape(), initial_value));
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
            create_slots(vars);
    }

    std::vector<OptimizerWeight> Optimizer::get_weights() const
    {
        std::vector<OptimizerWeight> out;
        Tensor<float> iter = Tensor<float>::from_shape({});
        iter() = static_cast<float>(m_iterations);
        out.emplace_back(m_name + "/iter:0", std::move(iter));
        out.insert(out.end(), m_state.begin(), m_state.end());
        return out;
    }

    void Optimizer::set_weights(const std::vector<OptimizerWeight>& weights_in)
    {
        const std::size_t expected = m_state.size() + 1;
        std::vector<OptimizerWeight> weights = weights_in;
        adapt_loaded_weights(weights, expected);
        XK_CHECK(weights.size() == expected, value_error, "You called `set_weights(weights)` on optimizer ", m_name,
                 " with a weight list of length ", weights_in.size(), ", but the optimizer was expecting ", expected,
                 " weights (the iteration count and ", m_state.size(), " state variables)",
                 (m_vars.empty() ? "; build(model) creates the state of a model's weights first." : "."));
        const Tensor<float>& iter = weights[0].second;
        XK_CHECK(iter.dimension() == 0, value_error,
                 "Optimizer weight shape () not compatible with provided weight shape ", shape_str(shape_of(iter)),
                 " (weight #0, the iteration count, provided as '", weights[0].first, "').");
        const double count = iter();
        XK_CHECK(count >= 0 && std::floor(count) == count, value_error, "Optimizer ", m_name,
                 ": the iteration count must be a non-negative integer. Received: ", count, " (provided as '",
                 weights[0].first, "').");
        for (std::size_t i = 1; i < weights.size(); ++i)
        {
            const Tensor<float>& have = m_state[i - 1].second;
            const Tensor<float>& got = weights[i].second;
            XK_CHECK(have.shape() == got.shape(), value_error, "Optimizer weight shape ", shape_str(shape_of(have)),
                     " not compatible with provided weight shape ", shape_str(shape_of(got)), " (weight #", i, ": '",
                     m_state[i - 1].first, "', provided as '", weights[i].first, "').");
        }
        // Every check passed: assign.
        m_iterations = static_cast<std::int64_t>(count);
        for (std::size_t i = 1; i < weights.size(); ++i)
            m_state[i - 1].second = weights[i].second;
    }

    void Optimizer::zero_grad(const std::vector<Weight<float>*>& weights)
    {
        for (auto* w : weights)
            if (w)
                w->variable.zero_grad();
    }

    // ---------------------------------------------------------------- the update

    std::vector<Tensor<float>> Optimizer::clipped_gradients(const std::vector<Weight<float>*>& weights) const
    {
        std::vector<Tensor<float>> grads;
        grads.reserve(weights.size());
        for (auto* w : weights)
            grads.push_back(w->variable.grad());

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
        return grads;
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
        create_slots(vars);
        // Without clipping the gradients are used in place, not copied.
        const bool clipping = m_clipvalue || m_clipnorm || m_global_clipnorm;
        const std::vector<Tensor<float>> clipped =
            clipping ? clipped_gradients(with_grad) : std::vector<Tensor<float>>{};
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
        const std::string class_name = name->get<std::string>();
        auto config = identifier.find("config");
        bool no_config = config == identifier.end() || config->is_null();
        return optimizer_registry().create(lower(class_name), no_config ? json::object() : *config);
    }

    json serialize(const Optimizer& optimizer)
    {
        return {{"class_name", optimizer.class_name()}, {"config", optimizer.get_config()}};
    }
}
