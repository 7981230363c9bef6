#include "framework/engine/kernels/sgemm_avx512.hpp"

#if defined(__AVX512F__)

#include "framework/engine/parallel.hpp"

// GCC 12 reports its own intrinsics' undefined-vector placeholders as maybe-uninitialized at -O3.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <new>
#include <vector>

namespace xk::kernels::detail
{
    namespace
    {
        // Register tile: 14 rows x 32 columns = 28 zmm accumulators, 2 for the B row, 1 for the broadcast A.
        constexpr std::size_t MR = 14;
        constexpr std::size_t NR = 32;
        // A k-block keeps one packed B panel (KC x 32 floats, 32 KiB) plus the streaming A panel in Zen 5's
        // 48 KiB L1D; a row block of A (MC x KC, 112 KiB) sits in the 1 MiB L2 beside the packed B block.
        // A is read in place (see micro_kernel); only the panels of its last, partial MR rows are packed.
        constexpr std::size_t KC_MAX = 256;
        constexpr std::size_t MC = MR * 8;
        constexpr std::size_t NC = NR * 32;

        struct AlignedFloats
        {
            float* data = nullptr;
            std::size_t size = 0;
            ~AlignedFloats() { std::free(data); }
            float* reserve(std::size_t n)
            {
                if (n > size)
                {
                    std::free(data);
                    size = (n + 15) / 16 * 16;
                    data = static_cast<float*>(std::aligned_alloc(64, size * sizeof(float)));
                    if (!data)
                        throw std::bad_alloc();
                }
                return data;
            }
        };

        /// Packed-B buffers, one per nesting level on this thread: a thread waiting inside the parallel loop of
        /// one product may pick up a task that runs another product, which must not reuse the outer buffer.
        struct BufferStack
        {
            std::vector<std::unique_ptr<AlignedFloats>> levels;
            std::size_t depth = 0;
        };
        thread_local BufferStack packed_b_stack;
        /// Packed edge panel of A: filled and consumed inside one task, which never waits, so one per thread.
        thread_local AlignedFloats packed_a_buffer;

        struct BufferLease
        {
            AlignedFloats* buffer;
            BufferLease()
            {
                auto& s = packed_b_stack;
                if (s.levels.size() <= s.depth)
                    s.levels.push_back(std::make_unique<AlignedFloats>());
                buffer = s.levels[s.depth++].get();
            }
            ~BufferLease() { --packed_b_stack.depth; }
        };

        /// Copies an edge panel (rows < MR) of op(A), columns [p0, p0+kc), into MR-row column-major form with
        /// zero rows, so the kernel can read MR rows without running past the matrix.
        void pack_a_edge(bool ta, const float* a, std::size_t lda, std::size_t i0, std::size_t rows, std::size_t p0,
                         std::size_t kc, float* dst)
        {
            for (std::size_t p = 0; p < kc; ++p)
                for (std::size_t i = 0; i < MR; ++i)
                    dst[p * MR + i] = i >= rows ? 0.0f : ta ? a[(p0 + p) * lda + i0 + i] : a[(i0 + i) * lda + p0 + p];
        }

        /// Packs rows [p0, p0+kc) x columns [j0, j0+nc) of op(B) into NR-column panels, row by row; columns
        /// past the edge are zero.
        void pack_b(bool tb, const float* b, std::size_t ldb, std::size_t p0, std::size_t kc, std::size_t j0,
                    std::size_t nc, float* dst)
        {
            for (std::size_t jr = 0; jr < nc; jr += NR)
            {
                const std::size_t cols = std::min(NR, nc - jr);
                float* panel = dst + jr * kc;
                if (!tb)
                {
                    const __mmask16 m0 = cols >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << cols) - 1);
                    const __mmask16 m1 =
                        cols >= 32 ? __mmask16(0xFFFF) : cols > 16 ? __mmask16((1u << (cols - 16)) - 1) : __mmask16(0);
                    for (std::size_t p = 0; p < kc; ++p)
                    {
                        const float* src = b + (p0 + p) * ldb + j0 + jr;
                        _mm512_store_ps(panel + p * NR, _mm512_maskz_loadu_ps(m0, src));
                        _mm512_store_ps(panel + p * NR + 16, _mm512_maskz_loadu_ps(m1, src + 16));
                    }
                }
                else
                {
                    // op(B)(p, j) = b[j * ldb + p].
                    for (std::size_t j = 0; j < NR; ++j)
                    {
                        if (j < cols)
                        {
                            const float* src = b + (j0 + jr + j) * ldb + p0;
                            for (std::size_t p = 0; p < kc; ++p)
                                panel[p * NR + j] = src[p];
                        }
                        else
                            for (std::size_t p = 0; p < kc; ++p)
                                panel[p * NR + j] = 0.0f;
                    }
                }
            }
        }

        /// C[rows x cols] = alpha * A(MR x kc) * Bpanel + beta * C, rows <= MR, cols <= NR. A is read in place:
        /// element (i, p) at a[p * lda + i] when its rows are contiguous (transposed A, packed edge panels), else
        /// at a[i * lda + p]. A row-major A is not packed: with n = 64 each A value feeds only four FMAs, so a
        /// packing pass would cost as much as the product.
        template <bool RowsContiguous>
        void micro_kernel(std::size_t kc, const float* __restrict a, std::size_t lda, const float* __restrict bp,
                          float* c, std::size_t ldc, std::size_t rows, std::size_t cols, float alpha, float beta)
        {
            __m512 acc0[MR], acc1[MR];
#pragma GCC unroll 14
            for (std::size_t i = 0; i < MR; ++i)
            {
                acc0[i] = _mm512_setzero_ps();
                acc1[i] = _mm512_setzero_ps();
            }
            for (std::size_t p = 0; p < kc; ++p)
            {
                const __m512 b0 = _mm512_load_ps(bp);
                const __m512 b1 = _mm512_load_ps(bp + 16);
#pragma GCC unroll 14
                for (std::size_t i = 0; i < MR; ++i)
                {
                    const __m512 av = _mm512_set1_ps(RowsContiguous ? a[i] : a[i * lda]);
                    acc0[i] = _mm512_fmadd_ps(av, b0, acc0[i]);
                    acc1[i] = _mm512_fmadd_ps(av, b1, acc1[i]);
                }
                a += RowsContiguous ? lda : 1;
                bp += NR;
            }
            const __mmask16 m0 = cols >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << cols) - 1);
            const __mmask16 m1 =
                cols >= 32 ? __mmask16(0xFFFF) : cols > 16 ? __mmask16((1u << (cols - 16)) - 1) : __mmask16(0);
            const __m512 va = _mm512_set1_ps(alpha);
            const __m512 vb = _mm512_set1_ps(beta);
