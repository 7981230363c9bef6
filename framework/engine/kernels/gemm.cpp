#include "framework/engine/kernels/gemm.hpp"
#include "framework/engine/kernels/sgemm_avx512.hpp"

#include <cblas.h>

// Declared by OpenBLAS's cblas.h, but not by every cblas.h the alternatives system may select.
extern "C" void openblas_set_num_threads(int);

#include <mutex>

namespace xk::kernels
{
    namespace
    {
        void ensure_single_threaded_blas()
        {
            static std::once_flag once;
            std::call_once(once, [] { openblas_set_num_threads(1); });
        }
    }

    void set_blas_threads(int threads)
    {
        ensure_single_threaded_blas();
        openblas_set_num_threads(threads);
    }

    template <>
    void gemm<float>(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, float alpha, const float* a,
                     std::size_t lda, const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc)
    {
        if (m == 0 || n == 0)
            return;
        if (detail::has_avx512_sgemm())
        {
            detail::sgemm_avx512(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
            return;
        }
        ensure_single_threaded_blas();
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(m), int(n),
                    int(k), alpha, a, int(lda), b, int(ldb), beta, c, int(ldc));
    }

    template <>
    void gemm<double>(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, double alpha, const double* a,
                      std::size_t lda, const double* b, std::size_t ldb, double beta, double* c, std::size_t ldc)
    {
        if (m == 0 || n == 0)
            return;
        ensure_single_threaded_blas();
        cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(m), int(n),
                    int(k), alpha, a, int(lda), b, int(ldb), beta, c, int(ldc));
    }
}
