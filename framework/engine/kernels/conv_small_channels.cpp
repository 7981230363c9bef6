#include "framework/engine/kernels/conv_small_channels.hpp"

#if defined(__AVX512F__)

#include "framework/engine/kernels/conv_detail.hpp"
#include "framework/engine/parallel.hpp"

// GCC 12 reports its own intrinsics' undefined-vector placeholders (the shuffles) as uninitialized at -O3.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <type_traits>
#include <vector>

namespace xk::kernels::detail
{
    namespace
    {
        constexpr std::size_t SMALL_CIN = 4;
        constexpr std::size_t MAX_VECTORS = 8; // C_out <= 128

        __mmask16 tail_mask(std::size_t channels, std::size_t v)
        {
            const std::size_t left = channels > v * 16 ? channels - v * 16 : 0;
            return left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1);
        }

        /// Calls run(std::integral_constant<std::size_t, V>) with V = the number of zmm vectors of `channels`,
        /// so the accumulators live in registers.
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

        /// The geometry seen one output row (n, od, oh) at a time. Tap (td, th, tw), input channel c is row
        /// k = ((td * kh + th) * kw + tw) * C_in + c of the kernel matrix; the pair (td, th) is the tap row r.
        struct RowPlan
        {
            const ConvGeometry& g;
            std::size_t cin, cout, kw, tap_rows, sw, dw, win, wout, k;
            long pw;
            /// Output columns [lo[tw], hi[tw]) read an input column inside the image at tap tw.
            std::vector<std::size_t> lo, hi;
            /// Output columns whose every tap reads inside the image.
            std::size_t interior_lo = 0, interior_hi = 0;

            explicit RowPlan(const ConvGeometry& geometry)
                : g(geometry), cin(g.in_channels), cout(g.out_channels), kw(g.kernel[2]),
                  tap_rows(g.kernel[0] * g.kernel[1]), sw(g.stride[2]), dw(g.dilation[2]), win(g.in[2]),
                  wout(g.out[2]), k(g.taps() * g.in_channels), pw(g.pad_before[2]), lo(kw), hi(kw)
            {
                interior_lo = 0;
                interior_hi = wout;
                for (std::size_t tw = 0; tw < kw; ++tw)
                {
                    // iw = ow * sw + shift must lie in [0, win).
                    const long shift = long(tw * dw) - pw, s = long(sw);
                    const long first = shift >= 0 ? 0 : (-shift + s - 1) / s;
                    const long end = long(win) - shift <= 0 ? 0 : (long(win) - shift + s - 1) / s;
                    hi[tw] = std::size_t(std::clamp<long>(end, 0, long(wout)));
                    lo[tw] = std::min(std::size_t(std::clamp<long>(first, 0, long(wout))), hi[tw]);
                    interior_lo = std::max(interior_lo, lo[tw]);
                    interior_hi = std::min(interior_hi, hi[tw]);
                }
            }

            std::size_t output_rows() const { return g.batch * g.out[0] * g.out[1]; }

            /// For output row `row` (flattened n, od, oh): the image n, and for each tap row the index of the
            /// input pixel at column 0 of the input row it reads, or -1 when that row lies in the padding.
            std::size_t locate(std::size_t row, long* rows) const
            {
                const std::size_t oh = row % g.out[1], od = (row / g.out[1]) % g.out[0];
                for (std::size_t td = 0; td < g.kernel[0]; ++td)
                {
                    const long id = source(g, 0, od, td);
                    for (std::size_t th = 0; th < g.kernel[1]; ++th)
                    {
                        const long ih = id < 0 ? -1 : source(g, 1, oh, th);
                        rows[td * g.kernel[1] + th] = ih < 0 ? -1 : (id * long(g.in[1]) + ih) * long(win);
                    }
                }
                return row / (g.out[0] * g.out[1]);
            }

            /// Whether output columns [ow0, ow0 + count) read inside the image at every tap.
            bool interior(std::size_t ow0, std::size_t count) const
            {
                return ow0 >= interior_lo && ow0 + count <= interior_hi;
            }
        };

        /// The kernel matrix with each row k padded to V * 16 columns of zeros, so loads need no mask.
        std::vector<float> padded_kernel(const RowPlan& plan, const float* w, std::size_t vector_count)
        {
            const std::size_t width = vector_count * 16;
            std::vector<float> out(plan.k * width, 0.0f);
            for (std::size_t k = 0; k < plan.k; ++k)
                std::copy(w + k * plan.cout, w + (k + 1) * plan.cout, out.begin() + std::ptrdiff_t(k * width));
            return out;
        }

