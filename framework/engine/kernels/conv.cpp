#include "framework/engine/kernels/conv.hpp"
#include "framework/engine/kernels/conv_avx512.hpp"
#include "framework/engine/kernels/conv_small_channels.hpp"
#include "framework/engine/kernels/conv_detail.hpp"
#include "framework/engine/kernels/conv_wgrad_avx512.hpp"
#include "framework/engine/kernels/gemm.hpp"
#include "framework/engine/parallel.hpp"

#include <algorithm>
#include <mutex>
#include <type_traits>
#include <vector>

namespace xk::kernels
{
    using detail::for_partitions;
    using detail::source;
    using detail::sum_partials;

    namespace
    {
        /// Rows of the im2col matrix built at once: enough for a good GEMM, small enough for the cache.
        std::size_t tile_rows(std::size_t k)
        {
            return std::clamp<std::size_t>((std::size_t(1) << 16) / std::max<std::size_t>(k, 1), 16, 1024);
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
        if constexpr (std::is_same_v<T, float>)
        {
            if (detail::small_channel_conv_applies(g))
                return detail::conv_forward_small_channels(g, x, w, y);
            if (detail::avx512_conv_applies(g))
                return detail::conv_forward_avx512(g, x, w, y);
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
        if constexpr (std::is_same_v<T, float>)
        {
            if (detail::small_channel_conv_applies(g))
                return detail::conv_backward_input_small_channels(g, dy, w, dx);
            if (detail::avx512_conv_applies(g))
                return detail::conv_backward_input_avx512(g, dy, w, dx);
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
        if constexpr (std::is_same_v<T, float>)
        {
            if (detail::small_channel_conv_applies(g))
                return detail::conv_backward_kernel_small_channels(g, x, dy, dw);
            if (!is_pointwise(g) && detail::avx512_wgrad_applies(g))
                return detail::conv_backward_kernel_avx512(g, x, dy, dw);
        }
        const std::size_t m = g.batch * g.out_pixels();
        const std::size_t cg = g.in_channels / g.groups, og = g.out_channels / g.groups;
        const std::size_t k = g.taps() * cg;
        const std::size_t wsize = k * g.out_channels;
        const std::size_t rows = tile_rows(k);
        const std::size_t tiles = (m + rows - 1) / rows;
        const std::size_t parts = std::min(tiles, reduction_partitions);
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

#define XK_INSTANTIATE_CONV(T)                                                                                 \
    template void conv_forward<T>(const ConvGeometry&, const T*, const T*, T*);                                \
    template void conv_backward_input<T>(const ConvGeometry&, const T*, const T*, T*);                         \
    template void conv_backward_kernel<T>(const ConvGeometry&, const T*, const T*, T*);

    XK_INSTANTIATE_CONV(float)
    XK_INSTANTIATE_CONV(double)
}
