// Conv1D / Conv2D / Conv3D: shapes, numbers against a direct definition, gradients, configs and errors.
#include "support/checks.hpp"
#include "support/gradcheck.hpp"
#include "support/layer_harness.hpp"

#include <boost/test/unit_test.hpp>

#include <cmath>

using namespace xk;
using xk::test::message_contains;

namespace
{
    /// Output extent by Keras's rule, spelled independently of the library: valid keeps the windows that
    /// fit, same and causal keep ceil(n / s).
    long expected_extent(long n, long k, long s, long d, const std::string& padding)
    {
        long span = (k - 1) * d + 1;
        if (padding == "valid")
            return n >= span ? (n - span) / s + 1 : 0;
        return (n + s - 1) / s;
    }

    /// The convolution straight from its definition (channels_last, TF padding), in double.
    Tensor<double> reference_conv(const Tensor<double>& x, const Tensor<double>& kernel, std::size_t rank,
                                  const std::vector<long>& s, const std::vector<long>& d, const std::string& padding,
                                  long groups)
    {
        const std::size_t N = x.shape()[0], C = x.shape()[rank + 1], F = kernel.shape()[rank + 1];
        const std::size_t cg = C / groups, fg = F / groups;
        std::vector<long> in(rank), out(rank), k(rank), before(rank);
        Shape y_shape{N};
        for (std::size_t a = 0; a < rank; ++a)
        {
            in[a] = long(x.shape()[1 + a]);
            k[a] = long(kernel.shape()[a]);
            out[a] = expected_extent(in[a], k[a], s[a], d[a], padding);
            long span = (k[a] - 1) * d[a] + 1;
            long total = std::max((out[a] - 1) * s[a] + span - in[a], 0L);
            before[a] = padding == "causal" ? span - 1 : padding == "same" ? total / 2 : 0;
            y_shape.push_back(std::size_t(out[a]));
        }
        y_shape.push_back(F);
        Tensor<double> y(y_shape, 0.0);
        std::vector<long> o(rank, 0), t(rank, 0);
        const std::size_t out_pixels = shape_size(Shape(y_shape.begin() + 1, y_shape.end() - 1));
        const std::size_t taps = shape_size(Shape(kernel.shape().begin(), kernel.shape().begin() + rank));
        for (std::size_t n = 0; n < N; ++n)
            for (std::size_t p = 0; p < out_pixels; ++p)
            {
                for (long a = long(rank) - 1, r = long(p); a >= 0; --a)
                {
                    o[a] = r % out[a];
                    r /= out[a];
                }
                for (std::size_t tap = 0; tap < taps; ++tap)
                {
                    for (long a = long(rank) - 1, r = long(tap); a >= 0; --a)
                    {
                        t[a] = r % k[a];
                        r /= k[a];
                    }
                    std::size_t x_offset = n;
                    bool inside = true;
                    for (std::size_t a = 0; a < rank; ++a)
                    {
                        long i = o[a] * s[a] - before[a] + t[a] * d[a];
                        inside = inside && i >= 0 && i < in[a];
                        x_offset = x_offset * std::size_t(in[a]) + std::size_t(std::max(i, 0L));
                    }
                    if (!inside)
                        continue;
                    for (std::size_t f = 0; f < F; ++f)
                    {
                        std::size_t g = f / fg;
                        double acc = 0;
                        for (std::size_t c = 0; c < cg; ++c)
                            acc += x.data()[x_offset * C + g * cg + c] * kernel.data()[(tap * cg + c) * F + f];
                        y.data()[(n * out_pixels + p) * F + f] += acc;
                    }
                }
            }
        return y;
    }

    struct ConvCase
    {
        std::size_t rank;
        Shape input;          // channels_last
        std::vector<long> kernel, strides, dilation;
        std::string padding;
        long filters, groups;
    };