        /// x[input row starting at pixel `row`, column iw][c], or 0 when iw lies in the padding.
        float input_at(const RowPlan& plan, const float* xn, long row, long iw, std::size_t c)
        {
            return iw < 0 || iw >= long(plan.win) ? 0.0f : xn[std::size_t(row + iw) * plan.cin + c];
        }

        /// Output pixels per forward block: P x V accumulators plus V kernel vectors fit the 32 zmm registers.
        constexpr std::size_t forward_block_pixels(std::size_t v)
        {
            return v == 1 ? 16 : v == 2 ? 8 : v == 3 ? 5 : v == 4 ? 4 : v == 5 ? 3 : 2;
        }

        /// y at output columns [ow0, ow0 + P) of one row: each kernel vector loaded once serves P pixels.
        template <std::size_t V, std::size_t P, bool Edge>
        void forward_block(const RowPlan& plan, const float* xn, const long* rows, std::size_t ow0,
                           const float* wpad, const __mmask16* masks, float* y_row)
        {
            const std::size_t step = plan.sw * plan.cin;
            __m512 acc[P][V];
#pragma GCC unroll 16
            for (std::size_t j = 0; j < P; ++j)
#pragma GCC unroll 16
                for (std::size_t v = 0; v < V; ++v)
                    acc[j][v] = _mm512_setzero_ps();
            for (std::size_t r = 0; r < plan.tap_rows; ++r)
            {
                if (rows[r] < 0)
                    continue;
                for (std::size_t tw = 0; tw < plan.kw; ++tw)
                {
                    const float* wp = wpad + (r * plan.kw + tw) * plan.cin * V * 16;
                    const long iw0 = long(ow0 * plan.sw) - plan.pw + long(tw * plan.dw);
                    for (std::size_t c = 0; c < plan.cin; ++c, wp += V * 16)
                    {
                        __m512 wv[V];
#pragma GCC unroll 16
                        for (std::size_t v = 0; v < V; ++v)
                            wv[v] = _mm512_loadu_ps(wp + 16 * v);
                        if constexpr (Edge)
                        {
#pragma GCC unroll 16
                            for (std::size_t j = 0; j < P; ++j)
                            {
                                const __m512 a = _mm512_set1_ps(input_at(plan, xn, rows[r], iw0 + long(j * plan.sw), c));
#pragma GCC unroll 16
                                for (std::size_t v = 0; v < V; ++v)
                                    acc[j][v] = _mm512_fmadd_ps(a, wv[v], acc[j][v]);
                            }
                        }
                        else
                        {
                            const float* xp = xn + std::size_t(rows[r] + iw0) * plan.cin + c;
#pragma GCC unroll 16
                            for (std::size_t j = 0; j < P; ++j, xp += step)
                            {
                                const __m512 a = _mm512_set1_ps(*xp);
#pragma GCC unroll 16
                                for (std::size_t v = 0; v < V; ++v)
                                    acc[j][v] = _mm512_fmadd_ps(a, wv[v], acc[j][v]);
                            }
                        }
                    }
                }
            }
#pragma GCC unroll 16
            for (std::size_t j = 0; j < P; ++j)
#pragma GCC unroll 16
                for (std::size_t v = 0; v < V; ++v)
                    _mm512_mask_storeu_ps(y_row + (ow0 + j) * plan.cout + 16 * v, masks[v], acc[j][v]);
        }

        /// Pixels per kernel-gradient block: P x V upstream-gradient vectors stay in registers.
        constexpr std::size_t kernel_grad_block_pixels(std::size_t v) { return std::max<std::size_t>(1, 16 / v); }

