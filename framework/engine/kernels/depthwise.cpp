#include "framework/engine/kernels/conv.hpp"
#include "framework/engine/kernels/conv_detail.hpp"
#include "framework/engine/kernels/depthwise_avx512.hpp"

#include <algorithm>
#include <array>
#include <type_traits>
#include <vector>

namespace xk::kernels
{
    using detail::for_partitions;
    using detail::sum_partials;

    // ---- depthwise: per output row, each tap is one axpy over the run of output pixels whose input lies
    // inside the image, so the inner loops carry no bounds checks and vectorise over channels (the contiguous
    // axis in channels_last). A row of outputs (a few KB) stays in L1 while its taps accumulate into it.

    namespace
    {
        /// The output positions [begin, end) along an axis whose input for tap t lies inside [0, in), and the
        /// input position of output 0 (possibly negative) for that tap.
        struct TapRun
        {
            std::size_t begin = 0, end = 0;
            long first_input = 0;
        };

        inline TapRun tap_run(const ConvGeometry& g, int axis, std::size_t t)
        {
            const long stride = long(g.stride[axis]);
            const long offset = long(t * g.dilation[axis]) - g.pad_before[axis]; // input of output 0
            // ow*stride + offset in [0, in - 1]  <=>  ow in [ceil(-offset / stride), floor((in - 1 - offset) / stride)]
            const long lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
            const long last = long(g.in[axis]) - 1 - offset;
            const long hi = last < 0 ? 0 : std::min(long(g.out[axis]), last / stride + 1);
            TapRun run;
            run.first_input = offset;
            run.begin = std::size_t(std::min(lo, std::max(hi, 0L)));
            run.end = std::size_t(std::max(hi, long(run.begin)));
            return run;
        }

        /// Per-axis runs of every tap, computed once per call.
        struct TapRuns
        {
            std::array<std::vector<TapRun>, 3> axis;
            explicit TapRuns(const ConvGeometry& g)
            {
                for (int a = 0; a < 3; ++a)
                    for (std::size_t t = 0; t < g.kernel[a]; ++t)
                        axis[a].push_back(tap_run(g, a, t));
            }
        };

        /// Calls body(in_row, td, th) with the flat (n, id, ih) input row of each tap row (td, th) that output
        /// row (od, oh) reads inside the image, for image n.
        template <class Body>
        inline void for_each_tap_row(const ConvGeometry& g, std::size_t n, std::size_t od, std::size_t oh, Body body)
        {
            for (std::size_t td = 0; td < g.kernel[0]; ++td)
            {
                const long id = detail::source(g, 0, od, td);
                if (id < 0)
                    continue;
                for (std::size_t th = 0; th < g.kernel[1]; ++th)
                {
                    const long ih = detail::source(g, 1, oh, th);
                    if (ih >= 0)
                        body((n * g.in[0] + std::size_t(id)) * g.in[1] + std::size_t(ih), td, th);
                }
            }
        }

        /// Output row r = (n, od, oh) of the flat row index over batch x out depth x out height.
        struct OutRow
        {
            std::size_t n, od, oh;
        };
        inline OutRow out_row(const ConvGeometry& g, std::size_t r)
        {
            return {r / (g.out[0] * g.out[1]), (r / g.out[1]) % g.out[0], r % g.out[1]};
        }

        // Row grain for the parallel loops: whole rows, enough chunks for the threads to balance.
        constexpr std::size_t row_grain = 4;
    }

