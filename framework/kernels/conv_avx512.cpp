#include "framework/kernels/conv_avx512.hpp"

#if defined(__AVX512F__)

#include "framework/kernels/conv_detail.hpp"
#include "framework/parallel.hpp"

// GCC 12 reports its own intrinsics' undefined-vector placeholders as maybe-uninitialized at -O3.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <type_traits>
#include <vector>

namespace xk::kernels::detail
{
    using detail::source;

    namespace
    {
        // Register tiles: 14 rows x 32 channels (as in sgemm_avx512.cpp), or 28 rows x 16 channels when the
        // product has at most 16 columns, so a narrow output (C_in = 16 in the backward pass) wastes no lanes.
        // Either way 28 zmm accumulators.
        constexpr std::size_t MAX_MR = 28;
        // Output-row tiles per parallel task: enough work to amortise a task, small enough to balance 2 cores.
        constexpr std::size_t TILES_PER_TASK = 4;

        /// Packs the k x n matrix element(p, j) into `width`-column panels, row by row, zero past column n.
        template <class Element>
        std::vector<float> pack_panels(std::size_t k, std::size_t n, std::size_t width, Element element)
        {
            const std::size_t panels = (n + width - 1) / width;
            std::vector<float> out(panels * k * width + 16);
            for (std::size_t jp = 0; jp < panels; ++jp)
                for (std::size_t p = 0; p < k; ++p)
                    for (std::size_t j = 0; j < width; ++j)
                    {
                        const std::size_t col = jp * width + j;
                        out[(jp * k + p) * width + j] = col < n ? element(p, col) : 0.0f;
                    }
            return out;
        }

