// Bad input at every public entry point: each is an exception that names the argument (and the layer or
// file), what was expected and what was received, in Keras's wording where Keras has one.
#include "framework/io/keras_h5.hpp"
#include "framework/training/model.hpp"
#include "support/checks.hpp"

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>

using namespace xk;
using test::message_contains;
namespace fs = std::filesystem;

namespace
{
    template <class E = value_error, class F>
    void expect(F&& f, std::initializer_list<std::string> fragments, int line = __builtin_LINE())
    {
        BOOST_TEST_CONTEXT("the expectation on line " << line)
        {
            BOOST_CHECK_EXCEPTION(f(), E, message_contains(fragments));
        }
    }

    json with(json config, const std::string& key, const json& value)
    {
        config[key] = value;
        return config;
    }
}

BOOST_AUTO_TEST_SUITE(layer_configs)

BOOST_AUTO_TEST_CASE(convolution_sizes_and_strings)
{
    const json conv{{"filters", 4}, {"kernel_size", 3}, {"name", "c"}};
    for (const char* cls : {"Conv1D", "Conv2D", "Conv3D", "Conv2DTranspose", "SeparableConv2D"})
    {
        BOOST_TEST_CONTEXT(cls)
        {
            expect([&] { make_layer(cls, with(conv, "filters", 0)); }, {"'c'", "filters", "Received", "0"});
            expect([&] { make_layer(cls, with(conv, "filters", -2)); }, {"'c'", "filters", "-2"});
            expect([&] { make_layer(cls, with(conv, "kernel_size", 0)); }, {"'c'", "kernel_size", "0"});
            expect([&] { make_layer(cls, with(conv, "kernel_size", -1)); }, {"'c'", "kernel_size", "-1"});
            expect([&] { make_layer(cls, with(conv, "strides", 0)); }, {"'c'", "strides", "0"});
            expect([&] { make_layer(cls, with(conv, "dilation_rate", 0)); }, {"'c'", "dilation_rate", "0"});
            expect([&] { make_layer(cls, with(conv, "padding", "samee")); }, {"'c'", "padding", "samee", "same"});
            expect([&] { make_layer(cls, with(conv, "data_format", "channels_middle")); },
                   {"'c'", "data_format", "channels_middle", "channels_last"});
            expect([&] { make_layer(cls, with(conv, "activation", "relux")); }, {"'c'", "relux"});
            expect([&] { make_layer(cls, with(conv, "bias_initializer", "zeroes")); }, {"'c'", "zeroes"});
        }
    }
    expect([&] { make_layer("Conv2D", with(conv, "kernel_initializer", "glorot")); }, {"'c'", "initializer", "glorot"});
    expect([&] { make_layer("Conv2D", with(conv, "kernel_regularizer", "l3")); }, {"'c'", "regularizer", "l3"});
    expect([&] { make_layer("Conv2D", with(conv, "kernel_constraint", "max")); }, {"'c'", "constraint", "max"});
    expect([&] { make_layer("Conv2D", with(conv, "kernel_size", json::array({3, 3, 3}))); },
           {"'c'", "kernel_size", "[3,3,3]"});
    expect([&] { make_layer("Conv2D", with(conv, "filterz", 3)); }, {"'c'", "filterz"});
    expect([&] { make_layer("Conv2D", json{{"kernel_size", 3}, {"name", "c"}}); }, {"'c'", "filters"});
    expect([&] { make_layer("DepthwiseConv2D", {{"kernel_size", 3}, {"depth_multiplier", 0}, {"name", "d"}}); },
           {"'d'", "depth_multiplier", "0"});
}

