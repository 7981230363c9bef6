#include "framework/kernels/conv.hpp"
#include "framework/kernels/gemm.hpp"
#include "framework/parallel.hpp"

#include <algorithm>
#include <mutex>
#include <vector>

namespace xk::kernels
{
    namespace
    {
        /// Rows of the im2col matrix built at once: enough for a good GEMM, small enough for the cache.
        std::size_t tile_rows(std::size_t k)
        {
            return std::clamp<std::size_t>((std::size_t(1) << 16) / std::max<std::size_t>(k, 1), 16, 1024);
        }

        /// The input index of output position o at tap t along one axis, or -1 when it falls in the padding.
        inline long source(const ConvGeometry& g, int axis, std::size_t o, std::size_t t)
        {
            long i = long(o * g.stride[axis]) - g.pad_before[axis] + long(t * g.dilation[axis]);
            return (i >= 0 && i < long(g.in[axis])) ? i : -1;
        }

        /// 1x1, stride 1, unpadded, ungrouped: x is already the im2col matrix.
        bool is_pointwise(const ConvGeometry& g)
        {
            for (int a = 0; a < 3; ++a)
                if (g.kernel[a] != 1 || g.stride[a] != 1 || g.pad_before[a] != 0 || g.in[a] != g.out[a])
                    return false;
            return g.groups == 1;
        }

        /// Fills col (rows x taps*cg) for output rows [row0, row0+rows) of the flattened (n, od, oh, ow)
        /// index, taking channels [c0, c0+cg) of x.
        template <class T>
        void im2col(const ConvGeometry& g, const T* x, std::size_t row0, std::size_t rows, std::size_t c0,
                    std::size_t cg, T* col)
        {
            const std::size_t k = g.taps() * cg;
            for (std::size_t r = 0; r < rows; ++r)
            {
                std::size_t idx = row0 + r;
                std::size_t ow = idx % g.out[2];
                idx /= g.out[2];
                std::size_t oh = idx % g.out[1];
                idx /= g.out[1];
                std::size_t od = idx % g.out[0];
                std::size_t n = idx / g.out[0];
                const T* xn = x + n * g.in_pixels() * g.in_channels;
                T* dst = col + r * k;
                for (std::size_t td = 0; td < g.kernel[0]; ++td)
                {
                    long id = source(g, 0, od, td);
                    for (std::size_t th = 0; th < g.kernel[1]; ++th)
                    {
                        long ih = id < 0 ? -1 : source(g, 1, oh, th);
                        for (std::size_t tw = 0; tw < g.kernel[2]; ++tw, dst += cg)
                        {
                            long iw = ih < 0 ? -1 : source(g, 2, ow, tw);
                            if (iw < 0)
                                std::fill(dst, dst + cg, T(0));
                            else
                            {
                                const T* src =
                                    xn + ((std::size_t(id) * g.in[1] + std::size_t(ih)) * g.in[2] + std::size_t(iw)) *
                                             g.in_channels +
                                    c0;
                                std::copy(src, src + cg, dst);
                            }
                        }
                    }
                }
            }
        }

        /// The adjoint of im2col: adds col's entries back into dx.
        template <class T>
        void col2im(const ConvGeometry& g, const T* col, std::size_t row0, std::size_t rows, std::size_t c0,
                    std::size_t cg, T* dx)
        {
            const std::size_t k = g.taps() * cg;
            for (std::size_t r = 0; r < rows; ++r)
            {
                std::size_t idx = row0 + r;
                std::size_t ow = idx % g.out[2];
                idx /= g.out[2];
                std::size_t oh = idx % g.out[1];
                idx /= g.out[1];
                std::size_t od = idx % g.out[0];
                std::size_t n = idx / g.out[0];
                T* dxn = dx + n * g.in_pixels() * g.in_channels;
                const T* src = col + r * k;
                for (std::size_t td = 0; td < g.kernel[0]; ++td)
                {
                    long id = source(g, 0, od, td);
                    for (std::size_t th = 0; th < g.kernel[1]; ++th)
                    {
                        long ih = id < 0 ? -1 : source(g, 1, oh, th);
                        for (std::size_t tw = 0; tw < g.kernel[2]; ++tw, src += cg)
                        {
                            long iw = ih < 0 ? -1 : source(g, 2, ow, tw);
                            if (iw < 0)
                                continue;
                            T* dst =
                                dxn + ((std::size_t(id) * g.in[1] + std::size_t(ih)) * g.in[2] + std::size_t(iw)) *
                                          g.in_channels +
                                c0;
                            for (std::size_t c = 0; c < cg; ++c)
                                dst[c] += src[c];
                        }
                    }
                }
            }
        }