        __mmask16 lane_mask(std::size_t cols, std::size_t v)
        {
            const std::size_t first = v * 16;
            if (cols <= first)
                return 0;
            return cols - first >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (cols - first)) - 1);
        }

        /// out[i][0:cols] (+)= sum over taps t and depth c of ptrs[t][i][c] * B[(t, c), 0:cols] for R rows of
        /// V vectors; rows with out[i] == nullptr are not stored (their pointers lead to a zero row).
        template <std::size_t R, std::size_t V>
        void gather_tile(std::size_t taps, std::size_t depth, const float* const* ptrs, const float* __restrict bp,
                         float* const* outs, std::size_t col0, std::size_t cols, bool accumulate)
        {
            __m512 acc[R][V];
#pragma GCC unroll 28
            for (std::size_t i = 0; i < R; ++i)
                for (std::size_t v = 0; v < V; ++v)
                    acc[i][v] = _mm512_setzero_ps();
            for (std::size_t t = 0; t < taps; ++t)
            {
                const float* const* r = ptrs + t * R;
                for (std::size_t c = 0; c < depth; ++c)
                {
                    __m512 b[V];
                    for (std::size_t v = 0; v < V; ++v)
                        b[v] = _mm512_loadu_ps(bp + 16 * v);
                    bp += 16 * V;
#pragma GCC unroll 28
                    for (std::size_t i = 0; i < R; ++i)
                    {
                        const __m512 av = _mm512_set1_ps(r[i][c]);
                        for (std::size_t v = 0; v < V; ++v)
                            acc[i][v] = _mm512_fmadd_ps(av, b[v], acc[i][v]);
                    }
                }
            }
            __mmask16 masks[V];
            for (std::size_t v = 0; v < V; ++v)
                masks[v] = lane_mask(cols, v);
#pragma GCC unroll 28
            for (std::size_t i = 0; i < R; ++i)
            {
                if (!outs[i])
                    continue;
                float* row = outs[i] + col0;
                for (std::size_t v = 0; v < V; ++v)
                {
                    __m512 r0 = acc[i][v];
                    if (accumulate)
                        r0 = _mm512_add_ps(r0, _mm512_maskz_loadu_ps(masks[v], row + 16 * v));
                    _mm512_mask_storeu_ps(row + 16 * v, masks[v], r0);
                }
            }
        }

        /// Runs `rows` output rows in tiles over the product with B = element(p, j) (k = taps * depth rows,
        /// n columns), in parallel; locate(row0, count, tile_rows, ptrs, outs) fills a tile's pointer table
        /// (ptrs[t * tile_rows + i]) and its output rows.
        template <class Element, class Locate>
        void run_tiles(std::size_t rows, std::size_t taps, std::size_t depth, std::size_t n, Element element,
                       bool accumulate, const Locate& locate)
        {
            const bool narrow = n <= 16;
            const std::size_t mr = narrow ? 28 : 14, width = narrow ? 16 : 32;
            const std::size_t k = taps * depth;
            const std::vector<float> bpack = pack_panels(k, n, width, element);
            const std::size_t tiles = (rows + mr - 1) / mr;
            parallel_for(tiles, TILES_PER_TASK, [&](std::size_t t0, std::size_t t1) {
                std::vector<const float*> ptrs(taps * mr);
                std::array<float*, MAX_MR> outs{};
                for (std::size_t tile = t0; tile < t1; ++tile)
                {
                    const std::size_t row0 = tile * mr, count = std::min(mr, rows - row0);
                    locate(row0, count, mr, ptrs.data(), outs.data());
                    for (std::size_t j0 = 0; j0 < n; j0 += width)
                    {
                        const float* bp = bpack.data() + j0 * k;
                        const std::size_t cols = std::min(width, n - j0);
                        if (narrow)
                            gather_tile<28, 1>(taps, depth, ptrs.data(), bp, outs.data(), j0, cols, accumulate);
                        else
                            gather_tile<14, 2>(taps, depth, ptrs.data(), bp, outs.data(), j0, cols, accumulate);
                    }
                }
            });
        }

        std::size_t flat(const ConvGeometry& g, const std::array<std::size_t, 3>& ext, std::size_t n,
                         const std::array<long, 3>& pos)
        {
            return ((n * ext[0] + std::size_t(pos[0])) * ext[1] + std::size_t(pos[1])) * ext[2] + std::size_t(pos[2]);
        }
    }

    bool avx512_conv_applies(const ConvGeometry& g) { return g.groups == 1; }

    void conv_forward_avx512(const ConvGeometry& g, const float* x, const float* w, float* y)
    {
        const std::size_t taps = g.taps(), cin = g.in_channels, cout = g.out_channels;
        const std::vector<float> zero(cin + 16, 0.0f);
        const std::size_t rows = g.batch * g.out_pixels();
        // The pointer table costs as much as the arithmetic when a tile's depth (taps x C_in) is small (27 x 16
        // in conv3d_volume), so each axis's (output position, tap) -> input offset, in pixels, or -1 in the
        // padding, is computed once here, and a tile's rows advance their coordinates without dividing.
        std::array<std::vector<long>, 3> offset;
        for (int a = 0; a < 3; ++a)
        {
            const long scale = a == 0 ? long(g.in[1] * g.in[2]) : a == 1 ? long(g.in[2]) : 1;
            offset[a].resize(g.out[a] * g.kernel[a]);
            for (std::size_t o = 0; o < g.out[a]; ++o)
                for (std::size_t t = 0; t < g.kernel[a]; ++t)
                {
                    const long i = source(g, a, o, t);
                    offset[a][o * g.kernel[a] + t] = i < 0 ? -1 : i * scale;
                }
        }
        // w read row-major is the (taps * cin) x cout matrix of the product.
        run_tiles(rows, taps, cin, cout, [&](std::size_t p, std::size_t j) { return w[p * cout + j]; }, false,
                  [&](std::size_t row0, std::size_t count, std::size_t mr, const float** ptrs, float** outs) {
                      std::size_t idx = row0;
                      std::array<std::size_t, 3> o{};
                      o[2] = idx % g.out[2];
                      idx /= g.out[2];
                      o[1] = idx % g.out[1];
                      idx /= g.out[1];
                      o[0] = idx % g.out[0];
                      std::size_t n = idx / g.out[0];
                      for (std::size_t i = 0; i < mr; ++i)
                      {
                          if (i >= count)
                          {
                              outs[i] = nullptr;
                              for (std::size_t t = 0; t < taps; ++t)
                                  ptrs[t * mr + i] = zero.data();
                              continue;
                          }
                          outs[i] = y + (row0 + i) * cout;
                          const float* xn = x + n * g.in_pixels() * cin;
                          const long* od = offset[0].data() + o[0] * g.kernel[0];
                          const long* oh = offset[1].data() + o[1] * g.kernel[1];
                          const long* ow = offset[2].data() + o[2] * g.kernel[2];
                          const float** dst = ptrs + i;
                          for (std::size_t td = 0; td < g.kernel[0]; ++td)
                              for (std::size_t th = 0; th < g.kernel[1]; ++th)
                              {
                                  const long plane = od[td] < 0 || oh[th] < 0 ? -1 : od[td] + oh[th];
                                  for (std::size_t tw = 0; tw < g.kernel[2]; ++tw, dst += mr)
                                      *dst = plane < 0 || ow[tw] < 0 ? zero.data()
                                                                      : xn + std::size_t(plane + ow[tw]) * cin;
                              }
                          if (++o[2] == g.out[2])
                          {
                              o[2] = 0;
                              if (++o[1] == g.out[1])
                              {
                                  o[1] = 0;
                                  if (++o[0] == g.out[0])
                                  {
                                      o[0] = 0;
                                      ++n;
                                  }
                              }
                          }
                      }
                  });
    }

    void conv_backward_input_avx512(const ConvGeometry& g, const float* dy, const float* w, float* dx)
    {
        const std::size_t cin = g.in_channels, cout = g.out_channels;
        const std::vector<float> zero(cout + 16, 0.0f);
        // Input position i = o * s - pad + t * d along an axis: the taps reaching i are those with
        // (i + pad - t * d) divisible by s. Splitting dx by i mod s (the stride phase) gives each phase a fixed
        // tap subset, a dense stride-1 product over dy with no multiply by an absent sample.
        std::array<std::size_t, 3> phases{};
        for (int a = 0; a < 3; ++a)
            phases[a] = std::min(g.stride[a], g.in[a]);
        for (std::size_t p0 = 0; p0 < phases[0]; ++p0)
            for (std::size_t p1 = 0; p1 < phases[1]; ++p1)
                for (std::size_t p2 = 0; p2 < phases[2]; ++p2)
                {
                    const std::array<std::size_t, 3> phase{p0, p1, p2};
                    std::array<std::size_t, 3> count{};
                    for (int a = 0; a < 3; ++a)
                        count[a] = (g.in[a] - phase[a] + g.stride[a] - 1) / g.stride[a];
                    // Taps of this phase, and for each the offset of dy's position from the phase index j.
                    std::vector<std::size_t> tap_index;
                    std::vector<std::array<long, 3>> tap_shift;
                    std::size_t t = 0;
                    for (std::size_t td = 0; td < g.kernel[0]; ++td)
                        for (std::size_t th = 0; th < g.kernel[1]; ++th)
                            for (std::size_t tw = 0; tw < g.kernel[2]; ++tw, ++t)
                            {
                                const std::array<std::size_t, 3> tap{td, th, tw};
                                std::array<long, 3> shift{};
                                bool reaches = true;
                                for (int a = 0; a < 3; ++a)
                                {
                                    const long num = long(phase[a]) + g.pad_before[a] - long(tap[a] * g.dilation[a]);
                                    const long s = long(g.stride[a]);
                                    reaches = reaches && ((num % s) + s) % s == 0;
                                    shift[a] = num >= 0 ? num / s : -((-num) / s);
                                }
                                if (reaches)
                                {
                                    tap_index.push_back(t);
                                    tap_shift.push_back(shift);
                                }
                            }
                    const std::size_t taps = tap_index.size();
                    const std::size_t rows = g.batch * count[0] * count[1] * count[2];
                    if (taps == 0 || rows == 0)
                        continue;
                    // B[(tap, o), c] = w[tap, c, o]: the kernel flipped and transposed in its channels.
                    auto flipped = [&](std::size_t p, std::size_t c) {
                        return w[(tap_index[p / cout] * cin + c) * cout + p % cout];
                    };
                    run_tiles(rows, taps, cout, cin, flipped, true,
                              [&](std::size_t row0, std::size_t cnt, std::size_t mr, const float** ptrs, float** outs) {
                                  for (std::size_t i = 0; i < mr; ++i)
                                  {
                                      if (i >= cnt)
                                      {
                                          outs[i] = nullptr;
                                          for (std::size_t k = 0; k < taps; ++k)
                                              ptrs[k * mr + i] = zero.data();
                                          continue;
                                      }
                                      std::size_t idx = row0 + i;
                                      std::array<long, 3> j{}, pos{};
                                      j[2] = long(idx % count[2]);
                                      idx /= count[2];
                                      j[1] = long(idx % count[1]);
                                      idx /= count[1];
                                      j[0] = long(idx % count[0]);
                                      const std::size_t n = idx / count[0];
                                      for (int a = 0; a < 3; ++a)
                                          pos[a] = long(phase[a]) + long(g.stride[a]) * j[a];
                                      outs[i] = dx + flat(g, g.in, n, pos) * cin;
                                      for (std::size_t k = 0; k < taps; ++k)
                                      {
                                          std::array<long, 3> o{};
                                          bool inside = true;
                                          for (int a = 0; a < 3; ++a)
                                          {
                                              o[a] = j[a] + tap_shift[k][a];
                                              inside = inside && o[a] >= 0 && o[a] < long(g.out[a]);
                                          }
                                          ptrs[k * mr + i] = inside ? dy + flat(g, g.out, n, o) * cout : zero.data();
                                      }
                                  }
                              });
                }
    }

    // ---- Small input-channel counts (C_in <= 4): the forward pass vectorises along the output channels. ----
    namespace
    {
        constexpr std::size_t SMALL_CIN = 4;
        constexpr std::size_t MAX_VECTORS = 8; // C_out <= 128

        __mmask16 tail_mask(std::size_t channels, std::size_t v)
        {
            const std::size_t left = channels - v * 16;
            return left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1);
        }

        /// Calls body(n, o, taps_src) for every output pixel of images [n0, n1): taps_src[t] is the input
        /// pixel index (within image n) read by tap t, or -1 in the padding. The table is the same for every
        /// image, so it is built once per call and the per-pixel work is the arithmetic alone.
        template <class Body>
        void for_output_pixels(const ConvGeometry& g, std::size_t n0, std::size_t n1, Body body)
        {
            const std::size_t taps = g.taps(), pixels = g.out_pixels();
            std::vector<long> table(pixels * taps);
            for (std::size_t od = 0, o = 0; od < g.out[0]; ++od)
                for (std::size_t oh = 0; oh < g.out[1]; ++oh)
                    for (std::size_t ow = 0; ow < g.out[2]; ++ow, ++o)
                    {
                        long* src = table.data() + o * taps;
                        std::size_t t = 0;
                        for (std::size_t td = 0; td < g.kernel[0]; ++td)
                        {
                            const long id = source(g, 0, od, td);
                            for (std::size_t th = 0; th < g.kernel[1]; ++th)
                            {
                                const long ih = id < 0 ? -1 : source(g, 1, oh, th);
                                for (std::size_t tw = 0; tw < g.kernel[2]; ++tw, ++t)
                                {
                                    const long iw = ih < 0 ? -1 : source(g, 2, ow, tw);
                                    src[t] = iw < 0 ? -1 : (id * long(g.in[1]) + ih) * long(g.in[2]) + iw;
                                }
                            }
                        }
                    }
            for (std::size_t n = n0; n < n1; ++n)
                for (std::size_t o = 0; o < pixels; ++o)
                    body(n, o, table.data() + o * taps);
        }

        /// Images per task: at least one, and enough tasks for both cores.
        std::size_t image_grain(const ConvGeometry& g) { return std::max<std::size_t>(1, g.batch / 16); }
    }

    bool avx512_small_channel_conv_applies(const ConvGeometry& g)
    {
        return g.groups == 1 && g.in_channels <= SMALL_CIN && g.out_channels >= 8 &&
               g.out_channels <= MAX_VECTORS * 16;
    }

    namespace
    {
        /// Calls run(std::integral_constant<std::size_t, V>) with V = the number of zmm vectors of `channels`,
        /// so the per-pixel accumulators live in registers.
        template <class Run>
        void with_vector_count(std::size_t channels, Run run)
        {
            switch ((channels + 15) / 16)
            {
            case 1: return run(std::integral_constant<std::size_t, 1>{});
            case 2: return run(std::integral_constant<std::size_t, 2>{});
            case 3: return run(std::integral_constant<std::size_t, 3>{});
            case 4: return run(std::integral_constant<std::size_t, 4>{});
            case 5: return run(std::integral_constant<std::size_t, 5>{});
            case 6: return run(std::integral_constant<std::size_t, 6>{});
            case 7: return run(std::integral_constant<std::size_t, 7>{});
            default: return run(std::integral_constant<std::size_t, 8>{});
            }
        }
    }

    void conv_forward_small_channels(const ConvGeometry& g, const float* x, const float* w, float* y)
    {
        const std::size_t cin = g.in_channels, cout = g.out_channels;
        const std::size_t taps = g.taps();
        with_vector_count(cout, [&](auto vector_count) {
            constexpr std::size_t V = decltype(vector_count)::value;
            std::array<__mmask16, V> masks;
            for (std::size_t v = 0; v < V; ++v)
                masks[v] = tail_mask(cout, v);
            parallel_for(g.batch, image_grain(g), [&](std::size_t n0, std::size_t n1) {
                for_output_pixels(g, n0, n1, [&](std::size_t n, std::size_t o, const long* src) {
                    __m512 acc[V];
                    for (std::size_t v = 0; v < V; ++v)
                        acc[v] = _mm512_setzero_ps();
                    const float* xn = x + n * g.in_pixels() * cin;
                    for (std::size_t t = 0; t < taps; ++t)
                    {
                        if (src[t] < 0)
                            continue;
                        const float* xp = xn + std::size_t(src[t]) * cin;
                        for (std::size_t c = 0; c < cin; ++c)
                        {
                            const __m512 a = _mm512_set1_ps(xp[c]);
                            const float* wp = w + (t * cin + c) * cout;
                            for (std::size_t v = 0; v < V; ++v)
                                acc[v] = _mm512_fmadd_ps(a, _mm512_maskz_loadu_ps(masks[v], wp + v * 16), acc[v]);
                        }
                    }
                    float* yp = y + (n * g.out_pixels() + o) * cout;
                    for (std::size_t v = 0; v < V; ++v)
                        _mm512_mask_storeu_ps(yp + v * 16, masks[v], acc[v]);
                });
            });
        });
    }

}

#else

namespace xk::kernels::detail
{
    bool avx512_conv_applies(const ConvGeometry&) { return false; }
    bool avx512_small_channel_conv_applies(const ConvGeometry&) { return false; }
    void conv_forward_small_channels(const ConvGeometry&, const float*, const float*, float*) {}
    void conv_forward_avx512(const ConvGeometry&, const float*, const float*, float*) {}
    void conv_backward_input_avx512(const ConvGeometry&, const float*, const float*, float*) {}
}

#endif