        /// acc[k] += sum over output columns [ow0, ow0 + P) of x[tap k's source] * dy[pixel].
        template <std::size_t V, std::size_t P, bool Edge>
        void kernel_grad_block(const RowPlan& plan, const float* xn, const long* rows, std::size_t ow0,
                               const float* dy_row, const __mmask16* masks, float* acc)
        {
            const std::size_t step = plan.sw * plan.cin;
            __m512 d[P][V];
#pragma GCC unroll 16
            for (std::size_t j = 0; j < P; ++j)
#pragma GCC unroll 16
                for (std::size_t v = 0; v < V; ++v)
                    d[j][v] = _mm512_maskz_loadu_ps(masks[v], dy_row + (ow0 + j) * plan.cout + 16 * v);
            for (std::size_t r = 0; r < plan.tap_rows; ++r)
            {
                if (rows[r] < 0)
                    continue;
                for (std::size_t tw = 0; tw < plan.kw; ++tw)
                {
                    float* ap = acc + (r * plan.kw + tw) * plan.cin * V * 16;
                    const long iw0 = long(ow0 * plan.sw) - plan.pw + long(tw * plan.dw);
                    for (std::size_t c = 0; c < plan.cin; ++c, ap += V * 16)
                    {
                        __m512 s[V];
#pragma GCC unroll 16
                        for (std::size_t v = 0; v < V; ++v)
                            s[v] = _mm512_loadu_ps(ap + 16 * v);
                        if constexpr (Edge)
                        {
#pragma GCC unroll 16
                            for (std::size_t j = 0; j < P; ++j)
                            {
                                const __m512 a = _mm512_set1_ps(input_at(plan, xn, rows[r], iw0 + long(j * plan.sw), c));
#pragma GCC unroll 16
                                for (std::size_t v = 0; v < V; ++v)
                                    s[v] = _mm512_fmadd_ps(a, d[j][v], s[v]);
                            }
                        }
                        else
                        {
                            const float* xp = xn + std::size_t(rows[r] + iw0) * plan.cin + c;
#pragma GCC unroll 16
                            for (std::size_t j = 0; j < P; ++j, xp += step)
                            {
                                const __m512 a = _mm512_set1_ps(*xp);
#pragma GCC unroll 16
                                for (std::size_t v = 0; v < V; ++v)
                                    s[v] = _mm512_fmadd_ps(a, d[j][v], s[v]);
                            }
                        }
#pragma GCC unroll 16
                        for (std::size_t v = 0; v < V; ++v)
                            _mm512_storeu_ps(ap + 16 * v, s[v]);
                    }
                }
            }
        }

