// The float convolution kernels (implicit GEMM, stride phases, the small-channel kernels of
// conv_small_channels.cpp where built) and the double ones (im2col + BLAS) against direct loops, over
// geometries that exercise padding, strides, dilations, 1-D/2-D/3-D, channel counts around the register tile,
// and tile tails: within float32 rounding on random values, exactly on small integers.
#include "framework/engine/kernels/conv.hpp"

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <tuple>
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

    /// The three passes by direct loops in double, from the given presets: y = conv(x, w) + y_preset,
    /// dx = dx_preset + conv_backward_input(dy, w), dw = dw_preset + the gradient in w. Independent of the
    /// library (which takes im2col + GEMM in double and its own kernels in float).
    struct Passes
    {
        std::vector<double> y, dx, dw;
    };
    Passes direct_loops(const ConvGeometry& g, const std::vector<double>& x, const std::vector<double>& w,
                        const std::vector<double>& dy, Passes presets)
    {
        const std::size_t cin = g.in_channels, cout = g.out_channels, cin_g = cin / g.groups, cout_g = cout / g.groups;
        std::fill(presets.y.begin(), presets.y.end(), 0.0);
        for (std::size_t b = 0; b < g.batch; ++b)
            for (std::size_t o0 = 0; o0 < g.out[0]; ++o0)
                for (std::size_t o1 = 0; o1 < g.out[1]; ++o1)
                    for (std::size_t o2 = 0; o2 < g.out[2]; ++o2)
                        for (std::size_t k0 = 0; k0 < g.kernel[0]; ++k0)
                            for (std::size_t k1 = 0; k1 < g.kernel[1]; ++k1)
                                for (std::size_t k2 = 0; k2 < g.kernel[2]; ++k2)
                                {
                                    const long i0 = long(o0 * g.stride[0] + k0 * g.dilation[0]) - g.pad_before[0];
                                    const long i1 = long(o1 * g.stride[1] + k1 * g.dilation[1]) - g.pad_before[1];
                                    const long i2 = long(o2 * g.stride[2] + k2 * g.dilation[2]) - g.pad_before[2];
                                    if (i0 < 0 || i1 < 0 || i2 < 0 || i0 >= long(g.in[0]) || i1 >= long(g.in[1]) ||
                                        i2 >= long(g.in[2]))
                                        continue;
                                    const std::size_t xi =
                                        ((b * g.in[0] + std::size_t(i0)) * g.in[1] + std::size_t(i1)) * g.in[2] + std::size_t(i2);
                                    const std::size_t yi = ((b * g.out[0] + o0) * g.out[1] + o1) * g.out[2] + o2;
                                    const std::size_t tap = (k0 * g.kernel[1] + k1) * g.kernel[2] + k2;
                                    for (std::size_t co = 0; co < cout; ++co)
                                    {
                                        const std::size_t group = co / cout_g;
                                        for (std::size_t ci = 0; ci < cin_g; ++ci)
                                        {
                                            const std::size_t xc = xi * cin + group * cin_g + ci;
                                            const std::size_t wc = (tap * cin_g + ci) * cout + co;
                                            presets.y[yi * cout + co] += x[xc] * w[wc];
                                            presets.dx[xc] += dy[yi * cout + co] * w[wc];
                                            presets.dw[wc] += x[xc] * dy[yi * cout + co];
                                        }
                                    }
                                }
        return presets;
    }

    /// The float kernels' error allowed by float32 rounding: sums of `depth` terms in any order and blocking
    /// err by about eps * sqrt(depth) * max|want| (random rounding errors; a sum in a different order stays
    /// within that); float_rounding_factor sets the margin. A dropped or doubled term, by contrast, is off by
    /// about max|want| / sqrt(depth).
    constexpr double float_rounding_factor = 4.0;

    void expect_close(const std::vector<float>& got, const std::vector<double>& want, double depth,
                      const std::string& what)
    {
        BOOST_TEST_REQUIRE(got.size() == want.size());
        double largest = 0.0;
        for (double v : want)
            largest = std::max(largest, std::abs(v));
        const double bound =
            float_rounding_factor * double(std::numeric_limits<float>::epsilon()) * std::sqrt(depth) * largest;
        std::size_t bad = 0;
        double worst = 0.0;
        for (std::size_t i = 0; i < got.size(); ++i)
        {
            const double error = std::abs(double(got[i]) - want[i]);
            worst = std::max(worst, error);
            if (!(error <= bound))
                ++bad;
        }
        if (std::getenv("XKERAS_REPORT_ROUNDING"))
            BOOST_TEST_MESSAGE("rounding " << worst / (bound / float_rounding_factor) << " " << what);
        BOOST_TEST(bad == 0u, what << ": " << bad << " of " << got.size() << " entries differ by more than "
                                   << bound << " (worst " << worst << ")");
    }

    void expect_equal(const std::vector<float>& got, const std::vector<double>& want, const std::string& what)
    {
        BOOST_TEST_REQUIRE(got.size() == want.size());
        std::size_t bad = 0;
        for (std::size_t i = 0; i < got.size(); ++i)
            bad += double(got[i]) != want[i];
        BOOST_TEST(bad == 0u, what << ": " << bad << " of " << got.size() << " entries are not exact");
    }

    std::vector<float> to_float(const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); }

    /// The float kernels (and the double path) on `g` against direct loops, twice: values in [-1, 1) within
    /// float rounding, and small integers whose sums float holds exactly (a dropped pixel at a slab or chunk
    /// boundary cannot hide in the tolerance there).
    void check(const ConvGeometry& g, unsigned seed)
    {
        std::mt19937 rng(seed);
        std::uniform_real_distribution<double> u(-1.0, 1.0);
        std::uniform_int_distribution<int> small(-3, 3);
        const std::size_t xs = g.batch * g.in_pixels() * g.in_channels, ys = g.batch * g.out_pixels() * g.out_channels;
        const std::size_t ws = g.taps() * g.in_channels / g.groups * g.out_channels;
        for (const bool exact : {false, true})
        {
            // Values rounded to float first: the float kernels and the reference start from the same numbers.
            std::vector<double> xd(xs), wd(ws), dyd(ys);
            for (auto* v : {&xd, &wd, &dyd})
                for (auto& e : *v)
                    e = exact ? double(small(rng)) : double(float(u(rng)));
            const std::vector<float> xf = to_float(xd), wf = to_float(wd), dyf = to_float(dyd);
            // Preset dx and dw: the backward kernels add to them; y is overwritten.
            const Passes presets{std::vector<double>(ys, 7.0), std::vector<double>(xs, 0.5),
                                 std::vector<double>(ws, -0.25)};
            const Passes want = direct_loops(g, xd, wd, dyd, presets);
            Passes lib = presets;
            std::vector<float> yf(ys, 7.0f), dxf(xs, 0.5f), dwf(ws, -0.25f);
            xk::kernels::conv_forward<double>(g, xd.data(), wd.data(), lib.y.data());
            xk::kernels::conv_forward<float>(g, xf.data(), wf.data(), yf.data());
            xk::kernels::conv_backward_input<double>(g, dyd.data(), wd.data(), lib.dx.data());
            xk::kernels::conv_backward_input<float>(g, dyf.data(), wf.data(), dxf.data());
            xk::kernels::conv_backward_kernel<double>(g, xd.data(), dyd.data(), lib.dw.data());
            xk::kernels::conv_backward_kernel<float>(g, xf.data(), dyf.data(), dwf.data());
            const std::string where = std::string(exact ? "integers" : "uniform") + ", " + describe(g);
            // Each output sums taps x C_in/groups products, each input gradient at most taps x C_out, each
            // kernel gradient batch x output pixels.
            const double forward_depth = double(g.taps() * g.in_channels / g.groups),
                         input_depth = double(g.taps() * g.out_channels), kernel_depth = double(g.batch * g.out_pixels());
            if (exact)
            {
                expect_equal(yf, want.y, "forward, " + where);
                expect_equal(dxf, want.dx, "backward to input, " + where);
                expect_equal(dwf, want.dw, "backward to kernel, " + where);
            }
            else
            {
                expect_close(yf, want.y, forward_depth, "forward, " + where);
                expect_close(dxf, want.dx, input_depth, "backward to input, " + where);
                expect_close(dwf, want.dw, kernel_depth, "backward to kernel, " + where);
            }
            // The double path (im2col + BLAS) agrees with the loops to double rounding.
            for (const auto& [name, a, b] : {std::tuple{"forward", &lib.y, &want.y}, std::tuple{"input", &lib.dx, &want.dx},
                                             std::tuple{"kernel", &lib.dw, &want.dw}})
            {
                double largest = 0.0, worst = 0.0;
                for (std::size_t i = 0; i < a->size(); ++i)
                {
                    largest = std::max(largest, std::abs((*b)[i]));
                    worst = std::max(worst, std::abs((*a)[i] - (*b)[i]));
                }
                BOOST_TEST(worst <= 1e-12 * std::max(largest, 1.0), "double path, " << name << ", " << where);
            }
        }
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
