#include "framework/training/keras3_compile.hpp"

#include "optim/optimizer.hpp"

namespace xk
{
    namespace
    {
        bool is_serialized_object(const json& value)
        {
            return value.is_object() && value.contains("class_name") && value.contains("config");
        }

        /// serialize_keras_object's form of tf.keras {"class_name", "config"} objects inside `value` (a
        /// string identifier, or a list or dict of them, stays as it is).
        json keras3_objects(const json& value, const std::string& module)
        {
            if (is_serialized_object(value))
            {
                json config = value["config"];
                // Keras 3 knows no "auto" reduction: tf.keras resolves it to sum_over_batch_size in fit().
                if (module == "keras.losses" && config.is_object() && config.value("reduction", "") == "auto")
                    config["reduction"] = "sum_over_batch_size";
                return {{"module", module},
                        {"class_name", value["class_name"]},
                        {"config", config},
                        {"registered_name", nullptr}};
            }
            if (!value.is_array() && !value.is_object())
                return value;
            json out = value;
            for (auto& element : out)
                element = keras3_objects(element, module);
            return out;
        }

        bool is_keras_module(const std::string& module)
        {
            return module == "keras" || module.rfind("keras.", 0) == 0;
        }

        /// The {"class_name", "config"} objects xkeras's registries take, from Keras 3's serialized ones
        /// (recursively: an optimizer's learning-rate schedule is one too). A function is its name.
        json plain_objects(const json& value, const std::string& label, const std::string& what)
        {
            if (is_serialized_object(value))
            {
                const std::string class_name =
                    value["class_name"].is_string() ? value["class_name"].get<std::string>() : value["class_name"].dump();
                const std::string module = value.value("module", std::string("keras"));
                const json registered = value.value("registered_name", json(nullptr));
                if (!is_keras_module(module) ||
                    (registered.is_string() && registered.get<std::string>().find('>') != std::string::npos))
                    throw unknown_identifier_error(detail::concat(
                        "The ", what, " in the compile_config of '", label, "' is a custom object ('", class_name,
                        "' of module '", module, "', registered as ", registered.dump(),
                        "), which xkeras does not know."));
                if (class_name == "function" && value["config"].is_string())
                    return value["config"];
                json config = value["config"];
                if (config.is_object())
                    for (auto& element : config)
                        element = plain_objects(element, label, what);
                return {{"class_name", class_name}, {"config", config}};
            }
            if (!value.is_array() && !value.is_object())
                return value;
            json out = value;
            for (auto& element : out)
                element = plain_objects(element, label, what);
            return out;
        }
    }

    json keras3_compile_config(const json& training_config, const Optimizer& optimizer)
    {
        json optimizer_config = optimizer.get_config();
        if (auto lr = optimizer_config.find("learning_rate"); lr != optimizer_config.end())
            *lr = keras3_objects(*lr, "keras.optimizers.schedules");
        const json metrics = training_config.value("metrics", json::array());
        return {{"optimizer",
                 {{"module", "keras.optimizers"},
                  {"class_name", optimizer.class_name()},
                  {"config", optimizer_config},
                  {"registered_name", nullptr}}},
                {"loss", keras3_objects(training_config.at("loss"), "keras.losses")},
                {"loss_weights", training_config.value("loss_weights", json(nullptr))},
                {"metrics", metrics.empty() ? json(nullptr) : keras3_objects(metrics, "keras.metrics")},
                {"weighted_metrics", nullptr},
                {"run_eagerly", false},
                {"steps_per_execution", 1},
                {"jit_compile", false}};
    }

    CompileArguments compile_arguments_of(const json& compile_config, const std::string& label)
    {
        XK_CHECK(compile_config.is_object(), value_error, "The compile_config of '", label,
                 "' must be a JSON object (Keras's compile arguments). Received: ", compile_config.dump().substr(0, 120),
                 ".");
        CompileArguments out;
        // Keras's compile() defaults: optimizer "rmsprop", no loss, no metrics.
        json optimizer = plain_objects(compile_config.value("optimizer", json("rmsprop")), label, "optimizer");
        if (optimizer.is_string())
            optimizer = {{"class_name", optimizer}, {"config", json::object()}};
        // A Keras 3 file's optimizer is Keras 3's, whatever keys its config happens to carry.
        if (optimizer.is_object() && optimizer.contains("config") && optimizer["config"].is_object() &&
            rules_of_config(optimizer["config"]) == UpdateRules::legacy)
            optimizer["config"]["is_legacy_optimizer"] = false;
        out.optimizer = optimizer;

        const json loss = compile_config.value("loss", json(nullptr));
        if (loss.is_null())
            throw unknown_identifier_error(detail::concat(
                "The compile_config of '", label,
                "' has no loss (the model was compiled with losses added by its layers), which xkeras cannot train."));
        out.loss = plain_objects(loss, label, "loss");
        const json metrics = compile_config.value("metrics", json(nullptr));
        out.metrics = metrics.is_null() ? json::array() : plain_objects(metrics, label, "metric");
        const json weighted = compile_config.value("weighted_metrics", json(nullptr));
        if (!weighted.is_null() && !weighted.empty())
            throw unknown_identifier_error(detail::concat("The compile_config of '", label, "' has weighted_metrics ",
                                                          weighted.dump().substr(0, 120),
                                                          ", which xkeras does not compute (no sample weights yet)."));
        out.loss_weights = compile_config.value("loss_weights", json(nullptr));
        return out;
    }
}
