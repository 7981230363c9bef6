#pragma once
// Keras initializers (tf.keras 2.x semantics): each draws a tensor of a given shape. Values are drawn in
// double and cast by the caller, so a float model and its double gradient-check twin start identical.
#include "framework/keras/config.hpp"
#include "framework/keras/registry.hpp"
#include "framework/engine/tensor.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace xk
{
    class Initializer
    {
    public:
        virtual ~Initializer() = default;

        /// Keras class name: "GlorotUniform", "Zeros", ...
        virtual std::string class_name() const = 0;
        /// Keras's get_config(): exactly its keys ("seed": null when unseeded).
        virtual json get_config() const = 0;
        /// Draws a tensor. A seeded initializer returns the same values at every call (as tf.keras 2.x);
        /// an unseeded one draws from the process-wide generator (see set_random_seed).
        virtual Tensor<double> operator()(const Shape& shape) const = 0;
    };

    using InitializerPtr = std::shared_ptr<const Initializer>;

    /// Keras's _compute_fans: fan_in and fan_out of a weight shape, the receptive field multiplied in for
    /// kernels of rank > 2 (so a (k.., in, out) conv kernel has fan_in = k..*in).
    struct Fans
    {
        double fan_in;
        double fan_out;
    };
    Fans compute_fans(const Shape& shape);

    /// Every identifier form Keras accepts: "glorot_uniform", "GlorotUniform",
    /// {"class_name": "GlorotUniform", "config": {...}}, or an existing initializer. Null gives nullptr.
    InitializerPtr get_initializer(const json& identifier);
    /// {"class_name": ..., "config": ...}, as initializers.serialize does; null for nullptr.
    json serialize(const InitializerPtr& initializer);

    /// Factories take the "config" object of the Keras serialization.
    Registry<InitializerPtr, const json&>& initializer_registry();
}
