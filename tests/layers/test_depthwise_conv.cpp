// DepthwiseConv1D / DepthwiseConv2D: per-channel filters, output channel c*depth_multiplier + m.
#include "support/checks.hpp"
#include "support/gradcheck.hpp"
#include "support/layer_harness.hpp"

#include <boost/test/unit_test.hpp>

using namespace xk;
using xk::test::message_contains;

BOOST_AUTO_TEST_SUITE(depthwise_conv)

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
        {"DepthwiseConv2D", {2, 6, 5, 3}, {{"kernel_size", 3}}, {2, 4, 3, 3}},
        {"DepthwiseConv2D", {2, 6, 5, 3}, {{"kernel_size", {2, 3}}, {"depth_multiplier", 2}, {"padding", "same"}, {"strides", {2, 1}}}, {2, 3, 5, 6}},
        {"DepthwiseConv2D", {1, 7, 7, 2}, {{"kernel_size", 3}, {"dilation_rate", 2}, {"padding", "same"}, {"activation", "elu"}}, {1, 7, 7, 2}},
        {"DepthwiseConv2D", {2, 3, 6, 5}, {{"kernel_size", {1, 4}}, {"strides", 3}, {"padding", "same"}, {"depth_multiplier", 2}, {"data_format", "channels_first"}}, {2, 6, 2, 2}},
        {"DepthwiseConv2D", {1, 2, 5, 4}, {{"kernel_size", 2}, {"data_format", "channels_first"}, {"use_bias", false}}, {1, 2, 4, 3}},
        {"DepthwiseConv1D", {2, 9, 3}, {{"kernel_size", 3}, {"depth_multiplier", 3}, {"strides", 2}}, {2, 4, 9}},
    };
    std::uint64_t seed = 0;
    for (const auto& c : cases)
    {
        json config = c.config;
        config["bias_initializer"] = "random_uniform";
        test::run_layer_test(c.cls, config, c.input, {c.out, config.value("use_bias", true) ? 2u : 1u}, seed++);
    }
}

BOOST_AUTO_TEST_CASE(each_output_channel_reads_its_own_input_channel)
{
    // A 1x1 depthwise kernel with multiplier 2 scales channel c by w[c, 0] and w[c, 1] into channels 2c, 2c+1.
    auto layer = make_layer<double>("DepthwiseConv2D", {{"kernel_size", 1}, {"depth_multiplier", 2}, {"use_bias", false}});
    Tensor<double> x = test::random_tensor({1, 2, 2, 3}, 5);
    Tensor<double> y = layer->predict(x);
    const Tensor<double>& w = layer->weights()[0]->variable.value(); // (1, 1, 3, 2)
    for (std::size_t p = 0; p < 4; ++p)
        for (std::size_t c = 0; c < 3; ++c)
            for (std::size_t m = 0; m < 2; ++m)
                BOOST_TEST(y.data()[p * 6 + c * 2 + m] == x.data()[p * 3 + c] * w(0, 0, c, m), boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(weights_and_config_are_keras_s)
{
    auto layer = make_layer("DepthwiseConv2D", {{"kernel_size", 3}, {"depth_multiplier", 2}, {"groups", 1}});
    layer->build({-1, 8, 8, 4});
    BOOST_TEST(layer->weights()[0]->name == "depthwise_kernel");
    BOOST_TEST(layer->weights()[0]->variable.shape() == Shape({3, 3, 4, 2}));
    BOOST_TEST(layer->weights()[1]->variable.shape() == Shape({8}));
    json c = layer->get_config();
    BOOST_TEST(c["depth_multiplier"] == 2);
    BOOST_TEST(c["depthwise_initializer"]["class_name"] == "GlorotUniform");
    BOOST_TEST(!c.contains("groups"));
    BOOST_TEST(!c.contains("filters"));
}

BOOST_AUTO_TEST_CASE(rejects_what_keras_rejects)
{
    BOOST_CHECK_EXCEPTION(make_layer("DepthwiseConv2D", {{"kernel_size", 3}, {"depth_multiplier", 0}}), value_error,
                          message_contains({"depth_multiplier", "strictly positive", "depth_multiplier=0"}));
    BOOST_CHECK_EXCEPTION(make_layer("DepthwiseConv2D", {{"kernel_size", 3}, {"strides", 2}, {"dilation_rate", 2}}),
                          value_error, message_contains("dilation_rate > 1"));
    BOOST_CHECK_EXCEPTION(make_layer("DepthwiseConv2D", {{"kernel_size", 3}, {"padding", "causal"}}), value_error,
                          message_contains("causal"));
    BOOST_CHECK_EXCEPTION(make_layer("DepthwiseConv2D", {{"kernel_size", 3}, {"groups", 2}}), value_error,
                          message_contains("groups"));
}

BOOST_AUTO_TEST_SUITE_END()
