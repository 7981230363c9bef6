#pragma once
// Keras 3's compile_config (keras/src/trainers/trainer.py: compile() keeps its arguments, get_compile_config
// serializes them, compile_from_config deserializes and compiles) translated to and from xk::Model's
// compile arguments. Keras 3 keeps string identifiers as strings ("adam", "categorical_crossentropy",
// "accuracy") and writes objects as serialize_keras_object does: {"module", "class_name", "config",
// "registered_name"}.
#include "framework/keras/config.hpp"

namespace xk
{
    class Optimizer;

    /// xk::Model::compile's arguments from a file.
    struct CompileArguments
    {
        json optimizer;
        json loss;
        json metrics;
        json loss_weights;
    };

    /// Keras 3's compile_config for a tf.keras training_config (Model::training_config) whose optimizer is
    /// `optimizer`, already under Keras 3's rules (Optimizer::as_keras3). Loss objects take Keras 3's
    /// reduction name ("auto" is tf.keras's name for "sum_over_batch_size").
    json keras3_compile_config(const json& training_config, const Optimizer& optimizer);

    /// The compile arguments of a Keras 3 compile_config. The optimizer is always under Keras 3's rules (a
    /// Keras 3 "adam" is Keras 3's Adam). unknown_identifier_error, naming `label`, for what xkeras lacks:
    /// an object of a module outside Keras (a custom object), weighted_metrics, a missing loss;
    /// value_error for a compile_config that is not an object.
    CompileArguments compile_arguments_of(const json& compile_config, const std::string& label);
}
