#pragma once
// Keras 3's weights store, the HDF5 layout of a `.weights.h5` file and of the `model.weights.h5` member of a
// `.keras` archive (keras/src/saving/saving_lib.py, _save_state / H5IOStore):
//   /vars                                 the model's own variables (none here); attr name = the model's name
//   /layers/<key>/vars/0, 1, ...          each layer's saved_variables() (its weights, trainable first; LoRA:
//                                         the merged kernel, no factors); attr name = the layer's name
//   /layers/<key>/layers/<key>/vars/...   the layers of a nested model
//   /optimizer/vars/0, 1, ...             the optimizer's variables, when the model was compiled
// <key> is the layer's class in snake_case, made unique with _1, _2, ... in layer order; the layer's own name
// is not part of the path, so loading is structural, as in Keras 3.
// tf.keras 2.13-2.15 wrote `.keras` archives with the container named `_layer_checkpoint_dependencies` (and, on
// Windows, one group named "layers\<key>"), their keys numbered with gaps: each class's keys are taken in
// the order of their numbers.
#include "framework/io/hdf5_file.hpp"
#include "framework/models/basic_model.hpp"

#include <string>
#include <vector>

namespace xk::keras3
{
    /// Writes the model's variables (float32) at the root of `f`.
    template <class T>
    void write_model_variables(h5::File& f, BasicModel<T>& model);

    /// Reads them back structurally; entries the model does not have are ignored, as in Keras 3. A variable
    /// count or shape that differs is an io_error naming `label` (the file, or archive and member) and the
    /// layer, unless skip_mismatch skips that layer. Nothing is assigned unless every check passes.
    template <class T>
    void read_model_variables(const h5::File& f, BasicModel<T>& model, bool skip_mismatch, const std::string& label);

    /// /optimizer/vars/<i> in order.
    void write_optimizer_variables(h5::File& f, const std::vector<Tensor<float>>& variables);
    /// /optimizer/vars/0, 1, ... (empty without that group); a gap in the numbering is an io_error.
    std::vector<Tensor<float>> read_optimizer_variables(const h5::File& f, const std::string& label);
}
