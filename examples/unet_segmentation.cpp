// A small U-Net segmenting real MNIST digits out of noise: the encoder's feature maps skip across to the
// decoder (Concatenate), one of them cropped to the decoder's size (Cropping2D) after an unpadded
// convolution, as in the original U-Net. The task is made from the digits the main example fetches: the
// input is a digit under heavy Gaussian noise, the target the mask of the clean digit's strokes.
//
//   unet_segmentation --data DIR [--epochs N] [--train N] [--test N] [--seed S] [--out FILE.h5]
//
// It reports the held-out pixel accuracy and the intersection over union of the predicted masks.
#include "framework/io/idx.hpp"
#include "framework/training/model.hpp"
#include "framework/engine/random.hpp"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <chrono>

using namespace xk;

namespace
{
    constexpr std::size_t crop = 2; // the decoder's output is the centre 24x24 of the 28x28 input

    struct Segmentation
    {
        Tensor<float> noisy, masks;
    };

    /// Inputs: digits plus N(0, 0.5) noise; targets: the centre of each clean digit's mask (pixels > 0.5).
    Segmentation make_task(const Tensor<float>& images, std::uint64_t seed)
    {
        const std::size_t n = images.shape()[0], side = 28 - 2 * crop;
        Rng rng(seed);
        std::normal_distribution<float> noise(0.f, 0.5f);
        Segmentation s{images, Tensor<float>({n, side, side, 1}, 0.f)};
        for (auto& v : s.noisy)
            v += noise(rng);
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t r = 0; r < side; ++r)
                for (std::size_t c = 0; c < side; ++c)
                    s.masks(i, r, c, 0) = images(i, r + crop, c + crop, 0) > 0.5f ? 1.f : 0.f;
        return s;
    }

    LayerRef conv(long filters, long kernel, const std::string& padding, const std::string& activation = "relu")
    {
        return make_layer("Conv2D", {{"filters", filters}, {"kernel_size", kernel}, {"padding", padding},
                                     {"activation", activation}});
    }

    LayerRef up(long filters)
    {
        return make_layer("Conv2DTranspose", {{"filters", filters}, {"kernel_size", 2}, {"strides", 2}});
    }

    LayerRef pool() { return make_layer("MaxPooling2D", {{"pool_size", 2}}); }
    LayerRef concatenate() { return make_layer("Concatenate"); }
}

int main(int argc, char** argv)
{
    std::string data_dir = "data/mnist", out_path = "unet_segmentation.h5";
    int epochs = 10;
    std::size_t train_count = 6000, test_count = 1000, batch_size = 32;
    std::uint64_t seed = 42;
    CLI::App app{"A small U-Net segmenting MNIST digits out of noise"};
    app.add_option("--data", data_dir, "directory with the MNIST IDX files")->capture_default_str();
    app.add_option("--epochs", epochs, "training epochs")->capture_default_str()->check(CLI::PositiveNumber);
    app.add_option("--train", train_count, "training digits (from train-*)")->capture_default_str()->check(CLI::PositiveNumber);
    app.add_option("--test", test_count, "held-out digits (from t10k-*)")->capture_default_str()->check(CLI::PositiveNumber);
    app.add_option("--seed", seed, "random seed (weights, noise, shuffling)")->capture_default_str();
    app.add_option("--out", out_path, "where to save the trained model (Keras HDF5)")->capture_default_str();
    CLI11_PARSE(app, argc, argv);

    try
    {
        set_random_seed(seed);
        const Segmentation train = make_task(load_mnist(data_dir, "train", train_count).images, seed + 1);
        const Segmentation test = make_task(load_mnist(data_dir, "t10k", test_count).images, seed + 2);
        fmt::print("{} training images, {} held-out images\n", train.noisy.shape()[0], test.noisy.shape()[0]);

        auto image = Input({28, 28, 1}, "noisy_digit");
        auto c1 = conv(8, 3, "same")(image);                           // 28x28x8
        auto c2 = conv(16, 3, "same")(pool()(c1));                     // 14x14x16
        auto bottom = conv(32, 3, "same")(pool()(c2));                 // 7x7x32
        auto d2 = conv(16, 3, "valid")(concatenate()({up(16)(bottom), c2})); // 12x12x16: no padding
        LayerRef crop_skip = make_layer("Cropping2D", {{"cropping", long(crop)}});
        auto d1 = conv(8, 3, "same")(concatenate()({up(8)(d2), crop_skip(c1)})); // 24x24x16 -> 24x24x8
        auto mask = conv(1, 1, "same", "sigmoid")(d1);
        Model model({image}, {mask}, "unet");
        fmt::print("{}", model.summary());
        model.compile("adam", "binary_crossentropy", {"binary_accuracy"});

        FitOptions options;
        options.batch_size = batch_size;
        options.epochs = epochs;
        options.validation_data = ValidationData(test.noisy, test.masks);
        const auto start = std::chrono::steady_clock::now();
        model.fit(train.noisy, train.masks, options);
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        fmt::print("trained in {:.1f}s\n", seconds);

        const Tensor<float> predicted = model.predict(test.noisy, 128);
        std::size_t right = 0, both = 0, either = 0;
        for (std::size_t i = 0; i < predicted.size(); ++i)
        {
            const bool p = predicted.data()[i] > 0.5f, t = test.masks.data()[i] > 0.5f;
            right += p == t;
            both += p && t;
            either += p || t;
        }
        model.save(out_path);
        fmt::print("saved {}\n", out_path);
        fmt::print("held-out pixel accuracy: {:.4f}\n", double(right) / double(predicted.size()));
        fmt::print("held-out IoU of the digit masks: {:.4f}\n", either ? double(both) / double(either) : 1.0);
        return 0;
    }
    catch (const std::exception& e)
    {
        fmt::print(stderr, "unet_segmentation: {}\n", e.what());
        return 2;
    }
}
