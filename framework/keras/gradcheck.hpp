#pragma once
// A gradient checker for layers and tape functions, in double precision: the tests' workhorse, and
// `xkeras gradcheck` for whole models.
//
// Objective: L = sum(y * upstream) + the layer's activity penalties + its weight penalties, y = layer(x),
// with a random upstream gradient. The tape's gradients are compared with central differences for the input
// and every trainable weight. Every gradient buffer is pre-filled with random values first and the pre-fill
// subtracted afterwards, so a backward that overwrites instead of adding fails the check.
//
// The error of an entry of a compared tensor T (the input, or one weight) is relative:
//     |analytic - numeric| / max(|numeric|, floor_T),
//     floor_T = max(gradcheck_tensor_floor * max|numeric| over T, gradcheck_noise_floor * S),
// S being the objective's magnitude at the unperturbed point: the sum of the absolute values of its terms
// (|y * upstream| entrywise, every activity penalty and weight penalty). Why these two floors:
//  - Central differences in double with step h = 1e-5 carry rounding noise of about eps * S / (2h) ~ 1e-11 * S
//    in every numeric gradient (the objective is summed with compensation, so that is the rounding of the
//    outputs the perturbation moves, not of the sum): no entry can be checked relatively below that.
//    1e-4 * S puts such noise at 1e-7, a tenth of the tolerance. A tensor whose gradients are all tiny
//    against the objective (a weight with gradient 1e-7 in an objective of 1) is still checked to
//    1e-6 * 1e-4 * S absolutely: a wrong gradient of 1e-7 fails, as it did not with the old max(1, |n|).
//  - The truncation error h^2/6 * d3L/dx3 grows with the tensor's own gradients (about 1.7e-11 * max|n| for
//    inputs of order 1): 1e-3 * max|n| lets entries near zero inside a tensor of large gradients carry 60
//    times that without failing, while a tensor of small gradients is still checked relatively.
// Measured over the test suite's checks: |analytic - numeric| is below 1e-11 * S for 99% of the entries and
// at most 1.2e-10 * S (batch normalization in training) or 4.6e-9 * S (the truncation error of log/exp in the
// losses, at entries of large gradient); the worst error of a correct backward is 2e-8.
// With max_entries, max|numeric| is taken over the sampled entries.
// A report that compared nothing (no input entry, no trainable weight) is a failure, not a pass.
#include "framework/keras/layer.hpp"

#include <cstdint>
#include <functional>
#include <vector>
#include <string>

namespace xk
{
    /// The one tolerance every gradient check shares, on the relative error described above.
    inline constexpr double gradcheck_tolerance = 1e-6;
    /// floor_T's share of the largest numeric gradient of the tensor compared.
    inline constexpr double gradcheck_tensor_floor = 1e-3;
    /// floor_T's share of the objective's magnitude S (the finite differences' rounding noise).
    inline constexpr double gradcheck_noise_floor = 1e-4;

    struct GradcheckReport
    {
        bool ok = false;         ///< checked > 0 and worst_error <= gradcheck_tolerance
        double worst_error = 0.0;
        std::string worst_at;   ///< "input[17]" or "kernel[3]"
        double expected = 0.0;  ///< numeric gradient there
        double got = 0.0;       ///< analytic gradient there
        double floor = 0.0;     ///< floor_T of the tensor there
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
