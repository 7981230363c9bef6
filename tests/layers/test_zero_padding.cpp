// ZeroPadding1D/2D/3D: every argument form, values, gradients, configs, errors.
#include "support/checks.hpp"
#include "support/gradcheck.hpp"
#include "support/layer_harness.hpp"

#include <boost/test/unit_test.hpp>

using namespace xk;
using xk::test::message_contains;

BOOST_AUTO_TEST_SUITE(zero_padding)

BOOST_AUTO_TEST_CASE(argument_forms_shapes_gradients)
{
    struct Case
    {
        const char* cls;
        json padding;
        const char* format;
        Shape input;
        PartialShape out;
        json normalized;
    };
    const std::vector<Case> cases = {
        {"ZeroPadding1D", 2, nullptr, {2, 4, 3}, {2, 8, 3}, {2, 2}},
        {"ZeroPadding1D", {0, 3}, nullptr, {2, 4, 3}, {2, 7, 3}, {0, 3}},
        {"ZeroPadding1D", {1, 2}, "channels_first", {2, 3, 4}, {2, 3, 7}, {1, 2}},
        {"ZeroPadding2D", 1, "channels_last", {2, 3, 4, 2}, {2, 5, 6, 2}, {{1, 1}, {1, 1}}},
        {"ZeroPadding2D", {2, 0}, "channels_last", {1, 3, 4, 2}, {1, 7, 4, 2}, {{2, 2}, {0, 0}}},
        {"ZeroPadding2D", {{1, 0}, {0, 2}}, "channels_first", {2, 2, 3, 4}, {2, 2, 4, 6}, {{1, 0}, {0, 2}}},
        {"ZeroPadding3D", 1, "channels_last", {1, 2, 2, 2, 2}, {1, 4, 4, 4, 2}, {{1, 1}, {1, 1}, {1, 1}}},
        {"ZeroPadding3D", {{0, 1}, {2, 0}, {1, 1}}, "channels_first", {1, 2, 2, 3, 2}, {1, 2, 3, 5, 4}, {{0, 1}, {2, 0}, {1, 1}}},
    };
    for (const auto& c : cases)
    {
        json config = {{"padding", c.padding}};
        if (c.format)
            config["data_format"] = c.format;
        test::run_layer_test(c.cls, config, c.input, {c.out, 0});
        BOOST_TEST(make_layer(c.cls, config)->get_config()["padding"] == c.normalized);
    }
}

BOOST_AUTO_TEST_CASE(values_are_the_input_surrounded_by_zeros)
{
    auto layer = make_layer<double>("ZeroPadding2D", {{"padding", {{1, 0}, {0, 2}}}});
    Tensor<double> x = test::random_tensor({1, 2, 2, 1}, 1);
    Tensor<double> y = layer->predict(x);
    BOOST_REQUIRE(shape_of(y) == Shape({1, 3, 4, 1}));
    for (std::size_t i = 0; i < 3; ++i)
        for (std::size_t j = 0; j < 4; ++j)
        {
            double expected = (i >= 1 && j < 2) ? x(0, i - 1, j, 0) : 0.0;
            BOOST_TEST(y(0, i, j, 0) == expected);
        }
}

BOOST_AUTO_TEST_CASE(defaults_and_errors)
{
    BOOST_TEST(make_layer("ZeroPadding1D")->get_config()["padding"] == json({1, 1}));
    BOOST_TEST(make_layer("ZeroPadding2D")->get_config()["padding"] == json({{1, 1}, {1, 1}}));
    BOOST_TEST(!make_layer("ZeroPadding1D")->get_config().contains("data_format"));
    BOOST_CHECK_EXCEPTION(make_layer("ZeroPadding2D", {{"padding", {1, 2, 3}}}), value_error, message_contains({"padding", "[1,2,3]"}));
    BOOST_CHECK_EXCEPTION(make_layer("ZeroPadding2D", {{"padding", -1}}), value_error, message_contains("padding"));
    BOOST_CHECK_EXCEPTION(make_layer("ZeroPadding1D", {{"padding", {{1, 1}}}}), value_error, message_contains("padding"));
    // Keras 3.5+ gives ZeroPadding1D a data_format (tf.keras has none): written in Keras 3 configs only.
    auto first = make_layer("ZeroPadding1D", {{"padding", {1, 2}}, {"data_format", "channels_first"}});
    BOOST_TEST(first->compute_output_shape({2, 3, 4}) == PartialShape({2, 3, 7}), boost::test_tools::per_element());
    BOOST_TEST(first->get_config()["data_format"] == "channels_first");
    BOOST_TEST(make_layer("ZeroPadding1D")->keras3_config()["data_format"] == "channels_last");
    BOOST_CHECK_EXCEPTION(make_layer("ZeroPadding1D", {{"data_format", "NCW"}}), value_error,
                          message_contains("data_format"));
    BOOST_CHECK_EXCEPTION(make_layer("ZeroPadding2D", {{"name", "zp"}})->predict(Tensor<float>({2, 3, 3}, 0.f)), shape_error,
                          message_contains({"zp", "ndim=4"}));
}

BOOST_AUTO_TEST_SUITE_END()
