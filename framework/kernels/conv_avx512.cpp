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
        // w read row-major is the (taps * cin) x cout matrix of the product.
        run_tiles(rows, taps, cin, cout, [&](std::size_t p, std::size_t j) { return w[p * cout + j]; }, false,
                  [&](std::size_t row0, std::size_t count, std::size_t mr, const float** ptrs, float** outs) {
                      for (std::size_t i = 0; i < mr; ++i)
                      {
                          if (i >= count)
                          {
                              outs[i] = nullptr;
                              for (std::size_t t = 0; t < taps; ++t)
                                  ptrs[t * mr + i] = zero.data();
                              continue;
                          }
                          std::size_t idx = row0 + i;
                          outs[i] = y + idx * cout;
                          std::array<std::size_t, 3> o{};
                          o[2] = idx % g.out[2];
                          idx /= g.out[2];
                          o[1] = idx % g.out[1];
                          idx /= g.out[1];
                          o[0] = idx % g.out[0];
                          const std::size_t n = idx / g.out[0];
                          std::size_t t = 0;
                          for (std::size_t td = 0; td < g.kernel[0]; ++td)
                              for (std::size_t th = 0; th < g.kernel[1]; ++th)
                                  for (std::size_t tw = 0; tw < g.kernel[2]; ++tw, ++t)
                                  {
                                      const std::array<std::size_t, 3> tap{td, th, tw};
                                      std::array<long, 3> src{};
                                      bool inside = true;
                                      for (int a = 0; a < 3; ++a)
                                      {
                                          src[a] = long(o[a] * g.stride[a]) - g.pad_before[a] +
                                                   long(tap[a] * g.dilation[a]);
                                          inside = inside && src[a] >= 0 && src[a] < long(g.in[a]);
                                      }
                                      ptrs[t * mr + i] = inside ? x + flat(g, g.in, n, src) * cin : zero.data();
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

}

#else

namespace xk::kernels::detail
{
    bool avx512_conv_applies(const ConvGeometry&) { return false; }
    void conv_forward_avx512(const ConvGeometry&, const float*, const float*, float*) {}
    void conv_backward_input_avx512(const ConvGeometry&, const float*, const float*, float*) {}
}

#endif
