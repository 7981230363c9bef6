#pragma once
// Models from and to Keras's model_config: {"class_name": "Sequential" | "Functional" | "Model", "config": ...},
// and the helpers both model classes read their configs with.
#include "framework/models/basic_model.hpp"

#include <string>

namespace xk
{
    /// [null, 28, 28, 1] -> {-1, 28, 28, 1}; `where` names the owner in the message.
    PartialShape batch_shape_from_json(const json& value, const std::string& where);
    json batch_shape_to_json(const PartialShape& shape);
    /// The batch shape an InputLayer config declares (tf.keras 2.x batch_input_shape, Keras 3 batch_shape).
    PartialShape input_layer_batch_shape(const json& config);

    /// Sequential, Functional and Model: the class names a model is saved under.
    bool is_model_class(const std::string& class_name);

    /// A model_config document: a Sequential (the dict form or Keras 2.0-2.1's bare list) or a functional model
    /// of tf.keras 2.x or Keras 3, nested models included.
    template <class T = float>
    ModelPtr<T> model_from_config(const json& model_config);

    /// A layer of a model config: a model class becomes a nested model (ModelLayer), anything else a layer
    /// from the registry.
    template <class T>
    LayerPtr<T> layer_or_model_from_config(const json& serialized);

    /// {"class_name": model.class_name(), "config": model.get_config()}.
    template <class T>
    json serialize_model(const BasicModel<T>& model)
    {
        return {{"class_name", model.class_name()}, {"config", model.get_config()}};
    }
}
