// Cropping1D/2D/3D: every argument form, values, gradients, configs, errors.
#include "support/checks.hpp"
#include "support/gradcheck.hpp"
#include "support/layer_harness.hpp"

#include <boost/test/unit_test.hpp>

using namespace xk;
using xk::test::message_contains;

BOOST_AUTO_TEST_SUITE(cropping)

BOOST_AUTO_TEST_CASE(argument_forms_shapes_gradients)
{
    struct Case
    {
        const char* cls;
        json cropping;
        const char* format;
        Shape input;
        PartialShape out;
        json normalized;
    };
    const std::vector<Case> cases = {
        {"Cropping1D", 1, nullptr, {2, 5, 3}, {2, 3, 3}, {1, 1}},
        {"Cropping1D", {0, 2}, nullptr, {2, 5, 3}, {2, 3, 3}, {0, 2}},
        {"Cropping2D", 1, "channels_last", {2, 4, 5, 2}, {2, 2, 3, 2}, {{1, 1}, {1, 1}}},
        {"Cropping2D", {1, 0}, "channels_last", {1, 4, 5, 2}, {1, 2, 5, 2}, {{1, 1}, {0, 0}}},
        {"Cropping2D", {{2, 0}, {1, 2}}, "channels_first", {2, 2, 4, 6}, {2, 2, 2, 3}, {{2, 0}, {1, 2}}},
        {"Cropping3D", 1, "channels_last", {1, 4, 3, 5, 2}, {1, 2, 1, 3, 2}, {{1, 1}, {1, 1}, {1, 1}}},
        {"Cropping3D", {{0, 1}, {2, 0}, {1, 1}}, "channels_first", {1, 2, 3, 4, 4}, {1, 2, 2, 2, 2}, {{0, 1}, {2, 0}, {1, 1}}},
    };
    for (const auto& c : cases)
    {
        json config = {{"cropping", c.cropping}};
        if (c.format)
            config["data_format"] = c.format;
        test::run_layer_test(c.cls, config, c.input, {c.out, 0});
        BOOST_TEST(make_layer(c.cls, config)->get_config()["cropping"] == c.normalized);
    }
}

BOOST_AUTO_TEST_CASE(values_are_the_inner_window)
{
    auto layer = make_layer<double>("Cropping2D", {{"cropping", {{1, 0}, {0, 2}}}, {"data_format", "channels_first"}});
    Tensor<double> x = test::random_tensor({1, 2, 3, 4}, 1);
    Tensor<double> y = layer->predict(x);
    BOOST_REQUIRE(shape_of(y) == Shape({1, 2, 2, 2}));
    for (std::size_t c = 0; c < 2; ++c)
        for (std::size_t i = 0; i < 2; ++i)
            for (std::size_t j = 0; j < 2; ++j)
                BOOST_TEST(y(0, c, i, j) == x(0, c, i + 1, j));
}

BOOST_AUTO_TEST_CASE(defaults_and_errors)
{
    BOOST_TEST(make_layer("Cropping1D")->get_config()["cropping"] == json({1, 1}));
    BOOST_TEST(make_layer("Cropping2D")->get_config()["cropping"] == json({{0, 0}, {0, 0}}));
    BOOST_TEST(make_layer("Cropping3D")->get_config()["cropping"] == json({{1, 1}, {1, 1}, {1, 1}}));
    BOOST_CHECK_EXCEPTION(make_layer("Cropping2D", {{"cropping", "all"}}), value_error, message_contains("cropping"));
    auto everything = make_layer("Cropping2D", {{"cropping", {{2, 2}, {0, 0}}}, {"name", "crop"}});
    BOOST_CHECK_EXCEPTION(everything->predict(Tensor<float>({1, 4, 4, 1}, 0.f)), value_error,
                          message_contains({"crop", "at least one element"}));
}

BOOST_AUTO_TEST_SUITE_END()
