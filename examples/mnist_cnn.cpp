// Keras's mnist_cnn example in C++: trains the same architecture on real MNIST digits, saves the model in
// Keras's HDF5 layout, reloads it and checks it scores the same.
//
//   mnist_cnn --data DIR [--epochs N] [--train N] [--test N] [--seed S] [--out FILE.h5] [--batch N]
//
// DIR holds the IDX files (train-*, t10k-*, gzip or not): scripts/fetch-mnist DIR writes them.
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

int main(int argc, char** argv)
{
    std::string data_dir = "data/mnist", out_path = "mnist_cnn.h5";
    int epochs = 4;
    std::size_t train_count = 8000, test_count = 2000, batch_size = 128;
    std::uint64_t seed = 42;
    CLI::App app{"Keras's mnist_cnn example, trained in C++"};
    app.add_option("--data", data_dir, "directory with the MNIST IDX files")->capture_default_str();
    app.add_option("--epochs", epochs, "training epochs")->capture_default_str()->check(CLI::PositiveNumber);
    app.add_option("--train", train_count, "training digits (from train-*)")->capture_default_str()->check(CLI::PositiveNumber);
    app.add_option("--test", test_count, "held-out digits (from t10k-*)")->capture_default_str()->check(CLI::PositiveNumber);
    app.add_option("--batch", batch_size, "batch size")->capture_default_str()->check(CLI::PositiveNumber);
    app.add_option("--seed", seed, "random seed (weights, dropout, shuffling)")->capture_default_str();
    app.add_option("--out", out_path, "where to save the trained model (Keras HDF5)")->capture_default_str();
    CLI11_PARSE(app, argc, argv);

    try
    {
        set_random_seed(seed);
        const MnistSplit train = load_mnist(data_dir, "train", train_count);
        const MnistSplit test = load_mnist(data_dir, "t10k", test_count);
        fmt::print("{} training digits, {} held-out digits\n", train.labels.size(), test.labels.size());

        Sequential model("mnist_cnn");
        model.set_input({-1, 28, 28, 1});
        model.add(make_layer("Conv2D", {{"filters", 32}, {"kernel_size", 3}, {"activation", "relu"}}));
        model.add(make_layer("Conv2D", {{"filters", 64}, {"kernel_size", 3}, {"activation", "relu"}}));
        model.add(make_layer("MaxPooling2D", {{"pool_size", 2}}));
        model.add(make_layer("Dropout", {{"rate", 0.25}}));
        model.add(make_layer("Flatten"));
        model.add(make_layer("Dense", {{"units", 128}, {"activation", "relu"}}));
        model.add(make_layer("Dropout", {{"rate", 0.5}}));
        model.add(make_layer("Dense", {{"units", 10}, {"activation", "softmax"}}));
        model.compile("adam", "categorical_crossentropy", {"accuracy"});

        FitOptions options;
        options.batch_size = batch_size;
        options.epochs = epochs;
        options.validation_data = {{test.images, one_hot(test.labels, 10)}};
        const auto start = std::chrono::steady_clock::now();
        model.fit(train.images, one_hot(train.labels, 10), options);
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        const double trained = accuracy(model, test.images, test.labels);
        fmt::print("trained in {:.1f}s\n", seconds);

        model.save(out_path);
        Sequential reloaded = Sequential::load(out_path);
        const double again = accuracy(reloaded, test.images, test.labels);
        fmt::print("saved {} and reloaded it: held-out accuracy {:.4f} {}\n", out_path, again,
                   again == trained ? "(same as before saving)" : "(DIFFERENT from before saving)");
        fmt::print("held-out accuracy: {:.4f}\n", trained);
        return again == trained ? 0 : 1;
    }
    catch (const std::exception& e)
    {
        fmt::print(stderr, "mnist_cnn: {}\n", e.what());
        return 2;
    }
}
