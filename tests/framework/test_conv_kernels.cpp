// The float convolution kernels (implicit GEMM, stride phases, the small-channel kernels of
// conv_small_channels.cpp where built) against the double kernels, which take the im2col + BLAS path, over
// geometries that exercise padding, strides, dilations, 1-D/2-D/3-D, channel counts around the register tile,
// and tile tails.
#include "framework/engine/kernels/conv.hpp"

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <random>
#include <sstream>
#include <vector>

using xk::kernels::ConvGeometry;

namespace
{
    /// Output extent and pad_before of one axis under Keras's 'valid' / 'same' rules.
    ConvGeometry make(std::size_t batch, std::array<std::size_t, 3> in, std::array<std::size_t, 3> kernel,
                      std::array<std::size_t, 3> stride, std::array<std::size_t, 3> dilation, bool same,
                      std::size_t cin, std::size_t cout)
    {
        ConvGeometry g;
        g.batch = batch;
        g.in = in;
        g.kernel = kernel;
        g.stride = stride;
        g.dilation = dilation;
        g.in_channels = cin;
        g.out_channels = cout;
        for (int a = 0; a < 3; ++a)
        {
            const long dilated = long((kernel[a] - 1) * dilation[a] + 1);
            const long out = same ? (long(in[a]) + long(stride[a]) - 1) / long(stride[a])
                                  : (long(in[a]) - dilated) / long(stride[a]) + 1;
            g.out[a] = std::size_t(out);
            g.pad_before[a] = same ? std::max((out - 1) * long(stride[a]) + dilated - long(in[a]), 0L) / 2 : 0;
        }
        return g;
    }

    std::string describe(const ConvGeometry& g)
    {
        std::ostringstream s;
        s << "batch " << g.batch << " in " << g.in[0] << "x" << g.in[1] << "x" << g.in[2] << " out " << g.out[0] << "x"
          << g.out[1] << "x" << g.out[2] << " kernel " << g.kernel[0] << "x" << g.kernel[1] << "x" << g.kernel[2]
          << " stride " << g.stride[2] << " dilation " << g.dilation[2] << " pad " << g.pad_before[2] << " channels "
          << g.in_channels << "->" << g.out_channels;
        return s.str();
    }

    void expect_close(const std::vector<float>& got, const std::vector<double>& want, double scale,
                      const std::string& what)
    {
        BOOST_TEST_REQUIRE(got.size() == want.size());
        std::size_t bad = 0;
        for (std::size_t i = 0; i < got.size(); ++i)
            if (!(std::abs(double(got[i]) - want[i]) <= 1e-5 * scale * (1.0 + std::abs(want[i]))))
                ++bad;
        BOOST_TEST(bad == 0u, what << ": " << bad << " of " << got.size() << " entries differ");
    }

    void check(const ConvGeometry& g, unsigned seed)
    {
        std::mt19937 rng(seed);
        std::uniform_real_distribution<double> u(-1.0, 1.0);
        const std::size_t xs = g.batch * g.in_pixels() * g.in_channels, ys = g.batch * g.out_pixels() * g.out_channels;
        const std::size_t ws = g.taps() * g.in_channels * g.out_channels;
        std::vector<double> xd(xs), wd(ws), dyd(ys);
        for (auto* v : {&xd, &wd, &dyd})
            for (auto& e : *v)
                e = u(rng);
        auto to_float = [](const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); };
        const std::vector<float> xf = to_float(xd), wf = to_float(wd), dyf = to_float(dyd);
        // Preset dx and dw: the backward kernels add to them.
        std::vector<double> yd(ys, 7.0), dxd(xs, 0.5), dwd(ws, -0.25);
        std::vector<float> yf(ys, 7.0f), dxf(xs, 0.5f), dwf(ws, -0.25f);
        xk::kernels::conv_forward<double>(g, xd.data(), wd.data(), yd.data());
        xk::kernels::conv_forward<float>(g, xf.data(), wf.data(), yf.data());
        xk::kernels::conv_backward_input<double>(g, dyd.data(), wd.data(), dxd.data());
        xk::kernels::conv_backward_input<float>(g, dyf.data(), wf.data(), dxf.data());
        xk::kernels::conv_backward_kernel<double>(g, xd.data(), dyd.data(), dwd.data());
        xk::kernels::conv_backward_kernel<float>(g, xf.data(), dyf.data(), dwf.data());
        const double depth = double(g.taps() * std::max(g.in_channels, g.out_channels));
        expect_close(yf, yd, depth, "forward, " + describe(g));
        expect_close(dxf, dxd, depth, "backward to input, " + describe(g));
        expect_close(dwf, dwd, double(g.batch * g.out_pixels()), "backward to kernel, " + describe(g));
    }
}

