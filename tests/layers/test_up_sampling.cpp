// UpSampling1D/2D/3D: nearest repetition, bilinear as tf.image.resize, gradients, configs, errors.
#include "support/checks.hpp"
#include "support/gradcheck.hpp"
#include "support/layer_harness.hpp"

#include <boost/test/unit_test.hpp>

using namespace xk;
using xk::test::message_contains;

BOOST_AUTO_TEST_SUITE(up_sampling)

BOOST_AUTO_TEST_CASE(argument_forms_shapes_gradients)
{
    struct Case
    {
        const char* cls;
        json config;
        Shape input;
        PartialShape out;
    };
    const std::vector<Case> cases = {
        {"UpSampling1D", {{"size", 3}}, {2, 4, 3}, {2, 12, 3}},
        {"UpSampling2D", {{"size", 2}}, {2, 3, 2, 2}, {2, 6, 4, 2}},
        {"UpSampling2D", {{"size", {1, 3}}, {"data_format", "channels_first"}}, {1, 2, 3, 2}, {1, 2, 3, 6}},
        {"UpSampling2D", {{"size", {2, 3}}, {"interpolation", "bilinear"}}, {2, 3, 4, 2}, {2, 6, 12, 2}},
        {"UpSampling2D", {{"size", {3, 2}}, {"interpolation", "bilinear"}, {"data_format", "channels_first"}}, {1, 2, 2, 3}, {1, 2, 6, 6}},
        {"UpSampling3D", {{"size", {2, 1, 3}}}, {1, 2, 3, 2, 2}, {1, 4, 3, 6, 2}},
        {"UpSampling3D", {{"size", 2}, {"data_format", "channels_first"}}, {1, 2, 2, 1, 2}, {1, 2, 4, 2, 4}},
    };
    for (const auto& c : cases)
        test::run_layer_test(c.cls, c.config, c.input, {c.out, 0});
}

BOOST_AUTO_TEST_CASE(nearest_repeats_each_element)
{
    auto layer = make_layer<double>("UpSampling1D", {{"size", 2}});
    Tensor<double> x = test::random_tensor({1, 3, 2}, 1);
    Tensor<double> y = layer->predict(x);
    for (std::size_t i = 0; i < 6; ++i)
        for (std::size_t c = 0; c < 2; ++c)
            BOOST_TEST(y(0, i, c) == x(0, i / 2, c));
}

BOOST_AUTO_TEST_CASE(bilinear_uses_half_pixel_centres)
{
    // Scale 2 samples the input at -0.25, 0.25, 0.75, 1.25 (clamped): weights (1,0) (.75,.25) (.25,.75) (0,1).
    auto layer = make_layer<double>("UpSampling2D", {{"size", {1, 2}}, {"interpolation", "bilinear"}});
    Tensor<double> x = Tensor<double>::from_shape({1, 1, 2, 1});
    x(0, 0, 0, 0) = 1.0;
    x(0, 0, 1, 0) = 5.0;
    Tensor<double> y = layer->predict(x);
    BOOST_REQUIRE(shape_of(y) == Shape({1, 1, 4, 1}));
    const double expected[] = {1.0, 2.0, 4.0, 5.0};
    for (std::size_t j = 0; j < 4; ++j)
        BOOST_TEST(y(0, 0, j, 0) == expected[j], boost::test_tools::tolerance(1e-12));
    // Scale 3 samples at -1/3, 0, 1/3, 2/3, 1, 4/3.
    auto three = make_layer<double>("UpSampling2D", {{"size", {1, 3}}, {"interpolation", "bilinear"}});
    Tensor<double> z = three->predict(x);
    const double expected3[] = {1.0, 1.0, 1.0 + 4.0 / 3, 1.0 + 8.0 / 3, 5.0, 5.0};
    for (std::size_t j = 0; j < 6; ++j)
        BOOST_TEST(z(0, 0, j, 0) == expected3[j], boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(defaults_and_errors)
{
    BOOST_TEST(make_layer("UpSampling1D")->get_config()["size"] == 2);
    BOOST_TEST(make_layer("UpSampling2D")->get_config()["size"] == json({2, 2}));
    BOOST_TEST(make_layer("UpSampling2D")->get_config()["interpolation"] == "nearest");
    BOOST_TEST(make_layer("UpSampling3D")->get_config()["size"] == json({2, 2, 2}));
    BOOST_CHECK_EXCEPTION(make_layer("UpSampling2D", {{"interpolation", "bicubic"}}), value_error,
                          message_contains({"interpolation", "bicubic"}));
    BOOST_CHECK_EXCEPTION(make_layer("UpSampling2D", {{"size", 0}}), value_error, message_contains("size"));
    BOOST_CHECK_EXCEPTION(make_layer("UpSampling3D", {{"interpolation", "nearest"}}), value_error,
                          message_contains("interpolation"));
}

BOOST_AUTO_TEST_SUITE_END()