        /// Splits [0, n) into about `parts` ranges; calls body(part, begin, end) in parallel.
        void for_partitions(std::size_t n, std::size_t parts,
                            const std::function<void(std::size_t, std::size_t, std::size_t)>& body)
        {
            parts = std::max<std::size_t>(1, std::min(parts, n));
            parallel_for(parts, 1, [&](std::size_t p0, std::size_t p1) {
                for (std::size_t p = p0; p < p1; ++p)
                    body(p, n * p / parts, n * (p + 1) / parts);
            });
        }

        /// Adds private per-partition buffers into `out` (for reductions over the batch: kernel gradients).
        template <class T>
        void sum_partials(const std::vector<std::vector<T>>& partials, T* out, std::size_t size)
        {
            for (const auto& part : partials)
                for (std::size_t i = 0; i < size; ++i)
                    out[i] += part[i];
        }
    }

    template <class T>
    void conv_forward(const ConvGeometry& g, const T* x, const T* w, T* y)
    {
        const std::size_t m = g.batch * g.out_pixels();
        const std::size_t cg = g.in_channels / g.groups, og = g.out_channels / g.groups;
        const std::size_t k = g.taps() * cg;
        if (is_pointwise(g))
        {
            parallel_for(m, 256, [&](std::size_t r0, std::size_t r1) {
                gemm<T>(false, false, r1 - r0, g.out_channels, g.in_channels, T(1), x + r0 * g.in_channels,
                        g.in_channels, w, g.out_channels, T(0), y + r0 * g.out_channels, g.out_channels);
            });
            return;
        }
        const std::size_t rows = tile_rows(k);
        const std::size_t tiles = (m + rows - 1) / rows;
        parallel_for(tiles, 1, [&](std::size_t t0, std::size_t t1) {
            std::vector<T> col(rows * k);
            for (std::size_t t = t0; t < t1; ++t)
            {
                std::size_t r0 = t * rows, n = std::min(rows, m - r0);
                for (std::size_t grp = 0; grp < g.groups; ++grp)
                {
                    im2col(g, x, r0, n, grp * cg, cg, col.data());
                    gemm<T>(false, false, n, og, k, T(1), col.data(), k, w + grp * og, g.out_channels, T(0),
                            y + r0 * g.out_channels + grp * og, g.out_channels);
                }
            }
        });
    }

    template <class T>
    void conv_backward_input(const ConvGeometry& g, const T* dy, const T* w, T* dx)
    {
        const std::size_t cg = g.in_channels / g.groups, og = g.out_channels / g.groups;
        const std::size_t k = g.taps() * cg;
        if (is_pointwise(g))
        {
            const std::size_t m = g.batch * g.out_pixels();
            parallel_for(m, 256, [&](std::size_t r0, std::size_t r1) {
                gemm<T>(false, true, r1 - r0, g.in_channels, g.out_channels, T(1), dy + r0 * g.out_channels,
                        g.out_channels, w, g.out_channels, T(1), dx + r0 * g.in_channels, g.in_channels);
            });
            return;
        }
        // Images are independent: parallel over the batch keeps the scatter-adds of col2im race-free.
        const std::size_t per_image = g.out_pixels();
        const std::size_t rows = tile_rows(k);
        parallel_for(g.batch, 1, [&](std::size_t n0, std::size_t n1) {
            std::vector<T> col(rows * k);
            for (std::size_t n = n0; n < n1; ++n)
                for (std::size_t r0 = n * per_image; r0 < (n + 1) * per_image; r0 += rows)
                {
                    std::size_t cnt = std::min(rows, (n + 1) * per_image - r0);
                    for (std::size_t grp = 0; grp < g.groups; ++grp)
                    {
                        gemm<T>(false, true, cnt, k, og, T(1), dy + r0 * g.out_channels + grp * og, g.out_channels,
                                w + grp * og, g.out_channels, T(0), col.data(), k);
                        col2im(g, col.data(), r0, cnt, grp * cg, cg, dx);
                    }
                }
        });
    }

