// A small residual network on real MNIST digits, written with the functional API: two residual blocks
// (the second with a 1x1 projection on its shortcut), batch normalization, Add merges. Saved in tf.keras's
// functional HDF5 layout, reloaded, and checked to score the same.
//
//   resnet_mnist --data DIR [--epochs N] [--train N] [--test N] [--seed S] [--out FILE.h5] [--batch N]
//
// DIR holds the IDX files (scripts/fetch-mnist DIR writes them).
#include "examples/digits.hpp"
#include "framework/io/idx.hpp"
#include "framework/training/model.hpp"
#include "framework/engine/random.hpp"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <chrono>

using namespace xk;
using xk::examples::accuracy;
using xk::examples::one_hot;

namespace
{
    SymbolicTensor conv(const SymbolicTensor& x, long filters, long kernel)
    {
        LayerRef layer = make_layer("Conv2D", {{"filters", filters}, {"kernel_size", kernel}, {"padding", "same"}});
        return layer(x);
    }

    /// Momentum 0.9, not Keras's 0.99: a few hundred steps leave 0.99's moving statistics far from the data,
    /// and inference (which uses them) then lags training by tens of points.
    SymbolicTensor batch_norm(const SymbolicTensor& x)
    {
        return LayerRef(make_layer("BatchNormalization", {{"momentum", 0.9}}))(x);
    }

    SymbolicTensor relu(const SymbolicTensor& x) { return LayerRef(make_layer("Activation", {{"activation", "relu"}}))(x); }

    /// relu(x + BN(conv(relu(BN(conv(x)))))), the shortcut projected by a 1x1 conv when the width changes.
    SymbolicTensor residual_block(const SymbolicTensor& x, long filters)
    {
        SymbolicTensor y = relu(batch_norm(conv(x, filters, 3)));
        y = batch_norm(conv(y, filters, 3));
        SymbolicTensor shortcut = x.shape().back() == filters ? x : conv(x, filters, 1);
        LayerRef add = make_layer("Add");
        return relu(add({shortcut, y}));
    }
}

int main(int argc, char** argv)
{
    std::string data_dir = "data/mnist", out_path = "resnet_mnist.h5";
    int epochs = 4;
    std::size_t train_count = 8000, test_count = 2000, batch_size = 64;
    std::uint64_t seed = 42;
    CLI::App app{"A small residual network on MNIST, written with the functional API"};
    app.add_option("--data", data_dir, "directory with the MNIST IDX files")->capture_default_str();
    app.add_option("--epochs", epochs, "training epochs")->capture_default_str()->check(CLI::PositiveNumber);
    app.add_option("--train", train_count, "training digits (from train-*)")->capture_default_str()->check(CLI::PositiveNumber);
    app.add_option("--test", test_count, "held-out digits (from t10k-*)")->capture_default_str()->check(CLI::PositiveNumber);
    app.add_option("--batch", batch_size, "batch size")->capture_default_str()->check(CLI::PositiveNumber);
    app.add_option("--seed", seed, "random seed (weights, shuffling)")->capture_default_str();
    app.add_option("--out", out_path, "where to save the trained model (Keras HDF5)")->capture_default_str();
    CLI11_PARSE(app, argc, argv);

    try
    {
        set_random_seed(seed);
        const MnistSplit train = load_mnist(data_dir, "train", train_count);
        const MnistSplit test = load_mnist(data_dir, "t10k", test_count);
        fmt::print("{} training digits, {} held-out digits\n", train.labels.size(), test.labels.size());

        auto image = Input({28, 28, 1}, "image");
        SymbolicTensor x = relu(conv(image, 16, 3));
        x = residual_block(x, 16);
        x = LayerRef(make_layer("MaxPooling2D", {{"pool_size", 2}}))(x);
        x = residual_block(x, 32);
        x = LayerRef(make_layer("MaxPooling2D", {{"pool_size", 2}}))(x);
        x = LayerRef(make_layer("Flatten"))(x);
        SymbolicTensor digit = LayerRef(make_layer("Dense", {{"units", 10}, {"activation", "softmax"}}))(x);
        Model model({image}, {digit}, "resnet_mnist");
        fmt::print("{}", model.summary());
        model.compile("adam", "categorical_crossentropy", {"accuracy"});

        FitOptions options;
        options.batch_size = batch_size;
        options.epochs = epochs;
        options.validation_data = ValidationData(test.images, one_hot(test.labels, 10));
        const auto start = std::chrono::steady_clock::now();
        model.fit(train.images, one_hot(train.labels, 10), options);
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        const double trained = accuracy(model, test.images, test.labels);
        fmt::print("trained in {:.1f}s\n", seconds);

        model.save(out_path);
        Model reloaded = Model::load(out_path);
        const double again = accuracy(reloaded, test.images, test.labels);
        fmt::print("saved {} ({} model) and reloaded it: held-out accuracy {:.4f} {}\n", out_path,
                   reloaded.class_name(), again, again == trained ? "(same as before saving)" : "(DIFFERENT)");
        fmt::print("held-out accuracy: {:.4f}\n", trained);
        return again == trained ? 0 : 1;
    }
    catch (const std::exception& e)
    {
        fmt::print(stderr, "resnet_mnist: {}\n", e.what());
        return 2;
    }
}
