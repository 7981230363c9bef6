#include "framework/engine/kernels/conv_wgrad_avx512.hpp"

#if defined(__AVX512F__)

#include "framework/engine/kernels/conv_detail.hpp"
#include "framework/engine/parallel.hpp"

// GCC 12 reports its own intrinsics' undefined-vector placeholders as maybe-uninitialized at -O3.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>
#include <vector>

// dW[(t, c), o] = sum over output pixels p of x[src(p, t), c] * dy[p, o].
//
// The reduction runs over the pixels, so each partition of the work accumulates into a private dW (its
// workspace), and the workspaces are summed at the end in a fixed order. Work items are slabs of one image (a range along the outermost axis with more than one output
// position); each slab's input region is first copied into a zero-padded buffer, after which every tap of every
// output pixel is in bounds and sits at a constant offset from the pixel's own position: the micro-kernel reads
// x through one pointer per pixel plus per-tap constants, with no im2col matrix and no padding tests.
//
// The register tile is transposed, dW^T: R output channels (dy[p, o] broadcast) x V vectors of 16 (tap, input
// channel) entries, which are contiguous in x's rows. Lanes past C_in read the next pixel's channels; they land
// in accumulator lanes that are never stored to dw. Below 16 input channels, where those vectors would mostly
// idle, the tile is turned around: dW rows (tap, channel), each a scalar of x, times vectors of output channels.
namespace xk::kernels::detail
{
    namespace
    {
        // 4 x 6 = 24 accumulators + 4 broadcasts + 1 loaded vector fit the 32 zmm registers; per pixel the tile
        // loads 1 pointer, 6 vectors and 4 scalars for 24 FMAs, inside Zen 5's 2 vector loads per cycle.
        constexpr std::size_t TILE_R = 4;
        constexpr std::size_t TILE_V = 6;
        // The dy rows of a chunk (and the x rows its taps read, about as many bytes) stay in L1 while the tiles
        // sweep them; more than 128 pixels measured no faster.
        std::size_t chunk_pixels(std::size_t cout)
        {
            return std::clamp<std::size_t>(32768 / (cout * sizeof(float)), 32, 128);
        }
        // Padded slab buffer target (floats): stays in L2 beside the private dW.
        constexpr std::size_t SLAB_FLOATS = std::size_t(1) << 16;

        /// acc[i][v] (+)= sum over pixels p of dy[p, i] * the 16 floats at x + pix[p] + offsets[v], for the R x V
        /// tile stored at acc_out (rows acc_stride apart).
        template <std::size_t R, std::size_t V>
        void wgrad_tile(std::size_t pixels, const std::size_t* pix, const float* x, const std::size_t* offsets,
                        const float* dy, std::size_t cout, float* acc_out, std::size_t acc_stride)
        {
            // The pragmas unroll before GCC decides where the arrays live, so the accumulators stay in registers.
            __m512 acc[R][V];
#pragma GCC unroll 8
            for (std::size_t i = 0; i < R; ++i)
#pragma GCC unroll 8
                for (std::size_t v = 0; v < V; ++v)
                    acc[i][v] = _mm512_loadu_ps(acc_out + i * acc_stride + 16 * v);
            std::size_t off[V];
#pragma GCC unroll 8
            for (std::size_t v = 0; v < V; ++v)
                off[v] = offsets[v];
            for (std::size_t p = 0; p < pixels; ++p, dy += cout)
            {
                const float* base = x + pix[p];
                __m512 b[R];
#pragma GCC unroll 8
                for (std::size_t i = 0; i < R; ++i)
                    b[i] = _mm512_set1_ps(dy[i]);
#pragma GCC unroll 8
                for (std::size_t v = 0; v < V; ++v)
                {
                    const __m512 xv = _mm512_loadu_ps(base + off[v]);
#pragma GCC unroll 8
                    for (std::size_t i = 0; i < R; ++i)
                        acc[i][v] = _mm512_fmadd_ps(b[i], xv, acc[i][v]);
                }
            }
#pragma GCC unroll 8
            for (std::size_t i = 0; i < R; ++i)
#pragma GCC unroll 8
                for (std::size_t v = 0; v < V; ++v)
                    _mm512_storeu_ps(acc_out + i * acc_stride + 16 * v, acc[i][v]);
        }