BOOST_AUTO_TEST_SUITE(conv_kernels)

BOOST_AUTO_TEST_CASE(two_dimensional_geometries)
{
    unsigned seed = 1;
    for (std::size_t cin : {1, 3, 16, 33})
        for (std::size_t cout : {1, 8, 32, 45})
            for (bool same : {false, true})
            {
                check(make(2, {1, 9, 11}, {1, 3, 3}, {1, 1, 1}, {1, 1, 1}, same, cin, cout), seed++);
                check(make(2, {1, 10, 9}, {1, 3, 2}, {1, 2, 3}, {1, 1, 1}, same, cin, cout), seed++);
                check(make(1, {1, 12, 12}, {1, 3, 3}, {1, 1, 1}, {1, 2, 2}, same, cin, cout), seed++);
            }
}

BOOST_AUTO_TEST_CASE(one_and_three_dimensional_geometries)
{
    unsigned seed = 100;
    for (std::size_t cin : {1, 16, 64})
        for (std::size_t cout : {16, 32, 64})
        {
            check(make(3, {1, 1, 40}, {1, 1, 5}, {1, 1, 1}, {1, 1, 1}, true, cin, cout), seed++);
            check(make(2, {1, 1, 37}, {1, 1, 3}, {1, 1, 2}, {1, 1, 1}, true, cin, cout), seed++);
            check(make(2, {1, 1, 30}, {1, 1, 3}, {1, 1, 1}, {1, 1, 4}, false, cin, cout), seed++);
            check(make(1, {5, 6, 7}, {3, 3, 3}, {1, 1, 1}, {1, 1, 1}, true, cin, cout), seed++);
            check(make(1, {6, 5, 7}, {3, 3, 3}, {2, 2, 2}, {1, 1, 1}, true, cin, cout), seed++);
        }
}

BOOST_AUTO_TEST_CASE(causal_padding)
{
    ConvGeometry g = make(2, {1, 1, 25}, {1, 1, 3}, {1, 1, 1}, {1, 1, 4}, false, 16, 32);
    g.out[2] = 25;
    g.pad_before[2] = 8;
    check(g, 7);
}

BOOST_AUTO_TEST_CASE(transposed_convolution_shapes)
{
    // Conv2DTranspose/Conv3DTranspose run conv_backward_input as their forward: stride 2, 'same', with
    // input extents that are and are not multiples of the stride.
    unsigned seed = 200;
    for (std::size_t cin : {16, 32})
        for (std::size_t cout : {16, 64})
        {
            check(make(2, {1, 16, 16}, {1, 3, 3}, {1, 2, 2}, {1, 1, 1}, true, cin, cout), seed++);
            check(make(2, {1, 15, 13}, {1, 4, 4}, {1, 2, 2}, {1, 1, 1}, false, cin, cout), seed++);
            check(make(1, {8, 8, 8}, {3, 3, 3}, {2, 2, 2}, {1, 1, 1}, true, cin, cout), seed++);
        }
}

