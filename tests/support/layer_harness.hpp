#pragma once
// Keras's run_layer_test in C++: one call checks a layer configuration end to end.
#include "framework/keras/layer.hpp"
#include "layers/registry.hpp"

#include <string>

namespace xk::test
{
    struct LayerExpectation
    {
        PartialShape output_shape;      ///< with the batch dimension of the input
        std::size_t weight_count = 0;   ///< number of weights after build
    };

    /// For `class_name` built from `config` on a random input of `input_shape`:
    ///  - the config survives get_config -> make_layer -> get_config unchanged;
    ///  - compute_output_shape and the actual output agree with `expected`;
    ///  - the float layer and its double twin (same weights) agree;
    ///  - the gradient check passes, having compared every entry of the input and of every trainable weight
    ///    (a check that compared nothing fails).
    void run_layer_test(const std::string& class_name, const json& config, const Shape& input_shape,
                        const LayerExpectation& expected, std::uint64_t seed = 0);
}