    template <class T>
    void depthwise_forward(const ConvGeometry& g, const T* x, const T* w, T* y)
    {
        if constexpr (std::is_same_v<T, float>)
            if (detail::avx512_depthwise_applies(g))
                return detail::depthwise_forward_avx512(g, x, w, y);
        const std::size_t C = g.in_channels, mult = g.out_channels / g.in_channels, c_out = g.out_channels;
        const std::size_t in_w = g.in[2], out_w = g.out[2], sw = g.stride[2];
        const TapRuns runs(g);
        parallel_for(g.batch * g.out[0] * g.out[1], row_grain, [&](std::size_t r0, std::size_t r1) {
            for (std::size_t r = r0; r < r1; ++r)
            {
                const OutRow o = out_row(g, r);
                T* out = y + r * out_w * c_out;
                std::fill(out, out + out_w * c_out, T(0));
                for_each_tap_row(g, o.n, o.od, o.oh, [&](std::size_t in_row, std::size_t td, std::size_t th) {
                    const T* in = x + in_row * in_w * C;
                    for (std::size_t tw = 0; tw < g.kernel[2]; ++tw)
                    {
                        const TapRun& run = runs.axis[2][tw];
                        const T* wt = w + ((td * g.kernel[1] + th) * g.kernel[2] + tw) * c_out;
                        for (std::size_t ow = run.begin; ow < run.end; ++ow)
                        {
                            const T* __restrict src = in + std::size_t(long(ow * sw) + run.first_input) * C;
                            T* __restrict dst = out + ow * c_out;
                            if (mult == 1)
                                for (std::size_t c = 0; c < C; ++c)
                                    dst[c] += src[c] * wt[c];
                            else
                                for (std::size_t c = 0; c < C; ++c)
                                    for (std::size_t m = 0; m < mult; ++m)
                                        dst[c * mult + m] += src[c] * wt[c * mult + m];
                        }
                    }
                });
            }
        });
    }

    template <class T>
    void depthwise_backward_input(const ConvGeometry& g, const T* dy, const T* w, T* dx)
    {
        if constexpr (std::is_same_v<T, float>)
            if (detail::avx512_depthwise_applies(g))
                return detail::depthwise_backward_input_avx512(g, dy, w, dx);
        const std::size_t C = g.in_channels, mult = g.out_channels / g.in_channels, c_out = g.out_channels;
        const std::size_t in_w = g.in[2], out_w = g.out[2], sw = g.stride[2];
        const std::size_t rows_per_image = g.out[0] * g.out[1];
        const TapRuns runs(g);
        // Output rows scatter into overlapping input rows: parallel over images, which share nothing.
        parallel_for(g.batch, 1, [&](std::size_t n0, std::size_t n1) {
            for (std::size_t r = n0 * rows_per_image; r < n1 * rows_per_image; ++r)
            {
                const OutRow o = out_row(g, r);
                const T* gy = dy + r * out_w * c_out;
                for_each_tap_row(g, o.n, o.od, o.oh, [&](std::size_t in_row, std::size_t td, std::size_t th) {
                    T* gx = dx + in_row * in_w * C;
                    for (std::size_t tw = 0; tw < g.kernel[2]; ++tw)
                    {
                        const TapRun& run = runs.axis[2][tw];
                        const T* wt = w + ((td * g.kernel[1] + th) * g.kernel[2] + tw) * c_out;
                        for (std::size_t ow = run.begin; ow < run.end; ++ow)
                        {
                            T* __restrict dst = gx + std::size_t(long(ow * sw) + run.first_input) * C;
                            const T* __restrict src = gy + ow * c_out;
                            if (mult == 1)
                                for (std::size_t c = 0; c < C; ++c)
                                    dst[c] += src[c] * wt[c];
                            else
                                for (std::size_t c = 0; c < C; ++c)
                                {
                                    T sum = 0;
                                    for (std::size_t m = 0; m < mult; ++m)
                                        sum += src[c * mult + m] * wt[c * mult + m];
                                    dst[c] += sum;
                                }
                        }
                    }
                });
            }
        });
    }

