#pragma once
// Single-precision GEMM with AVX-512 micro-kernels, used by gemm<float> when the build targets AVX-512.
// OpenBLAS is pinned to its AVX2 kernels on the project's machines and reaches a quarter of the FMA peak on
// convolution-shaped products; this kernel keeps the zmm units busy instead. Row-major, same contract as gemm.
#include <cstddef>

namespace xk::kernels::detail
{
    /// True when this build carries the AVX-512 kernel (compiled with __AVX512F__).
    bool has_avx512_sgemm();

    /// C = alpha * op(A) * op(B) + beta * C; beta == 0 never reads C. Parallel over row blocks of C when the
    /// product is large enough (nests safely inside parallel_for tasks).
    void sgemm_avx512(bool transpose_a, bool transpose_b, std::size_t m, std::size_t n, std::size_t k, float alpha,
                      const float* a, std::size_t lda, const float* b, std::size_t ldb, float beta, float* c,
                      std::size_t ldc);
}
