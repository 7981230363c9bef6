// The 1-D convolution family training with fit(): classify synthetic signals of 64 steps as a sine, a
// square or a sawtooth wave (random frequency, phase and noise) with Conv1D, SeparableConv1D (causal) and
// global pooling.
//
//   sequence_1d [--epochs N] [--seed S]
#include "framework/training/model.hpp"
#include "framework/engine/random.hpp"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <cmath>

using namespace xk;

namespace
{
    constexpr std::size_t steps = 64, classes = 3;

    std::pair<Tensor<float>, Tensor<float>> waves(std::size_t n, Rng& rng)
    {
        std::uniform_real_distribution<float> frequency(1.5f, 5.f), phase(0.f, 6.2831853f);
        std::normal_distribution<float> noise(0.f, 0.3f);
        Tensor<float> x({n, steps, 1}, 0.f), y({n, classes}, 0.f);
        for (std::size_t i = 0; i < n; ++i)
        {
            const std::size_t kind = i % classes;
            const float f = frequency(rng), p = phase(rng);
            for (std::size_t t = 0; t < steps; ++t)
            {
                const float angle = 6.2831853f * f * float(t) / float(steps) + p;
                const float s = std::sin(angle);
                const float cycle = angle / 6.2831853f - std::floor(angle / 6.2831853f);
                const float value = kind == 0 ? s : kind == 1 ? (s >= 0 ? 1.f : -1.f) : 2.f * cycle - 1.f;
                x(i, t, 0) = value + noise(rng);
            }
            y(i, kind) = 1.f;
        }
        return {x, y};
    }
}

int main(int argc, char** argv)
{
    int epochs = 6;
    std::uint64_t seed = 7;
    CLI::App app{"Conv1D / SeparableConv1D on synthetic signals"};
    app.add_option("--epochs", epochs, "training epochs")->capture_default_str();
    app.add_option("--seed", seed, "random seed")->capture_default_str();
    CLI11_PARSE(app, argc, argv);

    set_random_seed(seed);
    Rng rng = make_rng(seed);
    auto [x, y] = waves(1536, rng);
    auto [vx, vy] = waves(384, rng);

    Sequential model("sequence_1d");
    model.set_input({-1, long(steps), 1});
    model.add(make_layer("Conv1D", {{"filters", 16}, {"kernel_size", 5}, {"padding", "same"}, {"activation", "relu"}}));
    model.add(make_layer("SeparableConv1D", {{"filters", 32}, {"kernel_size", 5}, {"padding", "causal"},
                                             {"dilation_rate", 2}, {"activation", "relu"}}));
    model.add(make_layer("MaxPooling1D", {{"pool_size", 2}}));
    model.add(make_layer("Conv1D", {{"filters", 32}, {"kernel_size", 3}, {"strides", 2}, {"activation", "relu"}}));
    model.add(make_layer("GlobalAveragePooling1D"));
    model.add(make_layer("Dense", {{"units", long(classes)}, {"activation", "softmax"}}));
    model.compile("adam", "categorical_crossentropy", {"accuracy"});
    fmt::print("{}", model.summary());

    FitOptions options;
    options.epochs = epochs;
    options.batch_size = 64;
    options.validation_data = {{vx, vy}};
    History history = model.fit(x, y, options);
    fmt::print("held-out accuracy: {:.4f}\n", history.history["val_accuracy"].back());
    return 0;
}