    template <class T>
    void depthwise_backward_kernel(const ConvGeometry& g, const T* x, const T* dy, T* dw)
    {
        if constexpr (std::is_same_v<T, float>)
            if (detail::avx512_depthwise_applies(g))
                return detail::depthwise_backward_kernel_avx512(g, x, dy, dw);
        const std::size_t C = g.in_channels, mult = g.out_channels / g.in_channels, c_out = g.out_channels;
        const std::size_t in_w = g.in[2], out_w = g.out[2], sw = g.stride[2];
        const std::size_t wsize = g.taps() * c_out, rows = g.batch * g.out[0] * g.out[1];
        const TapRuns runs(g);
        // Private kernel sums per partition of the rows, added in partition order at the end.
        const std::size_t parts = std::min(rows, reduction_partitions);
        std::vector<std::vector<T>> partials(parts, std::vector<T>(wsize, T(0)));
        for_partitions(rows, parts, [&](std::size_t part, std::size_t r0, std::size_t r1) {
            T* acc = partials[part].data();
            for (std::size_t r = r0; r < r1; ++r)
            {
                const OutRow o = out_row(g, r);
                const T* gy = dy + r * out_w * c_out;
                for_each_tap_row(g, o.n, o.od, o.oh, [&](std::size_t in_row, std::size_t td, std::size_t th) {
                    const T* in = x + in_row * in_w * C;
                    for (std::size_t tw = 0; tw < g.kernel[2]; ++tw)
                    {
                        const TapRun& run = runs.axis[2][tw];
                        T* __restrict wt = acc + ((td * g.kernel[1] + th) * g.kernel[2] + tw) * c_out;
                        for (std::size_t ow = run.begin; ow < run.end; ++ow)
                        {
                            const T* __restrict src = in + std::size_t(long(ow * sw) + run.first_input) * C;
                            const T* __restrict grad = gy + ow * c_out;
                            if (mult == 1)
                                for (std::size_t c = 0; c < C; ++c)
                                    wt[c] += src[c] * grad[c];
                            else
                                for (std::size_t c = 0; c < C; ++c)
                                    for (std::size_t m = 0; m < mult; ++m)
                                        wt[c * mult + m] += src[c] * grad[c * mult + m];
                        }
                    }
                });
            }
        });
        sum_partials(partials, dw, wsize);
    }

    template <class T>
    void bias_add(std::size_t pixels, std::size_t channels, const T* bias, T* y)
    {
        parallel_for(pixels, 1024, [&](std::size_t p0, std::size_t p1) {
            for (std::size_t p = p0; p < p1; ++p)
                for (std::size_t c = 0; c < channels; ++c)
                    y[p * channels + c] += bias[c];
        });
    }

    template <class T>
    void bias_backward(std::size_t pixels, std::size_t channels, const T* dy, T* db)
    {
        // Column sums over pixels: private sums per partition of the rows when there is enough work to share.
        const std::size_t parts = pixels * channels < (1u << 16) ? 1 : std::min(pixels, reduction_partitions);
        std::vector<std::vector<T>> partials(parts, std::vector<T>(channels, T(0)));
        for_partitions(pixels, parts, [&](std::size_t part, std::size_t p0, std::size_t p1) {
            T* __restrict acc = partials[part].data();
            for (std::size_t p = p0; p < p1; ++p)
                for (std::size_t c = 0; c < channels; ++c)
                    acc[c] += dy[p * channels + c];
        });
        sum_partials(partials, db, channels);
    }

#define XK_INSTANTIATE_DEPTHWISE(T)                                                                            \
    template void depthwise_forward<T>(const ConvGeometry&, const T*, const T*, T*);                           \
    template void depthwise_backward_input<T>(const ConvGeometry&, const T*, const T*, T*);                    \
    template void depthwise_backward_kernel<T>(const ConvGeometry&, const T*, const T*, T*);                   \
    template void bias_add<T>(std::size_t, std::size_t, const T*, T*);                                         \
    template void bias_backward<T>(std::size_t, std::size_t, const T*, T*);

    XK_INSTANTIATE_DEPTHWISE(float)
    XK_INSTANTIATE_DEPTHWISE(double)
}
