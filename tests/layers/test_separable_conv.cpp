// SeparableConv1D / SeparableConv2D: depthwise then pointwise.
#include "support/checks.hpp"
#include "support/gradcheck.hpp"
#include "support/layer_harness.hpp"

#include <boost/test/unit_test.hpp>

using namespace xk;
using xk::test::message_contains;

BOOST_AUTO_TEST_SUITE(separable_conv)

BOOST_AUTO_TEST_CASE(gradients_shapes_and_configs)
{
    struct Case
    {
        const char* cls;
        Shape input;
        json config;
        PartialShape out;
    };
    const std::vector<Case> cases = {
        {"SeparableConv2D", {2, 6, 5, 3}, {{"filters", 4}, {"kernel_size", 3}}, {2, 4, 3, 4}},
        {"SeparableConv2D", {2, 6, 5, 2}, {{"filters", 3}, {"kernel_size", {2, 3}}, {"depth_multiplier", 2}, {"padding", "same"}, {"strides", 2}, {"activation", "swish"}}, {2, 3, 3, 3}},
        {"SeparableConv2D", {1, 3, 6, 6}, {{"filters", 2}, {"kernel_size", 3}, {"dilation_rate", 2}, {"padding", "same"}, {"data_format", "channels_first"}}, {1, 2, 6, 6}},
        {"SeparableConv1D", {2, 9, 3}, {{"filters", 2}, {"kernel_size", 3}, {"padding", "causal"}, {"dilation_rate", 2}}, {2, 9, 2}},
        {"SeparableConv1D", {2, 7, 3}, {{"filters", 2}, {"kernel_size", 3}, {"strides", 3}, {"padding", "same"}, {"depth_multiplier", 3}, {"use_bias", false}}, {2, 3, 2}},
        {"SeparableConv1D", {2, 4, 7}, {{"filters", 5}, {"kernel_size", 2}, {"data_format", "channels_first"}, {"activation", "softplus"}}, {2, 5, 6}},
    };
    std::uint64_t seed = 0;
    for (const auto& c : cases)
    {
        json config = c.config;
        config["bias_initializer"] = "random_uniform";
        test::run_layer_test(c.cls, config, c.input, {c.out, config.value("use_bias", true) ? 3u : 2u}, seed++);
    }
}

BOOST_AUTO_TEST_CASE(equals_depthwise_then_pointwise)
{
    auto sep = make_layer<double>("SeparableConv2D", {{"filters", 3}, {"kernel_size", 3}, {"depth_multiplier", 2}, {"padding", "same"}, {"use_bias", false}});
    auto dw = make_layer<double>("DepthwiseConv2D", {{"kernel_size", 3}, {"depth_multiplier", 2}, {"padding", "same"}, {"use_bias", false}});
    auto pw = make_layer<double>("Conv2D", {{"filters", 3}, {"kernel_size", 1}, {"use_bias", false}});
    Tensor<double> x = test::random_tensor({2, 5, 5, 2}, 4);
    Tensor<double> y = sep->predict(x);
    dw->build({-1, 5, 5, 2});
    pw->build({-1, 5, 5, 4});
    dw->weights()[0]->variable.value() = sep->weights()[0]->variable.value();
    pw->weights()[0]->variable.value() = sep->weights()[1]->variable.value();
    std::string why;
    BOOST_TEST(test::close_to_scale(pw->predict(dw->predict(x)), y, 1e-12, &why), why);
}

BOOST_AUTO_TEST_CASE(weights_and_config_are_keras_s)
{
    auto layer = make_layer("SeparableConv2D", {{"filters", 5}, {"kernel_size", 3}, {"depth_multiplier", 2}});
    layer->build({-1, 8, 8, 4});
    auto w = layer->weights();
    BOOST_REQUIRE(w.size() == 3u);
    BOOST_TEST(w[0]->name == "depthwise_kernel");
    BOOST_TEST(w[0]->variable.shape() == Shape({3, 3, 4, 2}));
    BOOST_TEST(w[1]->name == "pointwise_kernel");
    BOOST_TEST(w[1]->variable.shape() == Shape({1, 1, 8, 5}));
    BOOST_TEST(w[2]->name == "bias");
    json c = layer->get_config();
    BOOST_TEST(c["pointwise_initializer"]["class_name"] == "GlorotUniform");
    BOOST_TEST(c.size() == 22u);
}

BOOST_AUTO_TEST_CASE(rejects_what_keras_rejects)
{
    BOOST_CHECK_EXCEPTION(make_layer("SeparableConv2D", {{"filters", 0}, {"kernel_size", 3}}), value_error, message_contains("filters"));
    BOOST_CHECK_EXCEPTION(make_layer("SeparableConv2D", {{"filters", 2}, {"kernel_size", 3}, {"depth_multiplier", -1}}), value_error,
                          message_contains("depth_multiplier"));
    BOOST_CHECK_EXCEPTION(make_layer("SeparableConv2D", {{"filters", 2}, {"kernel_size", 3}, {"padding", "causal"}}), value_error,
                          message_contains("causal"));
}

BOOST_AUTO_TEST_SUITE_END()