    std::vector<ConvCase> grid()
    {
        return {
            {1, {2, 9, 3}, {3}, {1}, {1}, "valid", 4, 1},
            {1, {2, 9, 3}, {3}, {2}, {1}, "same", 2, 1},
            {1, {2, 10, 2}, {4}, {1}, {2}, "causal", 3, 1},
            {1, {2, 8, 4}, {2}, {3}, {1}, "causal", 4, 2},
            {1, {1, 7, 6}, {3}, {1}, {3}, "same", 6, 3},
            {2, {2, 7, 6, 3}, {3, 2}, {1, 1}, {1, 1}, "valid", 4, 1},
            {2, {2, 7, 6, 3}, {3, 3}, {2, 3}, {1, 1}, "same", 2, 1},
            {2, {1, 8, 7, 2}, {2, 3}, {1, 1}, {2, 3}, "same", 3, 1},
            {2, {1, 6, 6, 4}, {4, 4}, {1, 1}, {1, 1}, "same", 2, 2},
            {2, {2, 5, 5, 4}, {1, 1}, {1, 1}, {1, 1}, "valid", 3, 1},
            {3, {1, 5, 4, 6, 2}, {2, 3, 2}, {1, 2, 1}, {1, 1, 1}, "same", 3, 1},
            {3, {2, 6, 5, 4, 2}, {3, 2, 2}, {1, 1, 1}, {2, 1, 1}, "valid", 2, 1},
        };
    }

    json config_of(const ConvCase& c, const std::string& data_format, bool use_bias, const std::string& activation)
    {
        return {{"filters", c.filters},   {"kernel_size", c.kernel},  {"strides", c.strides},
                {"dilation_rate", c.dilation}, {"padding", c.padding}, {"groups", c.groups},
                {"data_format", data_format}, {"use_bias", use_bias},  {"activation", activation},
                {"bias_initializer", "random_normal"}};
    }

    Shape in_format(const Shape& channels_last, const std::string& data_format)
    {
        if (data_format == "channels_last")
            return channels_last;
        Shape s{channels_last[0], channels_last.back()};
        s.insert(s.end(), channels_last.begin() + 1, channels_last.end() - 1);
        return s;
    }

    std::string class_of(std::size_t rank) { return "Conv" + std::to_string(rank) + "D"; }
}

BOOST_AUTO_TEST_SUITE(conv)

BOOST_AUTO_TEST_CASE(forward_matches_the_definition)
{
    for (const auto& c : grid())
        BOOST_TEST_CONTEXT(class_of(c.rank) << " " << config_of(c, "channels_last", false, "linear").dump())
        {
            auto layer = make_layer<double>(class_of(c.rank), config_of(c, "channels_last", false, "linear"));
            Tensor<double> x = test::random_tensor(c.input, 3);
            Tensor<double> y = layer->predict(x);
            Tensor<double> expected =
                reference_conv(x, layer->weights()[0]->variable.value(), c.rank, c.strides, c.dilation, c.padding, c.groups);
            std::string why;
            BOOST_TEST(test::close_to_scale(y, expected, 1e-12, &why), why);
        }
}

BOOST_AUTO_TEST_CASE(gradients_shapes_and_configs_over_the_grid)
{
    const std::vector<std::string> activations = {"linear", "relu", "tanh", "softmax", "gelu"};
    std::size_t i = 0;
    for (const auto& c : grid())
        for (const std::string format : {"channels_last", "channels_first"})
        {
            if (c.padding == "causal" && format == "channels_first")
                continue; // TF's causal Conv1D only exists in channels_last; still exercised below
            const bool use_bias = i % 2 == 0;
            const std::string activation = activations[i++ % activations.size()];
            Shape input = in_format(c.input, format);
            std::vector<long> spatial;
            for (std::size_t a = 0; a < c.rank; ++a)
                spatial.push_back(expected_extent(long(c.input[1 + a]), c.kernel[a], c.strides[a], c.dilation[a], c.padding));
            PartialShape out{long(c.input[0])};
            if (format == "channels_first")
                out.push_back(c.filters);
            out.insert(out.end(), spatial.begin(), spatial.end());
            if (format == "channels_last")
                out.push_back(c.filters);
            test::run_layer_test(class_of(c.rank), config_of(c, format, use_bias, activation), input,
                                 {out, use_bias ? 2u : 1u}, i);
        }
}

