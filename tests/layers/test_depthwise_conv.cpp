// DepthwiseConv1D / DepthwiseConv2D: per-channel filters, output channel c*depth_multiplier + m.
#include "support/checks.hpp"
#include "support/gradcheck.hpp"
#include "support/layer_harness.hpp"

#include "framework/engine/kernels/conv.hpp"

#include <boost/test/unit_test.hpp>

#include <random>

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

namespace
{
    /// The definition, one multiply-add at a time: y[n, o, c*M+m] = sum over taps in the image of
    /// x[n, o*s - pad + t*d, c] * w[t, c, m].
    template <class T>
    struct NaiveDepthwise
    {
        const kernels::ConvGeometry& g;
        std::size_t mult() const { return g.out_channels / g.in_channels; }

        template <class Visit>
        void each(Visit visit) const
        {
            const std::size_t C = g.in_channels, M = mult();
            for (std::size_t n = 0; n < g.batch; ++n)
                for (std::size_t od = 0; od < g.out[0]; ++od)
                    for (std::size_t oh = 0; oh < g.out[1]; ++oh)
                        for (std::size_t ow = 0; ow < g.out[2]; ++ow)
                            for (std::size_t td = 0, tap = 0; td < g.kernel[0]; ++td)
                                for (std::size_t th = 0; th < g.kernel[1]; ++th)
                                    for (std::size_t tw = 0; tw < g.kernel[2]; ++tw, ++tap)
                                    {
                                        long i[3] = {long(od * g.stride[0] + td * g.dilation[0]) - g.pad_before[0],
                                                     long(oh * g.stride[1] + th * g.dilation[1]) - g.pad_before[1],
                                                     long(ow * g.stride[2] + tw * g.dilation[2]) - g.pad_before[2]};
                                        bool inside = true;
                                        for (int a = 0; a < 3; ++a)
                                            inside = inside && i[a] >= 0 && i[a] < long(g.in[a]);
                                        if (!inside)
                                            continue;
                                        std::size_t xp = ((n * g.in[0] + i[0]) * g.in[1] + i[1]) * g.in[2] + i[2];
                                        std::size_t yp = ((n * g.out[0] + od) * g.out[1] + oh) * g.out[2] + ow;
                                        for (std::size_t c = 0; c < C; ++c)
                                            for (std::size_t m = 0; m < M; ++m)
                                                visit(xp * C + c, yp * C * M + c * M + m, tap * C * M + c * M + m);
                                    }
        }
    };

    template <class T>
    void check_depthwise_kernels(const kernels::ConvGeometry& g, std::mt19937& rng, double tolerance)
    {
        std::uniform_real_distribution<double> u(-1, 1);
        auto fill = [&](std::size_t n) {
            std::vector<T> v(n);
            for (auto& e : v)
                e = T(u(rng));
            return v;
        };
        const std::size_t xs = g.batch * g.in_pixels() * g.in_channels, ys = g.batch * g.out_pixels() * g.out_channels,
                          ws = g.taps() * g.out_channels;
        const std::vector<T> x = fill(xs), w = fill(ws), dy = fill(ys);
        std::vector<T> y(ys, T(7)), dx = fill(xs), dw = fill(ws); // dx, dw pre-filled: kernels accumulate
        std::vector<T> y_ref(ys, T(0)), dx_ref = dx, dw_ref = dw;
        NaiveDepthwise<T>{g}.each([&](std::size_t xi, std::size_t yi, std::size_t wi) {
            y_ref[yi] += x[xi] * w[wi];
            dx_ref[xi] += dy[yi] * w[wi];
            dw_ref[wi] += x[xi] * dy[yi];
        });
        kernels::depthwise_forward(g, x.data(), w.data(), y.data());
        kernels::depthwise_backward_input(g, dy.data(), w.data(), dx.data());
        kernels::depthwise_backward_kernel(g, x.data(), dy.data(), dw.data());
        auto worst = [](const std::vector<T>& a, const std::vector<T>& b) {
            double e = 0;
            for (std::size_t i = 0; i < a.size(); ++i)
                e = std::max(e, std::abs(double(a[i]) - double(b[i])));
            return e;
        };
        BOOST_TEST(worst(y, y_ref) < tolerance);
        BOOST_TEST(worst(dx, dx_ref) < tolerance);
        BOOST_TEST(worst(dw, dw_ref) < tolerance);
    }
}

BOOST_AUTO_TEST_CASE(kernels_match_the_definition_on_odd_geometries)
{
    // Row runs per tap, borders on both sides, strides, dilations, multipliers, 1-D to 3-D, channel counts
    // that are not a vector width, kernels wider than the image with padding.
    struct Geo
    {
        std::array<std::size_t, 3> in, kernel, stride, dilation;
        std::array<long, 3> pad;
        std::size_t channels, mult;
    };
    const std::vector<Geo> geos = {
        {{1, 7, 9}, {1, 3, 3}, {1, 1, 1}, {1, 1, 1}, {0, 1, 1}, 5, 1},
        {{1, 8, 11}, {1, 3, 5}, {1, 2, 3}, {1, 1, 1}, {0, 1, 2}, 17, 1},
        {{1, 6, 7}, {1, 2, 3}, {1, 1, 1}, {1, 2, 2}, {0, 1, 2}, 3, 3},
        {{1, 1, 13}, {1, 1, 5}, {1, 1, 2}, {1, 1, 1}, {0, 0, 4}, 33, 2},
        {{1, 4, 3}, {1, 5, 6}, {1, 1, 1}, {1, 1, 1}, {0, 2, 3}, 4, 1},
        {{3, 5, 4}, {2, 3, 3}, {2, 1, 2}, {1, 1, 1}, {1, 1, 1}, 6, 2},
        {{1, 5, 5}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, {0, 0, 0}, 64, 1},
        // multiplier 1 in float takes the AVX-512 kernels: channel blocks of 128 plus a masked tail, 3-D taps
        {{2, 5, 6}, {3, 2, 3}, {1, 2, 1}, {2, 1, 2}, {2, 0, 2}, 150, 1},
        {{3, 4, 5}, {2, 3, 3}, {2, 2, 2}, {1, 1, 1}, {1, 1, 1}, 20, 1},
        {{1, 2, 3}, {1, 3, 7}, {1, 1, 1}, {1, 1, 1}, {0, 1, 3}, 16, 1},
    };
    std::mt19937 rng(11);
    for (const auto& geo : geos)
    {
        kernels::ConvGeometry g;
        g.batch = 3;
        g.in = geo.in;
        g.kernel = geo.kernel;
        g.stride = geo.stride;
        g.dilation = geo.dilation;
        g.pad_before = geo.pad;
        for (int a = 0; a < 3; ++a) // 'same'-like extents: every output reads at least one padded border tap
            g.out[a] = (geo.in[a] + 2 * std::size_t(geo.pad[a]) - (geo.kernel[a] - 1) * geo.dilation[a] - 1) / geo.stride[a] + 1;
        g.in_channels = geo.channels;
        g.out_channels = geo.channels * geo.mult;
        check_depthwise_kernels<double>(g, rng, 1e-12);
        check_depthwise_kernels<float>(g, rng, 1e-4);
    }
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