        /// r[i] = the sum of the 16 lanes of v[i]: a transpose-and-add tree, 15 shuffle pairs for 16 sums.
        __m512 lane_sums(const __m512* v)
        {
            __m512 a[8], b[4], c[2];
            // a[i]: 128-bit quarters 0-1 hold v[i]'s partial sums, quarters 2-3 v[i + 8]'s.
            for (int i = 0; i < 8; ++i)
                a[i] = _mm512_add_ps(_mm512_shuffle_f32x4(v[i], v[i + 8], _MM_SHUFFLE(1, 0, 1, 0)),
                                     _mm512_shuffle_f32x4(v[i], v[i + 8], _MM_SHUFFLE(3, 2, 3, 2)));
            // b[i]: quarter q holds the partial sums of v[i + {0, 8, 4, 12}[q]].
            for (int i = 0; i < 4; ++i)
                b[i] = _mm512_add_ps(_mm512_shuffle_f32x4(a[i], a[i + 4], _MM_SHUFFLE(2, 0, 2, 0)),
                                     _mm512_shuffle_f32x4(a[i], a[i + 4], _MM_SHUFFLE(3, 1, 3, 1)));
            // Within each quarter: lanes 0-1 continue b[i], lanes 2-3 b[i + 2].
            for (int i = 0; i < 2; ++i)
                c[i] = _mm512_add_ps(_mm512_shuffle_ps(b[i], b[i + 2], _MM_SHUFFLE(1, 0, 1, 0)),
                                     _mm512_shuffle_ps(b[i], b[i + 2], _MM_SHUFFLE(3, 2, 3, 2)));
            // Lane l of quarter q: the full sum of b[{0, 2, 1, 3}[l]] quarter q, i.e. of v[{0,2,1,3}[l] + {0,8,4,12}[q]].
            const __m512 sums = _mm512_add_ps(_mm512_shuffle_ps(c[0], c[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                              _mm512_shuffle_ps(c[0], c[1], _MM_SHUFFLE(3, 1, 3, 1)));
            // That lane order is its own inverse: one permutation puts v[i]'s sum in lane i.
            const __m512i order = _mm512_setr_epi32(0, 2, 1, 3, 8, 10, 9, 11, 4, 6, 5, 7, 12, 14, 13, 15);
            return _mm512_permutexvar_ps(order, sums);
        }

        /// One zmm register's worth of floats, aligned for it.
        struct alignas(64) Lanes
        {
            float lane[16] = {};
        };

        /// The input columns of one stride phase q of the W axis, iw = q + j * sw, with the taps tw that reach
        /// them: tap tw reads output column ow = shift + j (see conv_backward_input_small_channels).
        struct ColumnPhase
        {
            std::size_t first = 0, count = 0;
            std::vector<std::size_t> tap;
            std::vector<long> shift;
            /// Columns j whose every tap reads inside dy.
            std::size_t interior_lo = 0, interior_hi = 0;
        };

        std::vector<ColumnPhase> column_phases(const RowPlan& plan)
        {
            std::vector<ColumnPhase> phases;
            const long s = long(plan.sw);
            for (std::size_t q = 0; q < std::min(plan.sw, plan.win); ++q)
            {
                ColumnPhase ph;
                ph.first = q;
                ph.count = (plan.win - q + plan.sw - 1) / plan.sw;
                ph.interior_lo = 0;
                ph.interior_hi = ph.count;
                for (std::size_t tw = 0; tw < plan.kw; ++tw)
                {
                    const long num = long(q) + plan.pw - long(tw * plan.dw);
                    if (((num % s) + s) % s != 0)
                        continue;
                    const long shift = num >= 0 ? num / s : -((-num) / s);
                    ph.tap.push_back(tw);
                    ph.shift.push_back(shift);
                    // 0 <= shift + j < wout.
                    const long lo = std::clamp<long>(-shift, 0, long(ph.count));
                    const long hi = std::clamp<long>(long(plan.wout) - shift, lo, long(ph.count));
                    ph.interior_lo = std::max(ph.interior_lo, std::size_t(lo));
                    ph.interior_hi = std::min(ph.interior_hi, std::size_t(hi));
                }
                phases.push_back(std::move(ph));
            }
            return phases;
        }

        /// sums[iw_j] = sum over taps of dy[tap's output pixel] * kernel[tap, c] (lane-wise, V vectors added)
        /// for input columns j0 .. j0 + P of phase ph: each kernel vector loaded once serves P columns, and the
        /// lanes are summed later, once per input pixel rather than once per (output pixel, tap).
        template <std::size_t V, std::size_t P, bool Edge>
        void input_grad_block(const RowPlan& plan, const ColumnPhase& ph, const float* const* dy_rows,
                              std::size_t j0, std::size_t c, const float* wpad, const __mmask16* masks, Lanes* sums)
        {
            __m512 acc[P][V];
#pragma GCC unroll 16
            for (std::size_t j = 0; j < P; ++j)
#pragma GCC unroll 16
                for (std::size_t v = 0; v < V; ++v)
                    acc[j][v] = _mm512_setzero_ps();
            for (std::size_t r = 0; r < plan.tap_rows; ++r)
            {
                if (!dy_rows[r])
                    continue;
                for (std::size_t i = 0; i < ph.tap.size(); ++i)
                {
                    const float* wp = wpad + ((r * plan.kw + ph.tap[i]) * plan.cin + c) * V * 16;
                    __m512 wv[V];
#pragma GCC unroll 16
                    for (std::size_t v = 0; v < V; ++v)
                        wv[v] = _mm512_loadu_ps(wp + 16 * v);
                    const long ow0 = ph.shift[i] + long(j0);
#pragma GCC unroll 16
                    for (std::size_t j = 0; j < P; ++j)
                    {
                        const long ow = ow0 + long(j);
                        if constexpr (Edge)
                            if (ow < 0 || ow >= long(plan.wout))
                                continue;
                        const float* dp = dy_rows[r] + std::size_t(ow) * plan.cout;
#pragma GCC unroll 16
                        for (std::size_t v = 0; v < V; ++v)
                            acc[j][v] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(masks[v], dp + 16 * v), wv[v], acc[j][v]);
                    }
                }
            }
#pragma GCC unroll 16
            for (std::size_t j = 0; j < P; ++j)
            {
                __m512 total = acc[j][0];
#pragma GCC unroll 16
                for (std::size_t v = 1; v < V; ++v)
                    total = _mm512_add_ps(total, acc[j][v]);
                _mm512_store_ps(sums[ph.first + (j0 + j) * plan.sw].lane, total);
            }
        }

        std::array<__mmask16, MAX_VECTORS> channel_masks(std::size_t channels)
        {
            std::array<__mmask16, MAX_VECTORS> masks{};
            for (std::size_t v = 0; v < MAX_VECTORS; ++v)
                masks[v] = tail_mask(channels, v);
            return masks;
        }
    }

