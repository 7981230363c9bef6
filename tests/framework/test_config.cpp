// Keras argument normalisation and the image_data_format setting (keras.json under $KERAS_HOME).
#include "framework/keras/config.hpp"
#include "framework/keras/layer.hpp"
#include "layers/registry.hpp"
#include "support/checks.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

using namespace xk;
namespace fs = std::filesystem;

BOOST_AUTO_TEST_SUITE(config)

BOOST_AUTO_TEST_CASE(image_data_format_follows_keras_json_under_keras_home)
{
    const fs::path home = fs::temp_directory_path() / ("xkeras_keras_home_" + std::to_string(::getpid()));
    fs::create_directories(home);
    ::setenv("KERAS_HOME", home.c_str(), 1);

    reset_image_data_format();
    BOOST_TEST(image_data_format() == "channels_last"); // no keras.json: Keras's default

    std::ofstream(home / "keras.json") << R"({"floatx": "float32", "image_data_format": "channels_first"})";
    reset_image_data_format();
    BOOST_TEST(image_data_format() == "channels_first");
    // Layers whose data_format defaults to None follow it; Conv1D's signature says channels_last.
    BOOST_TEST(make_layer("Conv2D", {{"filters", 1}, {"kernel_size", 1}})->get_config()["data_format"] == "channels_first");
    BOOST_TEST(make_layer("UpSampling3D")->get_config()["data_format"] == "channels_first");
    BOOST_TEST(make_layer("Conv1D", {{"filters", 1}, {"kernel_size", 1}})->get_config()["data_format"] == "channels_last");
    BOOST_TEST(make_layer("Conv2D", {{"filters", 1}, {"kernel_size", 1}, {"data_format", "channels_last"}})
                   ->get_config()["data_format"] == "channels_last");

    set_image_data_format("channels_last"); // an explicit setting wins over the file
    BOOST_TEST(image_data_format() == "channels_last");
    BOOST_CHECK_EXCEPTION(set_image_data_format("NCHW"), value_error, test::message_contains("NCHW"));

    std::ofstream(home / "keras.json") << "{ not json";
    reset_image_data_format();
    BOOST_TEST(image_data_format() == "channels_last"); // Keras ignores a malformed file

    ::unsetenv("KERAS_HOME");
    fs::remove_all(home);
    reset_image_data_format();
}

BOOST_AUTO_TEST_CASE(int_tuples_and_padding_modes)
{
    BOOST_TEST(int_tuple(3, 2, "kernel_size") == std::vector<long>({3, 3}));
    BOOST_TEST(int_tuple(json({1, 2, 3}), 3, "strides") == std::vector<long>({1, 2, 3}));
    BOOST_TEST(int_tuple(0, 2, "padding", true) == std::vector<long>({0, 0}));
    BOOST_CHECK_EXCEPTION(int_tuple(json({1, 2}), 3, "strides"), value_error,
                          test::message_contains({"`strides`", "tuple of 3 integers", "[1,2]"}));
    BOOST_CHECK_EXCEPTION(int_tuple(0, 2, "strides"), value_error, test::message_contains("strictly positive"));
    BOOST_CHECK_EXCEPTION(int_tuple("3", 2, "kernel_size"), value_error, test::message_contains("kernel_size"));
    BOOST_TEST(padding_mode("SAME", false) == "same");
    BOOST_TEST(padding_mode("causal", true) == "causal");
    BOOST_CHECK_EXCEPTION(padding_mode("causal", false), value_error, test::message_contains("causal"));
    BOOST_CHECK_EXCEPTION(padding_mode(3, true), value_error, test::message_contains("padding=3"));
}

BOOST_AUTO_TEST_CASE(registries_name_what_they_know)
{
    BOOST_CHECK_EXCEPTION(make_layer("Conv4D"), value_error, test::message_contains({"Unknown layer", "Conv4D", "Conv3D"}));
    BOOST_TEST(layer_registry<float>().contains("SeparableConv2D"));
    auto layer = layer_from_config<double>({{"class_name", "Cropping1D"}, {"config", {{"cropping", {1, 2}}}}});
    BOOST_TEST(layer->class_name() == "Cropping1D");
    BOOST_CHECK_EXCEPTION(layer_from_config<float>(json{{"config", {}}}), value_error, test::message_contains("class_name"));
}

BOOST_AUTO_TEST_SUITE_END()