        using TileFn = void (*)(std::size_t, const std::size_t*, const float*, const std::size_t*, const float*,
                                std::size_t, float*, std::size_t);

        template <std::size_t R, std::size_t... V>
        constexpr std::array<TileFn, sizeof...(V)> tiles_of_rows(std::index_sequence<V...>)
        {
            return {&wgrad_tile<R, V + 1>...};
        }

        /// tile_table[r - 1][v - 1] is the kernel of an r x v tile, for the edges of dW^T.
        template <std::size_t... R>
        constexpr std::array<std::array<TileFn, TILE_V>, sizeof...(R)> tile_table_of(std::index_sequence<R...>)
        {
            return {tiles_of_rows<R + 1>(std::make_index_sequence<TILE_V>{})...};
        }
        constexpr auto tile_table = tile_table_of(std::make_index_sequence<TILE_R>{});

        // Below this many input channels a (tap, channel) vector would mostly idle: the tile is turned around, dW
        // rows (tap, channel) broadcast from x times vectors of 16 output channels of dy.
        constexpr std::size_t ROWS_LAYOUT_BELOW = 16;

        /// acc[i][v] (+)= sum over pixels p of x[pix[p] + rows[i]] * dy[p, 16 v : 16 v + 16] under masks[v], for the
        /// MR x NV tile of dW rows stored at acc_out (rows acc_stride apart).
        template <std::size_t MR, std::size_t NV>
        void wgrad_rows_tile(std::size_t pixels, const std::size_t* pix, const float* x, const std::size_t* rows,
                             const float* dy, std::size_t cout, const __mmask16* masks, float* acc_out,
                             std::size_t acc_stride)
        {
            __m512 acc[MR][NV];
#pragma GCC unroll 24
            for (std::size_t i = 0; i < MR; ++i)
#pragma GCC unroll 4
                for (std::size_t v = 0; v < NV; ++v)
                    acc[i][v] = _mm512_loadu_ps(acc_out + i * acc_stride + 16 * v);
            __mmask16 m[NV];
#pragma GCC unroll 4
            for (std::size_t v = 0; v < NV; ++v)
                m[v] = masks[v];
            for (std::size_t p = 0; p < pixels; ++p, dy += cout)
            {
                const float* base = x + pix[p];
                __m512 b[NV];
#pragma GCC unroll 4
                for (std::size_t v = 0; v < NV; ++v)
                    b[v] = _mm512_maskz_loadu_ps(m[v], dy + 16 * v);
#pragma GCC unroll 24
                for (std::size_t i = 0; i < MR; ++i)
                {
                    const __m512 a = _mm512_set1_ps(base[rows[i]]);
#pragma GCC unroll 4
                    for (std::size_t v = 0; v < NV; ++v)
                        acc[i][v] = _mm512_fmadd_ps(a, b[v], acc[i][v]);
                }
            }
#pragma GCC unroll 24
            for (std::size_t i = 0; i < MR; ++i)
#pragma GCC unroll 4
                for (std::size_t v = 0; v < NV; ++v)
                    _mm512_storeu_ps(acc_out + i * acc_stride + 16 * v, acc[i][v]);
        }

        using RowsTileFn = void (*)(std::size_t, const std::size_t*, const float*, const std::size_t*, const float*,
                                    std::size_t, const __mmask16*, float*, std::size_t);
        /// rows_tiles[nv - 1] takes 24 / nv dW rows (24 accumulators) by nv vectors of output channels.
        constexpr std::array<RowsTileFn, 4> rows_tiles{&wgrad_rows_tile<24, 1>, &wgrad_rows_tile<12, 2>,
                                                       &wgrad_rows_tile<8, 3>, &wgrad_rows_tile<6, 4>};

        // Workspaces of one call together stay under 64 MB unless that leaves fewer than two.
        constexpr std::size_t workspace_budget_floats = (std::size_t(64) << 20) / sizeof(float);

        /// A private dW accumulator with the scratch of the partition that owns it.
        struct Workspace
        {
            std::vector<float> partial;
            std::vector<float> buffer;
            std::vector<std::size_t> pix;
        };

