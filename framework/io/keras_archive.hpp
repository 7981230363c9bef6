#pragma once
// Keras 3's native `.keras` files: a zip archive (keras/src/saving/saving_lib.py) holding, in this order,
//   metadata.json     {"keras_version": ..., "date_saved": "YYYY-MM-DD@HH:MM:SS"}
//   config.json       the model serialized as Keras 3 does (module, class_name, config, registered_name,
//                     build_config, and compile_config when the model is compiled)
//   model.weights.h5  Keras 3's weights store (framework/io/keras3_store.hpp), with /optimizer/vars when compiled
// Reading also takes the archives tf.keras 2.13-2.15 wrote (their weights under _layer_checkpoint_dependencies).
// Every failure is an io_error or value_error naming the file and the member; a write appears complete or not
// at all.
#include "framework/models/model_config.hpp"

#include <string>
#include <vector>

namespace xk
{
    /// The keras_version xkeras writes in metadata.json: the Keras release whose saving_lib the layout follows.
    inline constexpr const char* written_keras3_version = "3.6.0";

    /// What a compiled model adds to its archive: Keras 3's compile_config (null when not compiled) and the
    /// optimizer's variables in Keras 3's order (iterations first).
    template <class T>
    struct SavedTraining
    {
        json compile_config;
        std::vector<Tensor<float>> optimizer_variables;
    };

    /// Keras's rule: the archive format is chosen by the ".keras" extension.
    bool is_keras_archive_path(const std::string& path);

    /// Writes the model as Keras 3's model.save("x.keras"). value_error if the model is not built or holds a
    /// layer configuration Keras 3 cannot express (named).
    template <class T>
    void save_model_keras(BasicModel<T>& model, const std::string& path, const SavedTraining<T>* training = nullptr);

    /// Rebuilds the model of an archive from config.json and gives it the weights of model.weights.h5.
    template <class T = float>
    ModelPtr<T> load_model_keras(const std::string& path);

    /// Keras 3's model.load_weights("x.keras") (saving_lib.load_weights_only): the weights of the archive's
    /// model.weights.h5 into `model`, which must have the archive model's layers.
    template <class T>
    void load_weights_keras(BasicModel<T>& model, const std::string& path, bool skip_mismatch = false);

    /// config.json's compile_config (null when absent) and /optimizer/vars of model.weights.h5.
    template <class T = float>
    SavedTraining<T> load_training_keras(const std::string& path);

    /// Keras 3's serialization of a model's config (config.json without compile_config): every layer as
    /// {"module", "class_name", "config", "registered_name", "build_config"}, its dtype a DTypePolicy, its
    /// initializers, regularizers and constraints with their modules. value_error naming the layer for a
    /// configuration Keras 3 cannot express.
    template <class T>
    json keras3_model_config(const BasicModel<T>& model);
}
