#include "framework/engine/kernels/depthwise_avx512.hpp"

#if defined(__AVX512F__)

#include "framework/engine/kernels/conv_detail.hpp"
#include "framework/engine/parallel.hpp"

// GCC 12 reports its own intrinsics' undefined-vector placeholders as maybe-uninitialized at -O3.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <vector>

namespace xk::kernels::detail
{
    namespace
    {
        // Channels are processed in blocks of up to 8 vectors (128 channels): 8 accumulators per pixel keep
        // both FMA pipes busy, and the last vector of a block is masked when C is not a multiple of 16.
        constexpr std::size_t lanes = 16;
        constexpr std::size_t max_block_vectors = 8;
        constexpr std::size_t row_grain = 4;

        /// One tap row that an output row reads (or an input row receives from): the row's data and the flat
        /// index (td * kh + th) * kw of its first tap.
        struct TapRow
        {
            const float* data;
            std::size_t first_tap;
        };

        /// A channel block [c0, c0 + 16 * NV) whose last vector carries `tail` lanes.
        struct ChannelBlock
        {
            std::size_t c0;
            __mmask16 tail;
        };

        template <std::size_t NV>
        inline void fma_block(__m512 (&acc)[NV], const float* a, const float* b, __mmask16 tail)
        {
            for (std::size_t v = 0; v + 1 < NV; ++v)
                acc[v] = _mm512_fmadd_ps(_mm512_loadu_ps(a + v * lanes), _mm512_loadu_ps(b + v * lanes), acc[v]);
            constexpr std::size_t last = NV - 1;
            acc[last] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, a + last * lanes),
                                        _mm512_maskz_loadu_ps(tail, b + last * lanes), acc[last]);
        }

        template <std::size_t NV>
        inline void zero_block(__m512 (&acc)[NV])
        {
            for (std::size_t v = 0; v < NV; ++v)
                acc[v] = _mm512_setzero_ps();
        }

        /// dst = acc, or dst += acc.
        template <std::size_t NV>
        inline void store_block(float* dst, const __m512 (&acc)[NV], __mmask16 tail, bool accumulate)
        {
            for (std::size_t v = 0; v < NV; ++v)
            {
                const __mmask16 m = v + 1 == NV ? tail : __mmask16(0xFFFF);
                __m512 value = acc[v];
                if (accumulate)
                    value = _mm512_add_ps(value, _mm512_maskz_loadu_ps(m, dst + v * lanes));
                _mm512_mask_storeu_ps(dst + v * lanes, m, value);
            }
        }

        /// Calls body.template operator()<NV>(block) for each channel block of C channels.
        template <class Body>
        void for_channel_blocks(std::size_t C, Body&& body)
        {
            for (std::size_t c0 = 0; c0 < C; c0 += max_block_vectors * lanes)
            {
                const std::size_t left = std::min(C - c0, max_block_vectors * lanes);
                const std::size_t vectors = (left + lanes - 1) / lanes;
                const std::size_t tail_lanes = left - (vectors - 1) * lanes;
                const ChannelBlock block{c0, __mmask16(tail_lanes == lanes ? 0xFFFF : (1u << tail_lanes) - 1)};
                switch (vectors)
                {
                case 1: body.template operator()<1>(block); break;
                case 2: body.template operator()<2>(block); break;
                case 3: body.template operator()<3>(block); break;
                case 4: body.template operator()<4>(block); break;
                case 5: body.template operator()<5>(block); break;
                case 6: body.template operator()<6>(block); break;
                case 7: body.template operator()<7>(block); break;
                default: body.template operator()<8>(block); break;
                }
            }
        }

        /// Along W: the input column that output column ow reads at tap tw, or -1 in the padding
        /// (table[ow * kw + tw]).
        std::vector<long> input_columns(const ConvGeometry& g)
        {
            const std::size_t kw = g.kernel[2];
            std::vector<long> table(g.out[2] * kw);
            for (std::size_t ow = 0; ow < g.out[2]; ++ow)
                for (std::size_t tw = 0; tw < kw; ++tw)
                    table[ow * kw + tw] = source(g, 2, ow, tw);
            return table;
        }

        /// The adjoint table: the output column that receives input column iw through tap tw, or -1
        /// (table[iw * kw + tw]); with strides, only the taps landing on a sample count.
        std::vector<long> output_columns(const ConvGeometry& g)
        {
            const std::size_t kw = g.kernel[2];
            std::vector<long> table(g.in[2] * kw, -1);
            for (std::size_t ow = 0; ow < g.out[2]; ++ow)
                for (std::size_t tw = 0; tw < kw; ++tw)
                {
                    const long iw = source(g, 2, ow, tw);
                    if (iw >= 0)
                        table[std::size_t(iw) * kw + tw] = long(ow);
                }
            return table;
        }

        /// The output position along `axis` that input position i reaches through tap t, or -1.
        long output_of(const ConvGeometry& g, int axis, std::size_t i, std::size_t t)
        {
            const long shifted = long(i) + g.pad_before[axis] - long(t * g.dilation[axis]);
            const long stride = long(g.stride[axis]);
            if (shifted < 0 || shifted % stride != 0 || shifted / stride >= long(g.out[axis]))
                return -1;
            return shifted / stride;
        }
    }

    namespace
    {
        /// out[p] (+)= sum over the tap rows and taps tw with columns[p * kw + tw] >= 0 of
        /// row[columns[p * kw + tw]] * w[row's first tap + tw], channel by channel, for the `width` pixels of one
        /// row: the forward pass (out = y) and the gathered backward to the input (out += dx) alike.
        void sum_taps_into_row(const std::vector<TapRow>& tap_rows, const long* columns, std::size_t kw,
                               std::size_t width, std::size_t C, const float* w, float* out, bool accumulate)
        {
            for_channel_blocks(C, [&]<std::size_t NV>(ChannelBlock block) {
                for (std::size_t p = 0; p < width; ++p)
                {
                    __m512 acc[NV];
                    zero_block(acc);
                    const long* cols = columns + p * kw;
                    for (const TapRow& row : tap_rows)
                        for (std::size_t tw = 0; tw < kw; ++tw)
                            if (cols[tw] >= 0)
                                fma_block(acc, row.data + std::size_t(cols[tw]) * C + block.c0,
                                          w + (row.first_tap + tw) * C + block.c0, block.tail);
                    store_block(out + p * C + block.c0, acc, block.tail, accumulate);
                }
            });
        }
    }

    bool avx512_depthwise_applies(const ConvGeometry& g) { return g.out_channels == g.in_channels; }

    void depthwise_forward_avx512(const ConvGeometry& g, const float* x, const float* w, float* y)
    {
        const std::size_t C = g.in_channels, kw = g.kernel[2], in_w = g.in[2], out_w = g.out[2];
        const std::vector<long> columns = input_columns(g);
        parallel_for(g.batch * g.out[0] * g.out[1], row_grain, [&](std::size_t r0, std::size_t r1) {
            std::vector<TapRow> tap_rows;
            for (std::size_t r = r0; r < r1; ++r)
            {
                const std::size_t n = r / (g.out[0] * g.out[1]), od = (r / g.out[1]) % g.out[0], oh = r % g.out[1];
                tap_rows.clear();
                for (std::size_t td = 0; td < g.kernel[0]; ++td)
                    if (const long id = source(g, 0, od, td); id >= 0)
                        for (std::size_t th = 0; th < g.kernel[1]; ++th)
                            if (const long ih = source(g, 1, oh, th); ih >= 0)
                                tap_rows.push_back({x + ((n * g.in[0] + std::size_t(id)) * g.in[1] + std::size_t(ih)) * in_w * C,
                                                    (td * g.kernel[1] + th) * kw});
                sum_taps_into_row(tap_rows, columns.data(), kw, out_w, C, w, y + r * out_w * C, false);
            }
        });
    }

    void depthwise_backward_input_avx512(const ConvGeometry& g, const float* dy, const float* w, float* dx)
    {
        const std::size_t C = g.in_channels, kw = g.kernel[2], in_w = g.in[2], out_w = g.out[2];
        const std::vector<long> columns = output_columns(g);
        // Gathered per input row (each dx row has one writer), so input rows run in parallel.
        parallel_for(g.batch * g.in[0] * g.in[1], row_grain, [&](std::size_t r0, std::size_t r1) {
            std::vector<TapRow> tap_rows;
            for (std::size_t r = r0; r < r1; ++r)
            {
                const std::size_t n = r / (g.in[0] * g.in[1]), id = (r / g.in[1]) % g.in[0], ih = r % g.in[1];
                tap_rows.clear();
                for (std::size_t td = 0; td < g.kernel[0]; ++td)
                    if (const long od = output_of(g, 0, id, td); od >= 0)
                        for (std::size_t th = 0; th < g.kernel[1]; ++th)
                            if (const long oh = output_of(g, 1, ih, th); oh >= 0)
                                tap_rows.push_back({dy + ((n * g.out[0] + std::size_t(od)) * g.out[1] + std::size_t(oh)) * out_w * C,
                                                    (td * g.kernel[1] + th) * kw});
                if (tap_rows.empty())
                    continue;
                sum_taps_into_row(tap_rows, columns.data(), kw, in_w, C, w, dx + r * in_w * C, true);
            }
        });
    }

    void depthwise_backward_kernel_avx512(const ConvGeometry& g, const float* x, const float* dy, float* dw)
    {
        const std::size_t C = g.in_channels, kw = g.kernel[2], in_w = g.in[2], out_w = g.out[2];
        const std::size_t rows = g.batch * g.out[0] * g.out[1], wsize = g.taps() * C;
        const std::vector<long> columns = input_columns(g);
        // Private kernel sums per partition of the output rows, added in partition order at the end.
        const std::size_t parts = std::min(rows, reduction_partitions);
        std::vector<std::vector<float>> partials(parts, std::vector<float>(wsize, 0.0f));
        for_partitions(rows, parts, [&](std::size_t part, std::size_t r0, std::size_t r1) {
            float* sums = partials[part].data();
            for (std::size_t r = r0; r < r1; ++r)
            {
                const std::size_t n = r / (g.out[0] * g.out[1]), od = (r / g.out[1]) % g.out[0], oh = r % g.out[1];
                const float* gy = dy + r * out_w * C;
                for (std::size_t td = 0; td < g.kernel[0]; ++td)
                {
                    const long id = source(g, 0, od, td);
                    if (id < 0)
                        continue;
                    for (std::size_t th = 0; th < g.kernel[1]; ++th)
                    {
                        const long ih = source(g, 1, oh, th);
                        if (ih < 0)
                            continue;
                        const float* in = x + ((n * g.in[0] + std::size_t(id)) * g.in[1] + std::size_t(ih)) * in_w * C;
                        const std::size_t first_tap = (td * g.kernel[1] + th) * kw;
                        // One tap's gradient over the whole row stays in registers: no store per pixel.
                        for (std::size_t tw = 0; tw < kw; ++tw)
                            for_channel_blocks(C, [&]<std::size_t NV>(ChannelBlock block) {
                                __m512 acc[NV];
                                zero_block(acc);
                                for (std::size_t ow = 0; ow < out_w; ++ow)
                                    if (const long iw = columns[ow * kw + tw]; iw >= 0)
                                        fma_block(acc, in + std::size_t(iw) * C + block.c0, gy + ow * C + block.c0,
                                                  block.tail);
                                store_block(sums + (first_tap + tw) * C + block.c0, acc, block.tail, true);
                            });
                    }
                }
            }
        });
        sum_partials(partials, dw, wsize);
    }
}

#else

namespace xk::kernels::detail
{
    bool avx512_depthwise_applies(const ConvGeometry&) { return false; }
    void depthwise_forward_avx512(const ConvGeometry&, const float*, const float*, float*) {}
    void depthwise_backward_input_avx512(const ConvGeometry&, const float*, const float*, float*) {}
    void depthwise_backward_kernel_avx512(const ConvGeometry&, const float*, const float*, float*) {}
}

#endif