    template <class T>
    void conv_backward_kernel(const ConvGeometry& g, const T* x, const T* dy, T* dw)
    {
        const std::size_t m = g.batch * g.out_pixels();
        const std::size_t cg = g.in_channels / g.groups, og = g.out_channels / g.groups;
        const std::size_t k = g.taps() * cg;
        const std::size_t wsize = k * g.out_channels;
        const std::size_t rows = tile_rows(k);
        const std::size_t tiles = (m + rows - 1) / rows;
        const std::size_t parts = std::min<std::size_t>(tiles, std::size_t(num_threads()));
        std::vector<std::vector<T>> partials(parts, std::vector<T>(wsize, T(0)));
        for_partitions(tiles, parts, [&](std::size_t p, std::size_t t0, std::size_t t1) {
            std::vector<T> col(is_pointwise(g) ? 0 : rows * k);
            T* acc = partials[p].data();
            for (std::size_t t = t0; t < t1; ++t)
            {
                std::size_t r0 = t * rows, n = std::min(rows, m - r0);
                if (is_pointwise(g))
                {
                    gemm<T>(true, false, k, g.out_channels, n, T(1), x + r0 * g.in_channels, g.in_channels,
                            dy + r0 * g.out_channels, g.out_channels, T(1), acc, g.out_channels);
                    continue;
                }
                for (std::size_t grp = 0; grp < g.groups; ++grp)
                {
                    im2col(g, x, r0, n, grp * cg, cg, col.data());
                    gemm<T>(true, false, k, og, n, T(1), col.data(), k, dy + r0 * g.out_channels + grp * og,
                            g.out_channels, T(1), acc + grp * og, g.out_channels);
                }
            }
        });
        sum_partials(partials, dw, wsize);
    }

    // ---- depthwise: direct loops, vectorised over channels (the contiguous axis in channels_last).

    namespace
    {
        /// Calls body(in_pixel, tap) for every tap of output pixel (od, oh, ow) that lands inside the input.
        template <class Body>
        inline void for_each_tap(const ConvGeometry& g, std::size_t od, std::size_t oh, std::size_t ow, Body body)
        {
            std::size_t tap = 0;
            for (std::size_t td = 0; td < g.kernel[0]; ++td)
            {
                long id = source(g, 0, od, td);
                for (std::size_t th = 0; th < g.kernel[1]; ++th)
                {
                    long ih = id < 0 ? -1 : source(g, 1, oh, th);
                    for (std::size_t tw = 0; tw < g.kernel[2]; ++tw, ++tap)
                    {
                        long iw = ih < 0 ? -1 : source(g, 2, ow, tw);
                        if (iw >= 0)
                            body((std::size_t(id) * g.in[1] + std::size_t(ih)) * g.in[2] + std::size_t(iw), tap);
                    }
                }
            }
        }

        /// Calls body(n, od, oh, ow, out_pixel_index) over output pixels of images [n0, n1).
        template <class Body>
        inline void for_each_output(const ConvGeometry& g, std::size_t n0, std::size_t n1, Body body)
        {
            for (std::size_t n = n0; n < n1; ++n)
                for (std::size_t od = 0, p = 0; od < g.out[0]; ++od)
                    for (std::size_t oh = 0; oh < g.out[1]; ++oh)
                        for (std::size_t ow = 0; ow < g.out[2]; ++ow, ++p)
                            body(n, od, oh, ow, p);
        }
    }

    template <class T>
    void depthwise_forward(const ConvGeometry& g, const T* x, const T* w, T* y)
    {
        const std::size_t c_in = g.in_channels, mult = g.out_channels / g.in_channels, c_out = g.out_channels;
        parallel_for(g.batch, 1, [&](std::size_t n0, std::size_t n1) {
            for_each_output(g, n0, n1, [&](std::size_t n, std::size_t od, std::size_t oh, std::size_t ow, std::size_t p) {
                T* out = y + (n * g.out_pixels() + p) * c_out;
                std::fill(out, out + c_out, T(0));
                const T* xn = x + n * g.in_pixels() * c_in;
                for_each_tap(g, od, oh, ow, [&](std::size_t ip, std::size_t tap) {
                    const T* in = xn + ip * c_in;
                    const T* wt = w + tap * c_out;
                    if (mult == 1)
                        for (std::size_t c = 0; c < c_in; ++c)
                            out[c] += in[c] * wt[c];
                    else
                        for (std::size_t c = 0; c < c_in; ++c)
                            for (std::size_t m = 0; m < mult; ++m)
                                out[c * mult + m] += in[c] * wt[c * mult + m];
                });
            });
        });
    }