        /// Input positions read along one axis by `outputs` consecutive output positions.
        std::size_t span(const ConvGeometry& g, int a, std::size_t outputs)
        {
            return (outputs - 1) * g.stride[a] + (g.kernel[a] - 1) * g.dilation[a] + 1;
        }
    }

    namespace
    {
        /// Slabs split the outermost axis with more than one output position.
        int slab_axis(const ConvGeometry& g)
        {
            int axis = 0;
            while (axis < 2 && g.out[axis] == 1)
                ++axis;
            return axis;
        }

        /// Floats of the padded copy that the thinnest slab (one output position along the slab axis, every
        /// position along the others) reads; in double, so absurd dilations cannot wrap around.
        double thinnest_slab_floats(const ConvGeometry& g)
        {
            const int axis = slab_axis(g);
            double floats = double(g.in_channels);
            for (int a = 0; a < 3; ++a)
            {
                const double outputs = a == axis ? 1.0 : double(g.out[a]);
                floats *= (outputs - 1) * double(g.stride[a]) + double(g.kernel[a] - 1) * double(g.dilation[a]) + 1;
            }
            return floats;
        }

        // Beyond this a slab's padded copy is mostly padding (huge dilations on a small image, found by
        // fuzz_layer: gigabytes for a few pixels); im2col + GEMM then costs memory in proportion to the work.
        constexpr double max_slab_floats = double(std::size_t(1) << 22);
    }

    bool avx512_wgrad_applies(const ConvGeometry& g)
    {
        return g.groups == 1 && thinnest_slab_floats(g) <= max_slab_floats;
    }

    void conv_backward_kernel_avx512(const ConvGeometry& g, const float* x, const float* dy, float* dw)
    {
        const std::size_t cin = g.in_channels, cout = g.out_channels, taps = g.taps();
        if (g.batch == 0 || g.out_pixels() == 0)
            return;
        const std::size_t cvecs = (cin + 15) / 16, kvecs = taps * cvecs, kpad = kvecs * 16;
        // The rows layout: dW in blocks of mr rows x nv vectors of output channels, rows padded to a multiple of mr
        // (the pad rows read offset 0 and are never stored), columns to a multiple of 16 nv.
        const bool by_rows = cin < ROWS_LAYOUT_BELOW;
        const std::size_t nv = std::min<std::size_t>(4, (cout + 15) / 16), mr = 24 / nv;
        const std::size_t k = taps * cin, krows = (k + mr - 1) / mr * mr;
        const std::size_t cpad = (cout + 16 * nv - 1) / (16 * nv) * (16 * nv);
        std::vector<__mmask16> col_masks(cpad / 16);
        for (std::size_t v = 0; v < col_masks.size(); ++v)
        {
            const std::size_t left = v * 16 < cout ? cout - v * 16 : 0;
            col_masks[v] = left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1);
        }

        // Slabs split the outermost axis with more than one output position; the inner axes stay whole, so a
        // slab's output pixels are consecutive rows of dy.
        const int axis = slab_axis(g);
        std::size_t inner_positions = 1; // padded input positions per step along the slab axis
        for (int a = axis + 1; a < 3; ++a)
            inner_positions *= span(g, a, g.out[a]);
        const std::size_t per_output = std::max<std::size_t>(1, g.stride[axis] * inner_positions * cin);
        const std::size_t slab_len = std::clamp<std::size_t>(SLAB_FLOATS / per_output, 1, g.out[axis]);
        const std::size_t slabs_per_image = (g.out[axis] + slab_len - 1) / slab_len;
        const std::size_t items = g.batch * slabs_per_image;
        const std::size_t chunk = chunk_pixels(cout);

