#pragma once
// Row-major general matrix product, C = alpha * op(A) * op(B) + beta * C. The only door to BLAS: its
// header clashes with xtensor-blas's declarations, so it is included in gemm.cpp alone. float runs the
// project's AVX-512 kernel (sgemm_avx512.cpp) when the build targets AVX-512; double and other builds use BLAS.
#include <cstddef>

namespace xk::kernels
{
    template <class T>
    void gemm(bool transpose_a, bool transpose_b, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a,
              std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc);

    /// BLAS's own thread count. xkeras parallelises with TBB and calls BLAS from inside its tasks, so BLAS
    /// runs single-threaded by default to keep the two pools from oversubscribing the cores.
    void set_blas_threads(int threads);
}
