#include "framework/engine/kernels/conv_avx512.hpp"

#if defined(__AVX512F__)

#include "framework/engine/kernels/conv_detail.hpp"
#include "framework/engine/parallel.hpp"

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

        /// The register-tile shape for a product with n columns.
        struct TileShape
        {
            bool narrow;
            std::size_t mr, width;
            explicit TileShape(std::size_t n) : narrow(n <= 16), mr(narrow ? 28 : 14), width(narrow ? 16 : 32) {}
        };

        /// Output rows [row0, row0 + count) (count <= mr) of the product with the packed B (k = taps * depth
        /// rows, n columns); ptrs and outs are the tile's pointer table and output rows, filled by the caller.
        void compute_tile(const TileShape& shape, std::size_t taps, std::size_t depth, std::size_t n,
                          const float* bpack, const float* const* ptrs, float* const* outs, bool accumulate)
        {
            const std::size_t k = taps * depth;
            for (std::size_t j0 = 0; j0 < n; j0 += shape.width)
            {
                const float* bp = bpack + j0 * k;
                const std::size_t cols = std::min(shape.width, n - j0);
                if (shape.narrow)
                    gather_tile<28, 1>(taps, depth, ptrs, bp, outs, j0, cols, accumulate);
                else
                    gather_tile<14, 2>(taps, depth, ptrs, bp, outs, j0, cols, accumulate);
            }
        }

        /// Runs `rows` output rows in tiles over the product with B = element(p, j) (k = taps * depth rows,
        /// n columns), in parallel; locate(row0, count, tile_rows, ptrs, outs) fills a tile's pointer table
        /// (ptrs[t * tile_rows + i]) and its output rows.
        template <class Element, class Locate>
        void run_tiles(std::size_t rows, std::size_t taps, std::size_t depth, std::size_t n, Element element,
                       bool accumulate, const Locate& locate)
        {
            const TileShape shape(n);
            const std::vector<float> bpack = pack_panels(taps * depth, n, shape.width, element);
            const std::size_t tiles = (rows + shape.mr - 1) / shape.mr;
            parallel_for(tiles, TILES_PER_TASK, [&](std::size_t t0, std::size_t t1) {
                std::vector<const float*> ptrs(taps * shape.mr);
                std::array<float*, MAX_MR> outs{};
                for (std::size_t tile = t0; tile < t1; ++tile)
                {
                    const std::size_t row0 = tile * shape.mr, count = std::min(shape.mr, rows - row0);
                    locate(row0, count, shape.mr, ptrs.data(), outs.data());
                    compute_tile(shape, taps, depth, n, bpack.data(), ptrs.data(), outs.data(), accumulate);
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

    namespace
    {
        /// One stride phase of dx (the input positions congruent to `phase` modulo the stride): a dense product
        /// over dy with the taps that reach it (see conv_backward_input_avx512).
        struct StridePhase
        {
            std::array<std::size_t, 3> phase{}, count{};
            std::vector<std::size_t> tap_index;
            /// Per tap, the offset of dy's position from the phase index j along each axis.
            std::vector<std::array<long, 3>> tap_shift;
            /// Per tap, that offset as a pixel offset in dy.
            std::vector<long> tap_offset;
            std::size_t rows = 0, first_tile = 0;
            std::vector<float> bpack;
        };

        std::vector<StridePhase> stride_phases(const ConvGeometry& g)
        {
            std::vector<StridePhase> out;
            std::array<std::size_t, 3> phases{};
            for (int a = 0; a < 3; ++a)
                phases[a] = std::min(g.stride[a], g.in[a]);
            for (std::size_t p0 = 0; p0 < phases[0]; ++p0)
                for (std::size_t p1 = 0; p1 < phases[1]; ++p1)
                    for (std::size_t p2 = 0; p2 < phases[2]; ++p2)
                    {
                        StridePhase ph;
                        ph.phase = {p0, p1, p2};
                        for (int a = 0; a < 3; ++a)
                            ph.count[a] = (g.in[a] - ph.phase[a] + g.stride[a] - 1) / g.stride[a];
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
                                        const long num = long(ph.phase[a]) + g.pad_before[a] - long(tap[a] * g.dilation[a]);
                                        const long s = long(g.stride[a]);
                                        reaches = reaches && ((num % s) + s) % s == 0;
                                        shift[a] = num >= 0 ? num / s : -((-num) / s);
                                    }
                                    if (reaches)
                                    {
                                        ph.tap_index.push_back(t);
                                        ph.tap_shift.push_back(shift);
                                        ph.tap_offset.push_back((shift[0] * long(g.out[1]) + shift[1]) * long(g.out[2]) +
                                                                shift[2]);
                                    }
                                }
                        ph.rows = g.batch * ph.count[0] * ph.count[1] * ph.count[2];
                        if (!ph.tap_index.empty() && ph.rows > 0)
                            out.push_back(std::move(ph));
                    }
            return out;
        }
    }

    void conv_backward_input_avx512(const ConvGeometry& g, const float* dy, const float* w, float* dx)
    {
        const std::size_t cin = g.in_channels, cout = g.out_channels;
        const std::vector<float> zero(cout + 16, 0.0f);
        // Input position i = o * s - pad + t * d along an axis: the taps reaching i are those with
        // (i + pad - t * d) divisible by s. Splitting dx by i mod s (the stride phase) gives each phase a fixed
        // tap subset, a dense stride-1 product over dy with no multiply by an absent sample. The phases write
        // disjoint rows of dx, so their tiles share one parallel loop: a loop per phase paid a fork and a join
        // per phase (8 for a 3-D stride 2), each a wait on the slower thread.
        std::vector<StridePhase> phases = stride_phases(g);
        const TileShape shape(cin);
        std::size_t tiles = 0, max_taps = 0;
        for (auto& ph : phases)
        {
            // B[(tap, o), c] = w[tap, c, o]: the kernel flipped and transposed in its channels.
            ph.bpack = pack_panels(ph.tap_index.size() * cout, cin, shape.width, [&](std::size_t p, std::size_t c) {
                return w[(ph.tap_index[p / cout] * cin + c) * cout + p % cout];
            });
            ph.first_tile = tiles;
            tiles += (ph.rows + shape.mr - 1) / shape.mr;
            max_taps = std::max(max_taps, ph.tap_index.size());
        }
        parallel_for(tiles, TILES_PER_TASK, [&](std::size_t t0, std::size_t t1) {
            std::vector<const float*> ptrs(max_taps * shape.mr);
            std::array<float*, MAX_MR> outs{};
            for (std::size_t tile = t0; tile < t1; ++tile)
            {
                const auto next = std::upper_bound(phases.begin(), phases.end(), tile,
                                                   [](std::size_t t, const StridePhase& ph) { return t < ph.first_tile; });
                const StridePhase& ph = *(next - 1);
                const std::size_t taps = ph.tap_index.size(), mr = shape.mr;
                const std::size_t row0 = (tile - ph.first_tile) * mr, cnt = std::min(mr, ph.rows - row0);
                // Phase index j and image n of the tile's rows, stepped along W: dx's and dy's pixel indices
                // then advance by a constant, and are recomputed only when j wraps to a new line.
                std::array<long, 3> j{};
                std::size_t n = 0, dx_pixel = 0;
                long dy_pixel = 0;
                auto place = [&](std::size_t idx) {
                    j[2] = long(idx % ph.count[2]);
                    idx /= ph.count[2];
                    j[1] = long(idx % ph.count[1]);
                    idx /= ph.count[1];
                    j[0] = long(idx % ph.count[0]);
                    n = idx / ph.count[0];
                    std::array<long, 3> pos{};
                    for (int a = 0; a < 3; ++a)
                        pos[a] = long(ph.phase[a]) + long(g.stride[a]) * j[a];
                    dx_pixel = flat(g, g.in, n, pos);
                    dy_pixel = long(flat(g, g.out, n, j));
                };
                place(row0);
                for (std::size_t i = 0; i < mr; ++i)
                {
                    if (i >= cnt)
                    {
                        outs[i] = nullptr;
                        for (std::size_t k = 0; k < taps; ++k)
                            ptrs[k * mr + i] = zero.data();
                        continue;
                    }
                    if (i > 0)
                    {
                        if (std::size_t(j[2] + 1) < ph.count[2])
                        {
                            ++j[2];
                            dx_pixel += g.stride[2];
                            ++dy_pixel;
                        }
                        else
                            place(row0 + i);
                    }
                    outs[i] = dx + dx_pixel * cin;
                    // A tap reads dy at j + shift, i.e. at dy_pixel plus its precomputed offset, when inside.
                    for (std::size_t k = 0; k < taps; ++k)
                    {
                        const auto& shift = ph.tap_shift[k];
                        const bool inside = std::size_t(j[0] + shift[0]) < g.out[0] &&
                                            std::size_t(j[1] + shift[1]) < g.out[1] &&
                                            std::size_t(j[2] + shift[2]) < g.out[2];
                        ptrs[k * mr + i] = inside ? dy + std::size_t(dy_pixel + ph.tap_offset[k]) * cout : zero.data();
                    }
                }
                compute_tile(shape, taps, cout, cin, ph.bpack.data(), ptrs.data(), outs.data(), true);
            }
        });
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
