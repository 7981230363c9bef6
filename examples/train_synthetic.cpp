// Trains a small CNN on synthetic images with the tape directly: the whole loop in a page.
// Task: 12x12 single-channel images holding a bright 3x3 square; say whether it sits in the top or the
// bottom half. Model: Conv2D(8, 3, relu, same) -> Conv2D(4, 3, relu) -> Conv2D(1, 3) -> spatial mean.
//
//   train_synthetic [--epochs N] [--seed S]
#include "framework/engine/ops.hpp"
#include "framework/engine/random.hpp"
#include "framework/training/model.hpp"

#include <fmt/core.h>

#include <chrono>
#include <cstring>
#include <random>
#include <string>

using namespace xk;

namespace
{
    struct Dataset
    {
        Tensor<float> images; // (n, 12, 12, 1)
        Tensor<float> labels; // (n,), +1 for bottom, -1 for top
    };

    Dataset make_dataset(std::size_t n, Rng& rng)
    {
        Dataset d{Tensor<float>({n, 12, 12, 1}, 0.f), Tensor<float>({n}, 0.f)};
        std::uniform_int_distribution<int> col(0, 9), row(0, 3), half(0, 1);
        std::normal_distribution<float> noise(0.f, 0.1f);
        for (std::size_t i = 0; i < n; ++i)
        {
            bool bottom = half(rng);
            int r = row(rng) + (bottom ? 6 : 0), c = col(rng);
            for (int y = 0; y < 12; ++y)
                for (int x = 0; x < 12; ++x)
                    d.images(i, y, x, 0) = noise(rng) + ((y >= r && y < r + 3 && x >= c && x < c + 3) ? 1.f : 0.f);
            d.labels(i) = bottom ? 1.f : -1.f;
        }
        return d;
    }

    Tensor<float> rows(const Tensor<float>& t, std::size_t begin, std::size_t end)
    {
        return xt::view(t, xt::range(begin, end));
    }
}

int main(int argc, char** argv)
{
    int epochs = 8;
    std::uint64_t seed = 1;
    for (int i = 1; i + 1 < argc; i += 2)
    {
        if (!std::strcmp(argv[i], "--epochs"))
            epochs = std::stoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--seed"))
            seed = std::stoull(argv[i + 1]);
    }
    set_random_seed(seed);
    Rng rng = make_rng(seed);
    Dataset train = make_dataset(1024, rng), test = make_dataset(256, rng);

    Sequential model;
    model.set_input({-1, 12, 12, 1});
    model.add(make_layer("Conv2D", {{"filters", 8}, {"kernel_size", 3}, {"padding", "same"}, {"activation", "relu"}}));
    model.add(make_layer("Conv2D", {{"filters", 4}, {"kernel_size", 3}, {"activation", "relu"}}));
    model.add(make_layer("Conv2D", {{"filters", 1}, {"kernel_size", 3}}));
    fmt::print("{} weights: {} parameters\n", model.name(), model.count_params());

    const std::size_t batch = 32;
    const float learning_rate = 0.05f;
    for (int epoch = 1; epoch <= epochs; ++epoch)
    {
        auto start = std::chrono::steady_clock::now();
        double total = 0;
        for (std::size_t b = 0; b < train.labels.size(); b += batch)
        {
            Tape tape;
            Variable x(rows(train.images, b, b + batch));
            Variable y(rows(train.labels, b, b + batch));
            auto score = ops::mean(tape, model.call(tape, x, true), {1, 2, 3});       // (batch,)
            auto loss = ops::mean(tape, ops::square(tape, ops::sub(tape, score, y))); // mean squared error
            tape.backward(loss);
            total += loss.value()();
            for (auto* w : model.trainable_weights()) // plain SGD
            {
                w->variable.value() -= learning_rate * w->variable.grad();
                w->variable.zero_grad();
            }
        }
        Tensor<float> scores = xt::mean(model.predict(test.images), {1, 2, 3});
        std::size_t correct = 0;
        for (std::size_t i = 0; i < scores.size(); ++i)
            correct += (scores(i) > 0) == (test.labels(i) > 0);
        double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
        fmt::print("Epoch {}/{} - {:.0f}ms - loss: {:.4f} - held-out accuracy: {:.4f}\n", epoch, epochs, ms,
                   total / double(train.labels.size() / batch), double(correct) / double(scores.size()));
    }
    return 0;
}
