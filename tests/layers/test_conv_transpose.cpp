// Conv1DTranspose / Conv2DTranspose / Conv3DTranspose: the adjoint of Conv, Keras's output lengths.
#include "support/checks.hpp"
#include "support/gradcheck.hpp"
#include "support/layer_harness.hpp"

#include <boost/test/unit_test.hpp>

using namespace xk;
using xk::test::message_contains;

namespace
{
    /// Keras's deconv_output_length, spelled out per case below.
    struct TransposeCase
    {
        std::size_t rank;
        Shape input; // channels_last
        std::vector<long> kernel, strides, dilation;
        std::string padding;
        json output_padding;
        long filters;
        std::vector<long> expected_spatial;
    };

    std::vector<TransposeCase> grid()
    {
        return {
            // valid, no output_padding: n*s + max(k - s, 0)
            {2, {2, 3, 4, 2}, {3, 2}, {2, 1}, {1, 1}, "valid", nullptr, 3, {7, 5}},
            // s > k: n*s
            {2, {1, 3, 3, 1}, {2, 2}, {3, 3}, {1, 1}, "valid", nullptr, 2, {9, 9}},
            // valid with output_padding 0: (n-1)*s + k (differs from None when s > k)
            {2, {1, 3, 3, 1}, {2, 2}, {3, 3}, {1, 1}, "valid", {0, 0}, 2, {8, 8}},
            // same, no output_padding: n*s
            {2, {2, 4, 3, 3}, {3, 3}, {2, 2}, {1, 1}, "same", nullptr, 2, {8, 6}},
            // same with output_padding: (n-1)*s + k - 2*(k/2) + op
            {2, {1, 4, 3, 2}, {3, 4}, {2, 3}, {1, 1}, "same", {1, 2}, 2, {8, 8}},
            // dilation: k_eff = (k-1)*d + 1
            {2, {1, 4, 4, 2}, {3, 2}, {1, 1}, {2, 3}, "valid", nullptr, 2, {8, 7}},
            {1, {2, 5, 3}, {3}, {2}, {1}, "same", nullptr, 4, {10}},
            {1, {2, 5, 3}, {4}, {3}, {1}, "valid", {2}, 2, {18}},
            {3, {1, 2, 3, 2, 2}, {2, 3, 2}, {2, 1, 2}, {1, 1, 1}, "same", nullptr, 3, {4, 3, 4}},
            {3, {1, 2, 3, 2, 2}, {2, 2, 2}, {1, 1, 1}, {2, 1, 2}, "valid", nullptr, 2, {4, 4, 4}},
        };
    }

    std::string class_of(std::size_t rank) { return "Conv" + std::to_string(rank) + "DTranspose"; }
}

BOOST_AUTO_TEST_SUITE(conv_transpose)

BOOST_AUTO_TEST_CASE(output_lengths_gradients_and_configs)
{
    std::size_t i = 0;
    for (const auto& c : grid())
        for (const std::string format : {"channels_last", "channels_first"})
        {
            json config = {{"filters", c.filters}, {"kernel_size", c.kernel}, {"strides", c.strides},
                           {"dilation_rate", c.dilation}, {"padding", c.padding}, {"output_padding", c.output_padding},
                           {"data_format", format}, {"use_bias", i % 2 == 0},
                           {"activation", i % 3 == 0 ? "sigmoid" : "linear"}, {"bias_initializer", "ones"}};
            Shape input = c.input;
            PartialShape out{long(c.input[0])};
            if (format == "channels_first")
            {
                input = {c.input[0], c.input.back()};
                input.insert(input.end(), c.input.begin() + 1, c.input.end() - 1);
                out.push_back(c.filters);
            }
            out.insert(out.end(), c.expected_spatial.begin(), c.expected_spatial.end());
            if (format == "channels_last")
                out.push_back(c.filters);
            test::run_layer_test(class_of(c.rank), config, input, {out, i % 2 == 0 ? 2u : 1u}, i);
            ++i;
        }
}