BOOST_AUTO_TEST_CASE(channels_first_equals_channels_last_transposed)
{
    auto last = make_layer<double>("Conv2D", {{"filters", 3}, {"kernel_size", 3}, {"padding", "same"}});
    auto first = make_layer<double>("Conv2D", {{"filters", 3}, {"kernel_size", 3}, {"padding", "same"}, {"data_format", "channels_first"}});
    Tensor<double> x = test::random_tensor({2, 5, 6, 4}, 9);
    Tensor<double> y_last = last->predict(x);
    first->build({-1, 4, 5, 6});
    first->weights()[0]->variable.value() = last->weights()[0]->variable.value();
    Tensor<double> y_first = first->predict(Tensor<double>(xt::transpose(x, {0, 3, 1, 2})));
    std::string why;
    BOOST_TEST(test::close_to_scale(Tensor<double>(xt::transpose(y_first, {0, 2, 3, 1})), y_last, 1e-12, &why), why);
}

BOOST_AUTO_TEST_CASE(keras_defaults_and_config_keys)
{
    auto layer = make_layer("Conv2D", {{"filters", 8}, {"kernel_size", 3}});
    json c = layer->get_config();
    BOOST_TEST(c["strides"] == json({1, 1}));
    BOOST_TEST(c["kernel_size"] == json({3, 3}));
    BOOST_TEST(c["padding"] == "valid");
    BOOST_TEST(c["dilation_rate"] == json({1, 1}));
    BOOST_TEST(c["groups"] == 1);
    BOOST_TEST(c["activation"] == "linear");
    BOOST_TEST(c["use_bias"] == true);
    BOOST_TEST(c["kernel_initializer"]["class_name"] == "GlorotUniform");
    BOOST_TEST(c["bias_initializer"]["class_name"] == "Zeros");
    BOOST_TEST(c["kernel_regularizer"].is_null());
    BOOST_TEST(c["trainable"] == true);
    BOOST_TEST(c["dtype"] == "float32");
    for (const char* key : {"name", "trainable", "dtype", "filters", "kernel_size", "strides", "padding", "data_format",
                            "dilation_rate", "groups", "activation", "use_bias", "kernel_initializer",
                            "bias_initializer", "kernel_regularizer", "bias_regularizer", "activity_regularizer",
                            "kernel_constraint", "bias_constraint"})
        BOOST_TEST(c.contains(key), key);
    BOOST_TEST(c.size() == 19u);
    // Conv1D defaults to channels_last whatever keras.json says.
    BOOST_TEST(make_layer("Conv1D", {{"filters", 1}, {"kernel_size", 1}})->get_config()["data_format"] == "channels_last");
}

BOOST_AUTO_TEST_CASE(weights_have_keras_names_shapes_and_order)
{
    auto layer = make_layer("Conv2D", {{"filters", 6}, {"kernel_size", {3, 2}}, {"groups", 2}, {"name", "c"}});
    layer->build({-1, 9, 9, 4});
    auto w = layer->weights();
    BOOST_REQUIRE(w.size() == 2u);
    BOOST_TEST(w[0]->name == "kernel");
    BOOST_TEST(w[0]->variable.shape() == Shape({3, 2, 2, 6}));
    BOOST_TEST(w[1]->name == "bias");
    BOOST_TEST(w[1]->variable.shape() == Shape({6}));
    BOOST_TEST(layer->weight_path(*w[0]) == "c/kernel:0");
    BOOST_TEST(layer->count_params() == 3u * 2 * 2 * 6 + 6);
}

BOOST_AUTO_TEST_CASE(keras_auto_names)
{
    reset_layer_names();
    BOOST_TEST(make_layer("Conv2D", {{"filters", 1}, {"kernel_size", 1}})->name() == "conv2d");
    BOOST_TEST(make_layer("Conv2D", {{"filters", 1}, {"kernel_size", 1}})->name() == "conv2d_1");
    BOOST_TEST(make_layer("Conv3D", {{"filters", 1}, {"kernel_size", 1}})->name() == "conv3d");
    BOOST_TEST(to_snake_case("Conv2DTranspose") == "conv2d_transpose");
    BOOST_TEST(to_snake_case("SeparableConv1D") == "separable_conv1d");
    BOOST_TEST(to_snake_case("UpSampling2D") == "up_sampling2d");
    BOOST_TEST(to_snake_case("DepthwiseConv2D") == "depthwise_conv2d");
}