    bool small_channel_conv_applies(const ConvGeometry& g)
    {
        return g.groups == 1 && g.in_channels >= 1 && g.in_channels <= SMALL_CIN && g.out_channels >= 8 &&
               g.out_channels <= MAX_VECTORS * 16;
    }

    void conv_forward_small_channels(const ConvGeometry& g, const float* x, const float* w, float* y)
    {
        const RowPlan plan(g);
        const std::size_t rows_total = plan.output_rows();
        if (rows_total == 0 || plan.wout == 0)
            return;
        const auto masks = channel_masks(plan.cout);
        with_vector_count(plan.cout, [&](auto vector_count) {
            constexpr std::size_t V = decltype(vector_count)::value;
            constexpr std::size_t P = forward_block_pixels(V);
            const std::vector<float> wpad = padded_kernel(plan, w, V);
            parallel_for(rows_total, std::max<std::size_t>(1, rows_total / 64), [&](std::size_t r0, std::size_t r1) {
                std::vector<long> rows(plan.tap_rows);
                for (std::size_t row = r0; row < r1; ++row)
                {
                    const std::size_t n = plan.locate(row, rows.data());
                    const float* xn = x + n * g.in_pixels() * plan.cin;
                    float* y_row = y + row * plan.wout * plan.cout;
                    auto block = [&](std::size_t ow0) {
                        if (plan.interior(ow0, P))
                            forward_block<V, P, false>(plan, xn, rows.data(), ow0, wpad.data(), masks.data(), y_row);
                        else
                            forward_block<V, P, true>(plan, xn, rows.data(), ow0, wpad.data(), masks.data(), y_row);
                    };
                    std::size_t ow0 = 0;
                    for (; ow0 + P <= plan.wout; ow0 += P)
                        block(ow0);
                    if (ow0 == plan.wout)
                        continue;
                    if (plan.wout >= P) // the last block overlaps the one before: it rewrites the same values
                        block(plan.wout - P);
                    else
                        for (; ow0 < plan.wout; ++ow0)
                            forward_block<V, 1, true>(plan, xn, rows.data(), ow0, wpad.data(), masks.data(), y_row);
                }
            });
        });
    }

    void conv_backward_kernel_small_channels(const ConvGeometry& g, const float* x, const float* dy, float* dw)
    {
        const RowPlan plan(g);
        const std::size_t rows_total = plan.output_rows();
        if (rows_total == 0 || plan.wout == 0)
            return;
        const auto masks = channel_masks(plan.cout);
        with_vector_count(plan.cout, [&](auto vector_count) {
            constexpr std::size_t V = decltype(vector_count)::value;
            constexpr std::size_t P = kernel_grad_block_pixels(V);
            const std::size_t width = V * 16;
            // Private sums per partition of the output rows, added into dw in partition order at the end.
            const std::size_t parts = std::min(rows_total, reduction_partitions);
            std::vector<std::vector<float>> partials(parts, std::vector<float>(plan.k * width, 0.0f));
            for_partitions(rows_total, parts, [&](std::size_t part, std::size_t r0, std::size_t r1) {
                std::vector<long> rows(plan.tap_rows);
                float* acc = partials[part].data();
                for (std::size_t row = r0; row < r1; ++row)
                {
                    const std::size_t n = plan.locate(row, rows.data());
                    const float* xn = x + n * g.in_pixels() * plan.cin;
                    const float* dy_row = dy + row * plan.wout * plan.cout;
                    std::size_t ow0 = 0;
                    for (; ow0 + P <= plan.wout; ow0 += P)
                        if (plan.interior(ow0, P))
                            kernel_grad_block<V, P, false>(plan, xn, rows.data(), ow0, dy_row, masks.data(), acc);
                        else
                            kernel_grad_block<V, P, true>(plan, xn, rows.data(), ow0, dy_row, masks.data(), acc);
                    for (; ow0 < plan.wout; ++ow0)
                        kernel_grad_block<V, 1, true>(plan, xn, rows.data(), ow0, dy_row, masks.data(), acc);
                }
            });
            for (const auto& part : partials)
                for (std::size_t k = 0; k < plan.k; ++k)
                    for (std::size_t o = 0; o < plan.cout; ++o)
                        dw[k * plan.cout + o] += part[k * width + o];
        });
    }

