#pragma once
// The layer registry: every built-in layer by its Keras class name (layers/builtin.cpp), and the ways to make
// a layer from a name and a config. It lives with the layers, above the Keras object model, so the layer
// contract does not depend on the layers that implement it.
#include "framework/keras/layer.hpp"

namespace xk
{
    /// Layers by Keras class name. Filled with every built-in layer (layers/builtin.cpp).
    template <class T>
    Registry<LayerPtr<T>, const json&>& layer_registry();

    /// A layer from its class name and config: make_layer("Conv2D", {{"filters", 8}, {"kernel_size", 3}}).
    /// A value_error from the layer's constructor gets the layer named in front of its message.
    template <class T = float>
    LayerPtr<T> make_layer(const std::string& class_name, const json& config = json::object())
    {
        if (!layer_registry<T>().contains(class_name))
            return layer_registry<T>().create(class_name, config); // the registry's "Unknown layer" message
        try
        {
            return layer_registry<T>().create(class_name, config.is_null() ? json::object() : config);
        }
        catch (const value_error&)
        {
            rethrow_naming_layer(class_name, config);
        }
    }

    /// From Keras's serialized form {"class_name": ..., "config": {...}}.
    template <class T = float>
    LayerPtr<T> layer_from_config(const json& serialized);
}