BOOST_AUTO_TEST_CASE(rejects_what_keras_rejects)
{
    auto throws = [](const json& config, std::initializer_list<std::string> fragments, const char* cls = "Conv2D") {
        BOOST_CHECK_EXCEPTION(make_layer(cls, config), value_error, message_contains(fragments));
    };
    throws({{"filters", 0}, {"kernel_size", 3}}, {"filters", "strictly positive", "Received filters=0"});
    throws({{"filters", -2}, {"kernel_size", 3}}, {"filters", "-2"});
    throws({{"kernel_size", 3}}, {"filters"});
    throws({{"filters", 2}}, {"kernel_size"});
    throws({{"filters", 2}, {"kernel_size", 0}}, {"kernel_size"});
    throws({{"filters", 2}, {"kernel_size", {3, 3, 3}}}, {"kernel_size", "tuple of 2"});
    throws({{"filters", 2}, {"kernel_size", 3}, {"strides", 2}, {"dilation_rate", 2}},
           {"`strides > 1` not supported in conjunction with `dilation_rate > 1`", "strides=(2, 2)"});
    throws({{"filters", 2}, {"kernel_size", 3}, {"padding", "causal"}}, {"causal", "Conv1D"});
    throws({{"filters", 2}, {"kernel_size", 3}, {"padding", "full"}}, {"padding", "full"});
    throws({{"filters", 2}, {"kernel_size", 3}, {"data_format", "NHWC"}}, {"data_format", "NHWC"});
    throws({{"filters", 3}, {"kernel_size", 3}, {"groups", 2}}, {"divisible", "groups=2", "filters=3"});
    throws({{"filters", 3}, {"kernel_size", 3}, {"activation", "relu7"}}, {"activation", "relu7"});
    throws({{"filters", 3}, {"kernel_size", 3}, {"kernel_initializer", "glorot"}}, {"initializer", "glorot"});
    throws({{"filters", 3}, {"kernel_size", 3}, {"colour", "red"}}, {"keyword argument not understood", "colour"});
    // Keras 3's LoRA (tests/layers/test_lora.cpp): unset is what every Keras 3 config means; a bad rank is refused.
    BOOST_CHECK_NO_THROW(make_layer("Conv2D", {{"filters", 3}, {"kernel_size", 3}, {"lora_rank", nullptr}}));
    throws({{"filters", 3}, {"kernel_size", 3}, {"lora_rank", -4}}, {"lora_rank", "positive integer", "-4"});
    throws({{"filters", 3}, {"kernel_size", 3}, {"lora_rank", "4"}}, {"lora_rank"}, "Conv1D");
}

BOOST_AUTO_TEST_CASE(rejects_inputs_that_do_not_fit)
{
    auto layer = make_layer("Conv2D", {{"filters", 2}, {"kernel_size", 3}, {"name", "conv"}});
    BOOST_CHECK_EXCEPTION(layer->predict(Tensor<float>({1, 5, 5}, 0.f)), shape_error,
                          message_contains({"conv", "expected ndim=4", "found ndim=3"}));
    layer->predict(Tensor<float>({1, 5, 5, 3}, 0.f));
    BOOST_CHECK_EXCEPTION(layer->predict(Tensor<float>({1, 5, 5, 4}, 0.f)), shape_error,
                          message_contains({"conv", "axis -1", "value 3", "(1, 5, 5, 4)"}));
    auto small = make_layer("Conv2D", {{"filters", 2}, {"kernel_size", 4}, {"name", "big_kernel"}});
    BOOST_CHECK_EXCEPTION(small->predict(Tensor<float>({1, 3, 3, 1}, 0.f)), value_error,
                          message_contains({"big_kernel", "zero or negative", "3, 3, 1)"}));
    auto grouped = make_layer("Conv2D", {{"filters", 4}, {"kernel_size", 1}, {"groups", 2}});
    BOOST_CHECK_EXCEPTION(grouped->predict(Tensor<float>({1, 3, 3, 3}, 0.f)), value_error,
                          message_contains({"groups=2", "3 channels"}));
}

BOOST_AUTO_TEST_SUITE_END()