    template <class T>
    void depthwise_backward_input(const ConvGeometry& g, const T* dy, const T* w, T* dx)
    {
        const std::size_t c_in = g.in_channels, mult = g.out_channels / g.in_channels, c_out = g.out_channels;
        parallel_for(g.batch, 1, [&](std::size_t n0, std::size_t n1) {
            for_each_output(g, n0, n1, [&](std::size_t n, std::size_t od, std::size_t oh, std::size_t ow, std::size_t p) {
                const T* gy = dy + (n * g.out_pixels() + p) * c_out;
                T* dxn = dx + n * g.in_pixels() * c_in;
                for_each_tap(g, od, oh, ow, [&](std::size_t ip, std::size_t tap) {
                    T* gx = dxn + ip * c_in;
                    const T* wt = w + tap * c_out;
                    if (mult == 1)
                        for (std::size_t c = 0; c < c_in; ++c)
                            gx[c] += gy[c] * wt[c];
                    else
                        for (std::size_t c = 0; c < c_in; ++c)
                            for (std::size_t m = 0; m < mult; ++m)
                                gx[c] += gy[c * mult + m] * wt[c * mult + m];
                });
            });
        });
    }

    template <class T>
    void depthwise_backward_kernel(const ConvGeometry& g, const T* x, const T* dy, T* dw)
    {
        const std::size_t c_in = g.in_channels, mult = g.out_channels / g.in_channels, c_out = g.out_channels;
        const std::size_t wsize = g.taps() * c_out;
        const std::size_t parts = std::min<std::size_t>(g.batch, std::size_t(num_threads()));
        std::vector<std::vector<T>> partials(parts, std::vector<T>(wsize, T(0)));
        for_partitions(g.batch, parts, [&](std::size_t part, std::size_t n0, std::size_t n1) {
            T* acc = partials[part].data();
            for_each_output(g, n0, n1, [&](std::size_t n, std::size_t od, std::size_t oh, std::size_t ow, std::size_t p) {
                const T* gy = dy + (n * g.out_pixels() + p) * c_out;
                const T* xn = x + n * g.in_pixels() * c_in;
                for_each_tap(g, od, oh, ow, [&](std::size_t ip, std::size_t tap) {
                    const T* in = xn + ip * c_in;
                    T* wt = acc + tap * c_out;
                    for (std::size_t c = 0; c < c_in; ++c)
                        for (std::size_t m = 0; m < mult; ++m)
                            wt[c * mult + m] += in[c] * gy[c * mult + m];
                });
            });
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
        for (std::size_t p = 0; p < pixels; ++p)
            for (std::size_t c = 0; c < channels; ++c)
                db[c] += dy[p * channels + c];
    }

#define XK_INSTANTIATE_CONV(T)                                                                                 \
    template void conv_forward<T>(const ConvGeometry&, const T*, const T*, T*);                                \
    template void conv_backward_input<T>(const ConvGeometry&, const T*, const T*, T*);                         \
    template void conv_backward_kernel<T>(const ConvGeometry&, const T*, const T*, T*);                        \
    template void depthwise_forward<T>(const ConvGeometry&, const T*, const T*, T*);                           \
    template void depthwise_backward_input<T>(const ConvGeometry&, const T*, const T*, T*);                    \
    template void depthwise_backward_kernel<T>(const ConvGeometry&, const T*, const T*, T*);                   \
    template void bias_add<T>(std::size_t, std::size_t, const T*, T*);                                         \
    template void bias_backward<T>(std::size_t, std::size_t, const T*, T*);

    XK_INSTANTIATE_CONV(float)
    XK_INSTANTIATE_CONV(double)
}