BOOST_AUTO_TEST_CASE(kernel_gradient_geometries)
{
    // The float kernel gradient (conv_wgrad_avx512.cpp where built) copies slabs of each image into a padded
    // buffer and tiles dW^T by 4 output channels x 6 vectors of 16 (tap, input channel) entries: channel counts
    // around and off those multiples, single-pixel and tiny outputs, and inputs big enough to be cut into several
    // slabs per image and several chunks per slab.
    unsigned seed = 300;
    for (std::size_t cin : {16, 17, 20, 33})
        for (std::size_t cout : {1, 5, 7, 45})
        {
            check(make(1, {1, 3, 3}, {1, 3, 3}, {1, 1, 1}, {1, 1, 1}, false, cin, cout), seed++); // one pixel
            check(make(2, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, true, cin, cout), seed++);  // 1x1 image
            check(make(3, {1, 2, 5}, {1, 3, 3}, {1, 1, 1}, {1, 1, 1}, true, cin, cout), seed++);  // kernel > image
            check(make(2, {1, 7, 6}, {1, 2, 3}, {1, 3, 2}, {1, 1, 1}, true, cin, cout), seed++);
            check(make(1, {4, 5, 6}, {2, 3, 2}, {2, 1, 2}, {1, 2, 1}, false, cin, cout), seed++);
        }
    // Fewer than 16 input channels turn the tile around (dW rows x vectors of output channels): output channel
    // counts around 16, 32, 48 and 64 columns and a second column block.
    for (std::size_t cin : {2, 7, 15})
        for (std::size_t cout : {1, 17, 40, 50, 70})
        {
            check(make(2, {1, 9, 8}, {1, 3, 3}, {1, 1, 1}, {1, 1, 1}, true, cin, cout), seed++);
            check(make(1, {5, 4, 6}, {3, 2, 3}, {1, 2, 1}, {2, 1, 1}, true, cin, cout), seed++);
            check(make(2, {1, 1, 31}, {1, 1, 5}, {1, 1, 3}, {1, 1, 1}, false, cin, cout), seed++);
        }
    check(make(2, {1, 60, 61}, {1, 3, 3}, {1, 1, 1}, {1, 1, 1}, true, 3, 32), seed++);
    // Several slabs per image (along each possible slab axis) and chunks that end mid-row.
    check(make(2, {1, 1, 1500}, {1, 1, 3}, {1, 1, 1}, {1, 1, 2}, true, 48, 12), seed++);
    check(make(1, {1, 40, 41}, {1, 3, 3}, {1, 1, 1}, {1, 1, 1}, true, 53, 20), seed++);
    check(make(1, {1, 45, 38}, {1, 3, 5}, {1, 2, 3}, {1, 1, 1}, true, 64, 8), seed++);
    check(make(2, {10, 12, 14}, {3, 3, 3}, {1, 1, 1}, {1, 1, 1}, true, 64, 9), seed++);
    check(make(1, {11, 9, 8}, {3, 2, 3}, {2, 1, 1}, {1, 2, 2}, true, 80, 6), seed++);
    ConvGeometry causal = make(3, {1, 1, 700}, {1, 1, 3}, {1, 1, 1}, {1, 1, 4}, false, 64, 64);
    causal.out[2] = 700;
    causal.pad_before[2] = 8;
    check(causal, seed++);
}

BOOST_AUTO_TEST_CASE(small_input_channel_geometries)
{
    // C_in <= 4 takes the direct small-channel kernels: every C_in, C_out around the 16-lane vectors and the
    // pixel blocks (8 = the smallest, 45 and 100 with tails, 128 = the largest), blocks with and without
    // padded taps, strides and dilations, single-pixel outputs, and rows shorter than one block.
    unsigned seed = 300;
    for (std::size_t cin : {1, 2, 3, 4})
        for (std::size_t cout : {8, 16, 32, 45})
            for (bool same : {false, true})
            {
                check(make(3, {1, 28, 28}, {1, 3, 3}, {1, 1, 1}, {1, 1, 1}, same, cin, cout), seed++);
                check(make(2, {1, 11, 37}, {1, 3, 5}, {1, 2, 3}, {1, 1, 1}, same, cin, cout), seed++);
                check(make(2, {1, 13, 30}, {1, 3, 3}, {1, 1, 1}, {1, 2, 3}, same, cin, cout), seed++);
                check(make(2, {1, 1, 50}, {1, 1, 7}, {1, 1, 2}, {1, 1, 1}, same, cin, cout), seed++);
                check(make(2, {5, 6, 19}, {3, 2, 3}, {2, 1, 2}, {1, 1, 1}, same, cin, cout), seed++);
                check(make(2, {1, 3, 3}, {1, 3, 3}, {1, 1, 1}, {1, 1, 1}, same, cin, cout), seed++);
                check(make(1, {1, 4, 5}, {1, 2, 2}, {1, 3, 4}, {1, 1, 1}, same, cin, cout), seed++);
            }
    for (std::size_t cout : {64, 100, 128})
    {
        check(make(2, {1, 15, 21}, {1, 3, 3}, {1, 1, 1}, {1, 1, 1}, true, 3, cout), seed++);
        check(make(2, {3, 9, 10}, {2, 3, 3}, {1, 2, 2}, {2, 1, 1}, false, 2, cout), seed++);
    }
}

BOOST_AUTO_TEST_CASE(small_input_channels_causal_and_pointwise)
{
    ConvGeometry causal = make(2, {1, 1, 25}, {1, 1, 3}, {1, 1, 1}, {1, 1, 4}, false, 2, 24);
    causal.out[2] = 25;
    causal.pad_before[2] = 8;
    check(causal, 400);
    check(make(2, {1, 7, 9}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, false, 3, 40), 401);
    check(make(2, {1, 7, 9}, {1, 1, 1}, {1, 2, 2}, {1, 1, 1}, true, 4, 17), 402);
}

BOOST_AUTO_TEST_SUITE_END()