        // Offset of each (tap, channel vector) from its pixel's position, in a padded buffer of extents `ext`.
        auto vector_offsets = [&](const std::array<std::size_t, 3>& ext) {
            std::vector<std::size_t> off(kvecs);
            std::size_t t = 0;
            for (std::size_t td = 0; td < g.kernel[0]; ++td)
                for (std::size_t th = 0; th < g.kernel[1]; ++th)
                    for (std::size_t tw = 0; tw < g.kernel[2]; ++tw, ++t)
                    {
                        const std::size_t pos = ((td * g.dilation[0]) * ext[1] + th * g.dilation[1]) * ext[2] +
                                                tw * g.dilation[2];
                        for (std::size_t cv = 0; cv < cvecs; ++cv)
                            off[t * cvecs + cv] = pos * cin + 16 * cv;
                    }
            return off;
        };
        // The rows layout's offset of each dW row (tap, channel) from its pixel's position.
        auto row_offsets = [&](const std::array<std::size_t, 3>& ext) {
            std::vector<std::size_t> off(krows, 0);
            std::size_t t = 0;
            for (std::size_t td = 0; td < g.kernel[0]; ++td)
                for (std::size_t th = 0; th < g.kernel[1]; ++th)
                    for (std::size_t tw = 0; tw < g.kernel[2]; ++tw, ++t)
                    {
                        const std::size_t pos = ((td * g.dilation[0]) * ext[1] + th * g.dilation[1]) * ext[2] +
                                                tw * g.dilation[2];
                        for (std::size_t c = 0; c < cin; ++c)
                            off[t * cin + c] = pos * cin + c;
                    }
            return off;
        };

        // The slabs are split into a fixed number of partitions, each summed in order into its own workspace (a
        // private dW^T, (cout, kvecs * 16), or in the rows layout dW, (krows, cpad)), and the workspaces are added
        // in partition order: the result does not depend on which thread ran what, so training stays
        // bit-reproducible. The count is fixed (reduction_partitions), fewer only when the workspaces would
        // outgrow their budget: a function of the geometry, never of the thread count.
        const std::size_t partial_size = by_rows ? krows * cpad : cout * kpad;
        const std::size_t affordable = std::max<std::size_t>(2, workspace_budget_floats / partial_size);
        const std::size_t parts = std::min({items, reduction_partitions, affordable});
        std::vector<Workspace> spaces(parts);
        for_partitions(items, parts, [&](std::size_t part, std::size_t i0, std::size_t i1) {
            Workspace& space = spaces[part];
            space.partial.assign(partial_size, 0.0f);
            space.pix.resize(chunk);
            float* acc = space.partial.data();
            std::vector<float>& buffer = space.buffer;
            std::vector<std::size_t>& pix = space.pix;
            for (std::size_t item = i0; item < i1; ++item)
            {
                const std::size_t n = item / slabs_per_image, slab = item % slabs_per_image;
                std::array<std::size_t, 3> lo{0, 0, 0}, count = g.out, ext{};
                lo[axis] = slab * slab_len;
                count[axis] = std::min(slab_len, g.out[axis] - lo[axis]);
                for (int a = 0; a < 3; ++a)
                    ext[a] = span(g, a, count[a]);
                // The padded copy of the input region this slab reads; +16 floats for the lanes past C_in.
                // The start is 64-byte aligned, so with C_in a multiple of 16 no vector load splits a cache line.
                buffer.resize(ext[0] * ext[1] * ext[2] * cin + 32);
                float* const padded = buffer.data() + (16 - (reinterpret_cast<std::uintptr_t>(buffer.data()) / 4) % 16) % 16;
                const float* xn = x + n * g.in_pixels() * cin;
                float* dst = padded;
                for (std::size_t e0 = 0; e0 < ext[0]; ++e0)
                {
                    const long i0a = long(lo[0] * g.stride[0] + e0) - g.pad_before[0];
                    for (std::size_t e1 = 0; e1 < ext[1]; ++e1)
                    {
                        const long i1a = long(lo[1] * g.stride[1] + e1) - g.pad_before[1];
                        const bool row_inside = i0a >= 0 && i0a < long(g.in[0]) && i1a >= 0 && i1a < long(g.in[1]);
                        const long w0 = long(lo[2] * g.stride[2]) - g.pad_before[2];
                        // Input columns [w0, w0 + ext[2]) of this row: zeros outside [0, in[2]).
                        const long first = row_inside ? std::clamp<long>(-w0, 0, long(ext[2])) : long(ext[2]);
                        const long last =
                            row_inside ? std::clamp<long>(long(g.in[2]) - w0, first, long(ext[2])) : long(ext[2]);
                        std::fill(dst, dst + first * long(cin), 0.0f);
                        if (last > first)
                        {
                            const float* src =
                                xn + ((std::size_t(i0a) * g.in[1] + std::size_t(i1a)) * g.in[2] + std::size_t(w0 + first)) *
                                         cin;
                            std::copy(src, src + (last - first) * long(cin), dst + first * long(cin));
                        }
                        std::fill(dst + last * long(cin), dst + long(ext[2]) * long(cin), 0.0f);
                        dst += ext[2] * cin;
                    }
                }
                std::fill(dst, dst + 16, 0.0f);
                const std::vector<std::size_t> offsets = by_rows ? row_offsets(ext) : vector_offsets(ext);

                // The slab's output pixels, in chunks; pixel (o0, o1, o2) of the slab sits at padded position
                // (o0 s0, o1 s1, o2 s2).
                const std::size_t slab_pixels = count[0] * count[1] * count[2];
                const std::size_t first_row = n * g.out_pixels() + ((lo[0] * g.out[1]) + lo[1]) * g.out[2] + lo[2];
                std::array<std::size_t, 3> o{0, 0, 0};
                for (std::size_t q0 = 0; q0 < slab_pixels; q0 += chunk)
                {
                    const std::size_t m = std::min(chunk, slab_pixels - q0);
                    for (std::size_t p = 0; p < m; ++p)
                    {
                        pix[p] = ((o[0] * g.stride[0] * ext[1] + o[1] * g.stride[1]) * ext[2] + o[2] * g.stride[2]) *
                                 cin;
                        if (++o[2] == count[2])
                        {
                            o[2] = 0;
                            if (++o[1] == count[1])
                            {
                                o[1] = 0;
                                ++o[0];
                            }
                        }
                    }
                    const float* dyc = dy + (first_row + q0) * cout;
                    if (by_rows)
                    {
                        for (std::size_t o0 = 0; o0 < cout; o0 += 16 * nv)
                            for (std::size_t k0 = 0; k0 < krows; k0 += mr)
                                rows_tiles[nv - 1](m, pix.data(), padded, offsets.data() + k0, dyc + o0, cout,
                                                   col_masks.data() + o0 / 16, acc + k0 * cpad + o0, cpad);
                        continue;
                    }
                    for (std::size_t kv0 = 0; kv0 < kvecs; kv0 += TILE_V)
                    {
                        const std::size_t v = std::min(TILE_V, kvecs - kv0);
                        for (std::size_t o0 = 0; o0 < cout; o0 += TILE_R)
                        {
                            const std::size_t r = std::min(TILE_R, cout - o0);
                            tile_table[r - 1][v - 1](m, pix.data(), padded, offsets.data() + kv0, dyc + o0,
                                                     cout, acc + o0 * kpad + kv0 * 16, kpad);
                        }
                    }
                }
            }
        });
        std::vector<const float*> partials;
        for (const Workspace& space : spaces)
            partials.push_back(space.partial.data());

