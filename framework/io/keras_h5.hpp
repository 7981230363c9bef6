#pragma once
// Keras's HDF5 files for any model (BasicModel: Sequential or functional):
//  - tf.keras 2.x model.save_weights / load_weights: the "layer_names" layout, at the file root or under
//    /model_weights of a model file;
//  - tf.keras 2.x model.save / load_model: model_config JSON + /model_weights (+ training_config and
//    /optimizer_weights);
//  - Keras 3's native .weights.h5 store (layers/<key>/vars/<i>).
// The layouts, with the Keras source they come from, are described in /work/shared/keras_files/LAYOUT.md.
// Every failure names the file; content that does not fit the model is an io_error with Keras's wording.
#include "framework/models/model_config.hpp"

#include <string>
#include <utility>
#include <vector>

namespace xk
{
    /// The keras_version attribute xkeras writes. The files are written by xkeras, not by Keras; they follow
    /// tf.keras 2.15's layout, so Keras readers treat them as 2.15 files.
    inline constexpr const char* written_keras_version = "2.15.0";

    /// What model.save keeps of a compiled model: training_config (null when absent) and the optimizer's
    /// variables as (name, value) pairs in the order of the file's weight_names ("Adam/iter:0", ...).
    template <class T>
    struct SavedOptimizer
    {
        json training_config;
        std::vector<std::pair<std::string, Tensor<T>>> weights;
    };

    /// Writes the model's weights like model.save_weights. A name ending in ".weights.h5" gets Keras 3's
    /// layout (as Keras 3 decides), any other name tf.keras 2.x's layer_names layout: root attrs layer_names
    /// (every layer but the InputLayer), backend, keras_version; /<layer>/<layer>/<weight>:0 datasets, float32.
    /// value_error if the model is not built. The file appears complete or not at all.
    template <class T>
    void save_weights(BasicModel<T>& model, const std::string& path);

    /// Reads weights saved by save_weights, model.save_weights or model.save (the root has no layer_names:
    /// /model_weights is used, as Keras does). By order (default): the layers with weights in the file and in
    /// the model are paired in order, names ignored. by_name: each model layer takes the group of its name;
    /// layers missing on either side are left alone. skip_mismatch: a layer whose weight count or shapes
    /// differ is skipped instead of raising. Nothing is assigned unless every check passes.
    /// A ".weights.h5" name is read as Keras 3's layout, a ".keras" archive by its model.weights.h5 (by_name is
    /// then a value_error, as in Keras 3).
    /// value_error if the model is not built; io_error for a file that does not fit the model.
    template <class T>
    void load_weights(BasicModel<T>& model, const std::string& path, bool by_name = false,
                      bool skip_mismatch = false);

    /// A name ending in ".keras" writes a Keras 3 archive (save_model_keras) without training state; any other
    /// name writes the model like tf.keras 2.x model.save("x.h5"): root attrs keras_version, backend and
    /// model_config ({"class_name": "Sequential" | "Functional", "config": model.get_config()}), training_config when the
    /// optimizer gives one; /model_weights in the save_weights layout; /optimizer_weights when it has weights.
    template <class T>
    void save_model(BasicModel<T>& model, const std::string& path,
                    const SavedOptimizer<T>* optimizer = nullptr);

    /// A name ending in ".keras" is a Keras 3 archive (load_model_keras, framework/io/keras_archive.hpp), as
    /// Keras decides; any other name a model file of tf.keras 2.x or Keras 3 (legacy .h5): the model is rebuilt from model_config
    /// (Sequential or functional: any graph, nested models included), built with its declared input shape and given the
    /// weights of /model_weights by order. Unknown layer classes and configs Keras rejects are value_errors
    /// naming the file and the layer; file problems (not HDF5, no model_config, missing or misshapen
    /// weights) are io_errors.
    template <class T = float>
    ModelPtr<T> load_model(const std::string& path);

    /// A model_config read from a file: the layer classes are checked first (an unknown class is named), then
    /// model_from_config; every message starts "Cannot load the model in '<path>': " and names the layer.
    template <class T = float>
    ModelPtr<T> model_from_file_config(const json& model_config, const std::string& path);

    /// training_config and /optimizer_weights of a model file; empty (null config, no weights) when absent.
    template <class T = float>
    SavedOptimizer<T> load_optimizer_state(const std::string& path);

    /// Keras 3's native weights file: /vars (attr name = model name), /layers/<key>/vars/<i> for every layer
    /// (attr name = layer name), <key> the snake_case class name made unique with _1, _2, ... in layer order.
    template <class T>
    void save_weights_keras3(BasicModel<T>& model, const std::string& path);

    /// Reads Keras 3's native weights file structurally (same walk, same keys; names ignored). Entries of the
    /// file the model does not have (optimizer, extra layers) are ignored, as in Keras 3. skip_mismatch skips
    /// layers whose variable count or shapes differ.
    template <class T>
    void load_weights_keras3(BasicModel<T>& model, const std::string& path, bool skip_mismatch = false);

    /// Keras 3's rule for choosing the native layout: the file name ends in ".weights.h5".
    bool is_keras3_weights_path(const std::string& path);
}