BOOST_AUTO_TEST_CASE(other_layer_families)
{
    expect([] { make_layer("Dense", {{"units", 0}, {"name", "d"}}); }, {"'d'", "units", "0"});
    expect([] { make_layer("Dense", {{"units", -4}, {"name", "d"}}); }, {"'d'", "units", "-4"});
    expect([] { make_layer("Dense", {{"units", 3}, {"activation", "sigmoidd"}, {"name", "d"}}); }, {"'d'", "sigmoidd"});
    expect([] { make_layer("MaxPooling2D", {{"pool_size", 0}, {"name", "p"}}); }, {"'p'", "pool_size", "0"});
    expect([] { make_layer("MaxPooling2D", {{"strides", -1}, {"name", "p"}}); }, {"'p'", "strides", "-1"});
    expect([] { make_layer("AveragePooling2D", {{"padding", "full"}, {"name", "p"}}); }, {"'p'", "padding", "full"});
    expect([] { make_layer("GlobalAveragePooling2D", {{"data_format", "nhwc"}, {"name", "g"}}); },
           {"'g'", "data_format", "nhwc"});
    expect([] { make_layer("UpSampling2D", {{"size", 0}, {"name", "u"}}); }, {"'u'", "size", "0"});
    expect([] { make_layer("UpSampling2D", {{"interpolation", "cubic"}, {"name", "u"}}); },
           {"'u'", "interpolation", "cubic"});
    expect([] { make_layer("Cropping2D", {{"cropping", -1}, {"name", "k"}}); }, {"'k'", "cropping", "-1"});
    expect([] { make_layer("ZeroPadding2D", {{"padding", -1}, {"name", "z"}}); }, {"'z'", "padding", "-1"});
    expect([] { make_layer("Dropout", {{"rate", 1.5}, {"name", "r"}}); }, {"'r'", "rate", "1.5"});
    expect([] { make_layer("BatchNormalization", {{"momentum", "fast"}, {"name", "b"}}); }, {"'b'", "momentum"});
    expect([] { make_layer("Reshape", {{"target_shape", json::array({-2, 3})}, {"name", "s"}}); },
           {"'s'", "target_shape"});
    expect([] { make_layer("Activation", {{"activation", "swishy"}, {"name", "a"}}); }, {"'a'", "swishy"});
    expect([] { make_layer("Conv2D", {{"filters", 4}, {"kernel_size", 3}, {"batch_input_shape", {nullptr, 0, 4, 1}}}); },
           {"batch_input_shape"});
    expect([] { make_layer("NoSuchLayer"); }, {"Unknown layer: 'NoSuchLayer'", "Expected one of", "Conv2D"});
    expect([] { layer_from_config<float>(json{{"config", json::object()}}); }, {"class_name"});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(layer_call_checks_rank_channels_and_batch)
{
    auto conv = make_layer("Conv2D", {{"filters", 2}, {"kernel_size", 3}, {"name", "c"}});
    expect<shape_error>([&] { conv->predict(Tensor<float>({4, 5, 5}, 0.f)); }, {"'c'", "ndim=4", "ndim=3"});
    conv->predict(Tensor<float>({1, 5, 5, 3}, 0.f));
    expect<shape_error>([&] { conv->predict(Tensor<float>({1, 5, 5, 4}, 0.f)); }, {"'c'", "3", "4"});
    expect<shape_error>([&] { conv->predict(Tensor<float>({0, 5, 5, 3}, 0.f)); }, {"'c'", "empty batch", "(0, 5, 5, 3)"});
    expect([&] { conv->predict(Tensor<float>({1, 2, 2, 3}, 0.f)); }, {"'c'", "(1, 2, 2, 3)"});
    auto dense = make_layer("Dense", {{"units", 2}, {"name", "d"}});
    dense->predict(Tensor<float>({2, 3}, 0.f));
    expect<shape_error>([&] { dense->predict(Tensor<float>({2, 4}, 0.f)); }, {"'d'", "3", "4"});
    expect<value_error>([&] { dense->build({-1, 3}); }, {"'d'", "already built"});
}

namespace
{
    Sequential tiny()
    {
        Sequential model("tiny");
        model.set_input({-1, 4});
        model.add(make_layer("Dense", {{"units", 2}, {"activation", "softmax"}}));
        return model;
    }
}

BOOST_AUTO_TEST_CASE(sequential_add_and_compile)
{
    Sequential model = tiny();
    expect<shape_error>([&] { model.add(make_layer("Conv2D", {{"filters", 2}, {"kernel_size", 3}, {"name", "c"}})); },
                        {"'c'", "ndim"});
    expect([&] { model.add(nullptr); }, {"add"});
    expect([&] { model.compile("adamq", "mse"); }, {"optimizer", "adamq"});
    expect([&] { model.compile("sgd", "mean_squared_errr"); }, {"loss", "mean_squared_errr"});
    expect([&] { model.compile("sgd", "mse", {"acuracy"}); }, {"metric", "acuracy"});
    expect([&] { model.compile(json{{"class_name", "SGD"}, {"config", {{"learning_rat", 0.1}}}}, "mse"); },
           {"learning_rat"});
    Sequential fresh("fresh");
    expect([&] { fresh.set_input({-1, 0, 3}); }, {"fresh", "input shape", "(None, 0, 3)"});
}

BOOST_AUTO_TEST_CASE(sequential_training_api)
{
    Sequential model = tiny();
    const Tensor<float> x({6, 4}, 0.5f), y({6, 2}, 0.5f);
    expect([&] { model.fit(x, y); }, {"compile"});
    model.compile("sgd", "mse");
    FitOptions options;
    options.verbose = 0;
    expect([&] { model.fit(x, Tensor<float>({5, 2}, 0.f), options); }, {"fit", "(6, 4)", "(5, 2)"});
    expect([&] { model.fit(Tensor<float>({0, 4}, 0.f), Tensor<float>({0, 2}, 0.f), options); }, {"fit", "empty"});
    expect<shape_error>([&] { model.fit(x, Tensor<float>({6, 3}, 0.f), options); }, {"(6, 3)", "(6, 2)"});
    expect<shape_error>([&] { model.fit(Tensor<float>({6, 5}, 0.f), y, options); }, {"tiny", "(6, 5)"});
    options.batch_size = 0;
    expect([&] { model.fit(x, y, options); }, {"batch_size", "0"});
    options.batch_size = 2;
    options.epochs = -1;
    expect([&] { model.fit(x, y, options); }, {"epochs", "-1"});
    options.epochs = 1;
    options.initial_epoch = -1;
    expect([&] { model.fit(x, y, options); }, {"initial_epoch", "-1"});
    options.initial_epoch = 0;
    options.validation_split = 1.0;
    expect([&] { model.fit(x, y, options); }, {"validation_split", "1"});
    options.validation_split = 0.0;
    expect([&] { model.evaluate(x, Tensor<float>({2, 2}, 0.f)); }, {"evaluate", "(6, 4)", "(2, 2)"});
    expect([&] { model.evaluate(x, y, 0); }, {"evaluate", "batch_size", "0"});
    expect([&] { model.predict(Tensor<float>({0, 4}, 0.f)); }, {"predict", "empty"});
    expect([&] { model.predict(x, 0); }, {"predict", "batch_size", "0"});
    expect([&] { model.train_on_batch(x, Tensor<float>({3, 2}, 0.f)); }, {"train_on_batch", "(6, 4)", "(3, 2)"});
}

BOOST_AUTO_TEST_CASE(files_are_named_in_errors)
{
    const fs::path dir = fs::temp_directory_path() / ("xkeras_validation_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const std::string missing = (dir / "missing.h5").string(), text = (dir / "text.h5").string();
    std::ofstream(text) << "not an HDF5 file";
    Sequential model = tiny();
    expect<io_error>([&] { load_weights(model, missing); }, {missing});
    expect<io_error>([&] { load_weights(model, text); }, {text});
    expect<io_error>([&] { load_model<float>(missing); }, {missing});
    expect<io_error>([&] { Sequential::load(text); }, {text});
    expect<io_error>([&] { save_weights(model, (dir / "no_such_dir" / "w.h5").string()); }, {"no_such_dir"});
    Sequential unbuilt("unbuilt");
    unbuilt.add(make_layer("Dense", {{"units", 2}}));
    expect([&] { save_weights(unbuilt, (dir / "u.h5").string()); }, {"built"});
    expect([&] { load_weights(model, (dir / "w.weights.h5").string(), /*by_name=*/true); }, {"by_name"});
    fs::remove_all(dir);
}
