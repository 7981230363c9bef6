#pragma once
// A gradient checker for layers and tape functions, in double precision: the tests' workhorse, and
// `xkeras gradcheck` for whole models.
//
// Objective: L = sum(y * upstream) + the layer's activity penalties + its weight penalties, y = layer(x),
// with a random upstream gradient. The tape's gradients are compared with central differences for the input
// and every trainable weight. Every gradient buffer is pre-filled with random values first and the pre-fill
// subtracted afterwards, so a backward that overwrites instead of adding fails the check.
#include "framework/keras/layer.hpp"

#include <cstdint>
#include <functional>
#include <vector>
#include <string>

namespace xk
{
    /// The one tolerance every gradient check shares: |analytic - numeric| / max(1, |numeric|).
    inline constexpr double gradcheck_tolerance = 1e-6;

    struct GradcheckReport
    {
        bool ok = true;
        double worst_error = 0.0;
        std::string worst_at;   ///< "input[17]" or "kernel[3]"
        double expected = 0.0;  ///< numeric gradient there
        double got = 0.0;       ///< analytic gradient there
        std::size_t checked = 0; ///< number of gradient entries compared

        std::string summary() const;
    };

    /// `max_entries` > 0 checks that many randomly chosen entries of each tensor instead of all of them
    /// (whole models have too many weights for two forward passes per entry).
    GradcheckReport check_layer_gradients(BasicLayer<double>& layer, const Tensor<double>& x, std::uint64_t seed = 0,
                                          bool training = false, std::size_t max_entries = 0);
    /// A layer of several inputs (merge layers, nested models): every input and weight differentiated,
    /// L summed over every output.
    GradcheckReport check_layer_gradients(BasicLayer<double>& layer, const std::vector<Tensor<double>>& xs,
                                          std::uint64_t seed = 0, bool training = false, std::size_t max_entries = 0);

    /// A function of several variables recorded on a tape (an op or a composition of ops).
    using TapeFunction = std::function<BasicVariable<double>(BasicTape<double>&,
                                                             const std::vector<BasicVariable<double>>&)>;
    /// The same check for a function: L = sum(f(inputs) * upstream), every input differentiated.
    GradcheckReport check_function_gradients(const TapeFunction& f, std::vector<Tensor<double>> inputs,
                                             std::uint64_t seed = 0);

    /// Uniform values in [-1, 1), seeded.
    Tensor<double> random_tensor(const Shape& shape, std::uint64_t seed);
}