    void conv_backward_input_small_channels(const ConvGeometry& g, const float* dy, const float* w, float* dx)
    {
        const RowPlan plan(g);
        const std::size_t in_rows = g.batch * g.in[0] * g.in[1];
        if (plan.output_rows() == 0 || plan.wout == 0 || in_rows == 0)
            return;
        const auto masks = channel_masks(plan.cout);
        const std::vector<ColumnPhase> phases = column_phases(plan);
        // dx[i, c] = sum over taps t and output channels o of dy[pixel read through t, o] * w[t, c, o]. Gathered
        // per input pixel: the products add lane-wise over every tap, and one horizontal sum per input pixel and
        // channel finishes them (16 at a time). Input rows are independent, so they run in parallel.
        with_vector_count(plan.cout, [&](auto vector_count) {
            constexpr std::size_t V = decltype(vector_count)::value;
            constexpr std::size_t P = forward_block_pixels(V);
            const std::vector<float> wpad = padded_kernel(plan, w, V);
            const std::size_t padded_win = (plan.win + 15) / 16 * 16;
            parallel_for(in_rows, std::max<std::size_t>(1, in_rows / 64), [&](std::size_t r0, std::size_t r1) {
                std::vector<const float*> dy_rows(plan.tap_rows);
                // One vector of lane-wise sums per input column; columns past win stay zero.
                std::vector<Lanes> sums(padded_win);
                for (std::size_t row = r0; row < r1; ++row)
                {
                    // The output rows (od, oh) that input row (n, id, ih) feeds, per tap row (td, th).
                    const std::size_t ih = row % g.in[1], id = (row / g.in[1]) % g.in[0], n = row / (g.in[0] * g.in[1]);
                    bool any = false;
                    for (std::size_t td = 0; td < g.kernel[0]; ++td)
                        for (std::size_t th = 0; th < g.kernel[1]; ++th)
                        {
                            const long nd = long(id) + g.pad_before[0] - long(td * g.dilation[0]);
                            const long nh = long(ih) + g.pad_before[1] - long(th * g.dilation[1]);
                            const long od = nd / long(g.stride[0]), oh = nh / long(g.stride[1]);
                            const bool reaches = nd >= 0 && nh >= 0 && nd % long(g.stride[0]) == 0 &&
                                                 nh % long(g.stride[1]) == 0 && od < long(g.out[0]) &&
                                                 oh < long(g.out[1]);
                            dy_rows[td * g.kernel[1] + th] =
                                reaches ? dy + ((n * g.out[0] + std::size_t(od)) * g.out[1] + std::size_t(oh)) *
                                                   plan.wout * plan.cout
                                        : nullptr;
                            any = any || reaches;
                        }
                    if (!any)
                        continue;
                    float* dx_row = dx + row * plan.win * plan.cin;
                    for (std::size_t c = 0; c < plan.cin; ++c)
                    {
                        for (const ColumnPhase& ph : phases)
                        {
                            std::size_t j0 = 0;
                            for (; j0 + P <= ph.count; j0 += P)
                                if (j0 >= ph.interior_lo && j0 + P <= ph.interior_hi)
                                    input_grad_block<V, P, false>(plan, ph, dy_rows.data(), j0, c, wpad.data(),
                                                                  masks.data(), sums.data());
                                else
                                    input_grad_block<V, P, true>(plan, ph, dy_rows.data(), j0, c, wpad.data(),
                                                                 masks.data(), sums.data());
                            for (; j0 < ph.count; ++j0)
                                input_grad_block<V, 1, true>(plan, ph, dy_rows.data(), j0, c, wpad.data(),
                                                             masks.data(), sums.data());
                        }
                        for (std::size_t iw0 = 0; iw0 < plan.win; iw0 += 16)
                        {
                            alignas(64) float lanes[16];
                            __m512 columns[16];
                            for (std::size_t i = 0; i < 16; ++i)
                                columns[i] = _mm512_load_ps(sums[iw0 + i].lane);
                            _mm512_store_ps(lanes, lane_sums(columns));
                            const std::size_t end = std::min<std::size_t>(16, plan.win - iw0);
                            for (std::size_t i = 0; i < end; ++i)
                                dx_row[(iw0 + i) * plan.cin + c] += lanes[i];
                        }
                    }
                }
            });
        });
    }
}

#else

namespace xk::kernels::detail
{
    bool small_channel_conv_applies(const ConvGeometry&) { return false; }
    void conv_forward_small_channels(const ConvGeometry&, const float*, const float*, float*) {}
    void conv_backward_input_small_channels(const ConvGeometry&, const float*, const float*, float*) {}
    void conv_backward_kernel_small_channels(const ConvGeometry&, const float*, const float*, float*) {}
}

#endif