#pragma GCC unroll 14
            for (std::size_t i = 0; i < MR; ++i)
            {
                if (i >= rows)
                    break;
                float* row = c + i * ldc;
                __m512 r0 = _mm512_mul_ps(va, acc0[i]);
                __m512 r1 = _mm512_mul_ps(va, acc1[i]);
                if (beta != 0.0f)
                {
                    r0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, row), r0);
                    r1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, row + 16), r1);
                }
                _mm512_mask_storeu_ps(row, m0, r0);
                _mm512_mask_storeu_ps(row + 16, m1, r1);
            }
        }

        void scale_c(std::size_t m, std::size_t n, float beta, float* c, std::size_t ldc)
        {
            for (std::size_t i = 0; i < m; ++i)
                for (std::size_t j = 0; j < n; ++j)
                    c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
        }
    }

    bool has_avx512_sgemm() { return true; }

    void sgemm_avx512(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, float alpha, const float* a,
                      std::size_t lda, const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc)
    {
        if (m == 0 || n == 0)
            return;
        if (k == 0 || alpha == 0.0f)
        {
            scale_c(m, n, beta, c, ldc);
            return;
        }
        // Equal k-blocks: 576 = 3 x 192 rather than 256 + 256 + 64.
        const std::size_t k_blocks = (k + KC_MAX - 1) / KC_MAX;
        const std::size_t kc_step = (k + k_blocks - 1) / k_blocks;
        const std::size_t m_blocks = (m + MC - 1) / MC;
        // Parallel only when each row block carries enough work to pay for a task.
        const bool parallel = m_blocks > 1 && double(m) * double(n) * double(k) > 4.0e6;
        BufferLease lease;
        for (std::size_t j0 = 0; j0 < n; j0 += NC)
        {
            const std::size_t nc = std::min(NC, n - j0);
            const std::size_t nc_padded = (nc + NR - 1) / NR * NR;
            for (std::size_t p0 = 0; p0 < k; p0 += kc_step)
            {
                const std::size_t kc = std::min(kc_step, k - p0);
                float* bpack = lease.buffer->reserve(nc_padded * kc);
                pack_b(tb, b, ldb, p0, kc, j0, nc, bpack);
                const float block_beta = p0 == 0 ? beta : 1.0f;
                auto row_blocks = [&](std::size_t blk0, std::size_t blk1) {
                    float* edge = packed_a_buffer.reserve(MR * kc);
                    for (std::size_t blk = blk0; blk < blk1; ++blk)
                    {
                        const std::size_t i0 = blk * MC, mc = std::min(MC, m - i0);
                        for (std::size_t jr = 0; jr < nc; jr += NR)
                        {
                            const std::size_t cols = std::min(NR, nc - jr);
                            const float* bp = bpack + jr * kc;
                            for (std::size_t ir = 0; ir < mc; ir += MR)
                            {
                                const std::size_t rows = std::min(MR, mc - ir);
                                float* cp = c + (i0 + ir) * ldc + j0 + jr;
                                if (rows < MR)
                                {
                                    if (jr == 0)
                                        pack_a_edge(ta, a, lda, i0 + ir, rows, p0, kc, edge);
                                    micro_kernel<true>(kc, edge, MR, bp, cp, ldc, rows, cols, alpha, block_beta);
                                }
                                else if (ta)
                                    micro_kernel<true>(kc, a + p0 * lda + i0 + ir, lda, bp, cp, ldc, rows, cols,
                                                       alpha, block_beta);
                                else
                                    micro_kernel<false>(kc, a + (i0 + ir) * lda + p0, lda, bp, cp, ldc, rows, cols,
                                                        alpha, block_beta);
                            }
                        }
                    }
                };
                if (parallel)
                    parallel_for(m_blocks, 1, row_blocks);
                else
                    row_blocks(0, m_blocks);
            }
        }
    }
}

#else

namespace xk::kernels::detail
{
    bool has_avx512_sgemm() { return false; }
    void sgemm_avx512(bool, bool, std::size_t, std::size_t, std::size_t, float, const float*, std::size_t,
                      const float*, std::size_t, float, float*, std::size_t)
    {
    }
}

#endif