        if (by_rows)
        {
            for (const float* part : partials)
                for (std::size_t r = 0; r < k; ++r)
                    for (std::size_t oc = 0; oc < cout; ++oc)
                        dw[r * cout + oc] += part[r * cpad + oc];
            return;
        }
        // dw[(t, c), o] += sum over parts of dW^T[o, (t, c)], transposed in 16 x 16 blocks so that both sides are
        // read and written a cache line at a time; taps in parallel.
        parallel_for(taps, 1, [&](std::size_t t0, std::size_t t1) {
            for (std::size_t t = t0; t < t1; ++t)
                for (std::size_t c0 = 0; c0 < cin; c0 += 16)
                    for (std::size_t o0 = 0; o0 < cout; o0 += 16)
                        for (const float* part : partials)
                            for (std::size_t c = c0; c < std::min(c0 + 16, cin); ++c)
                            {
                                float* out = dw + (t * cin + c) * cout;
                                const float* in = part + t * cvecs * 16 + c;
                                for (std::size_t oc = o0; oc < std::min(o0 + 16, cout); ++oc)
                                    out[oc] += in[oc * kpad];
                            }
        });
    }
}

#else

namespace xk::kernels::detail
{
    bool avx512_wgrad_applies(const ConvGeometry&) { return false; }
    void conv_backward_kernel_avx512(const ConvGeometry&, const float*, const float*, float*) {}
}

#endif