BOOST_AUTO_TEST_CASE(is_the_adjoint_of_the_convolution_with_the_same_kernel)
{
    // <convT(x), y> == <x, conv(y)> when the kernels agree: (k, filters, in) read as Conv's (k, in', out').
    for (const std::string padding : {"valid", "same"})
    {
        auto transpose = make_layer<double>("Conv2DTranspose", {{"filters", 3}, {"kernel_size", {3, 2}}, {"strides", {2, 3}},
                                                                {"padding", padding}, {"use_bias", false}});
        Tensor<double> x = test::random_tensor({2, 4, 3, 5}, 1);
        Tensor<double> up = transpose->predict(x);
        auto conv = make_layer<double>("Conv2D", {{"filters", 5}, {"kernel_size", {3, 2}}, {"strides", {2, 3}},
                                                  {"padding", padding}, {"use_bias", false}});
        conv->build({-1, long(up.shape()[1]), long(up.shape()[2]), 3});
        conv->weights()[0]->variable.value() = transpose->weights()[0]->variable.value();
        Tensor<double> y = test::random_tensor(shape_of(up), 2);
        Tensor<double> down = conv->predict(y);
        BOOST_REQUIRE(down.shape() == x.shape());
        double lhs = xt::sum(up * y)(), rhs = xt::sum(x * down)();
        BOOST_TEST(std::abs(lhs - rhs) <= 1e-10 * std::max(1.0, std::abs(lhs)), padding << ": " << lhs << " vs " << rhs);
    }
}

BOOST_AUTO_TEST_CASE(kernel_layout_is_keras_s)
{
    auto layer = make_layer("Conv2DTranspose", {{"filters", 5}, {"kernel_size", 3}});
    layer->build({-1, 4, 4, 2});
    BOOST_TEST(layer->weights()[0]->variable.shape() == Shape({3, 3, 5, 2}));
    BOOST_TEST(layer->weights()[1]->variable.shape() == Shape({5}));
    json c = layer->get_config();
    BOOST_TEST(c["output_padding"].is_null());
    BOOST_TEST(!c.contains("groups"));
}

BOOST_AUTO_TEST_CASE(rejects_what_keras_rejects)
{
    BOOST_CHECK_EXCEPTION(make_layer("Conv2DTranspose", {{"filters", 2}, {"kernel_size", 3}, {"strides", 2}, {"output_padding", 2}}),
                          value_error, message_contains({"strides must be greater than output padding", "output_padding=[2,2]"}));
    BOOST_CHECK_EXCEPTION(make_layer("Conv2DTranspose", {{"filters", 2}, {"kernel_size", 3}, {"strides", 2}, {"dilation_rate", 2}}),
                          value_error, message_contains("dilation_rate > 1"));
    BOOST_CHECK_EXCEPTION(make_layer("Conv3DTranspose", {{"filters", 0}, {"kernel_size", 3}}), value_error,
                          message_contains("filters"));
    BOOST_CHECK_EXCEPTION(make_layer("Conv2DTranspose", {{"filters", 2}, {"kernel_size", 3}, {"padding", "causal"}}),
                          value_error, message_contains("causal"));
    // "same", even kernel, output_padding 0 at stride 1: the output is one shorter than a convolution can map
    // back onto the input, which TensorFlow refuses.
    auto uneven = make_layer("Conv2DTranspose", {{"filters", 1}, {"kernel_size", {4, 3}}, {"padding", "same"},
                                                 {"output_padding", 0}, {"name", "uneven"}});
    BOOST_CHECK_EXCEPTION(uneven->predict(Tensor<float>({1, 4, 9, 2}, 1.f)), value_error,
                          message_contains({"uneven", "output_padding=[0,0]", "length 3", "input's 4"}));
    // A kernel larger than the input is fine for a transposed convolution (it grows the input).
    auto grow = make_layer("Conv2DTranspose", {{"filters", 2}, {"kernel_size", 4}});
    BOOST_TEST(shape_of(grow->predict(Tensor<float>({1, 1, 1, 3}, 1.f))) == Shape({1, 4, 4, 2}));

    auto layer = make_layer("Conv2DTranspose", {{"filters", 2}, {"kernel_size", 3}, {"name", "up"}});
    layer->predict(Tensor<float>({1, 4, 4, 3}, 1.f));
    BOOST_CHECK_EXCEPTION(layer->predict(Tensor<float>({1, 4, 4, 2}, 1.f)), shape_error,
                          message_contains({"up", "value 3"}));
}

BOOST_AUTO_TEST_SUITE_END()
