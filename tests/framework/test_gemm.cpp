// The GEMM door (AVX-512 micro-kernel for float where built, BLAS otherwise) against a naive product in double,
// over shapes that exercise edge tiles, both transposes, alpha/beta, leading dimensions and k = 0.
#include "framework/engine/kernels/gemm.hpp"
#include "framework/engine/parallel.hpp"

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>
#include <vector>

namespace
{
    struct Case
    {
        std::size_t m, n, k;
        bool ta, tb;
        double alpha, beta;
        std::size_t pad; // extra leading-dimension columns
    };

    std::string describe(const Case& c)
    {
        std::ostringstream s;
        s << c.m << "x" << c.n << "x" << c.k << (c.ta ? " At" : " A") << (c.tb ? " Bt" : " B") << " alpha " << c.alpha
          << " beta " << c.beta << " pad " << c.pad;
        return s.str();
    }

    template <class T>
    void check(const Case& c, std::uint32_t seed)
    {
        std::mt19937 rng(seed);
        std::uniform_real_distribution<double> u(-1.0, 1.0);
        // Stored shapes: A is m x k (or k x m when transposed), B is k x n (or n x k).
        const std::size_t a_rows = c.ta ? c.k : c.m, a_cols = c.ta ? c.m : c.k;
        const std::size_t b_rows = c.tb ? c.n : c.k, b_cols = c.tb ? c.k : c.n;
        const std::size_t lda = a_cols + c.pad, ldb = b_cols + c.pad, ldc = c.n + c.pad;
        std::vector<T> a(a_rows * lda + 1), b(b_rows * ldb + 1), cm(c.m * ldc + 1);
        for (auto& v : a)
            v = T(u(rng));
        for (auto& v : b)
            v = T(u(rng));
        for (auto& v : cm)
            v = T(u(rng));
        if (c.beta == 0.0) // beta == 0 must not read C: NaNs there must not leak into the result
            for (std::size_t i = 0; i < c.m; ++i)
                cm[i * ldc] = T(NAN);
        const std::vector<T> c0 = cm;
        xk::kernels::gemm<T>(c.ta, c.tb, c.m, c.n, c.k, T(c.alpha), a.data(), lda, b.data(), ldb, T(c.beta), cm.data(),
                             ldc);
        const double tol = (sizeof(T) == 4 ? 2e-6 : 1e-13) * double(c.k + 4);
        std::size_t bad = 0;
        double worst = 0.0;
        for (std::size_t i = 0; i < c.m; ++i)
            for (std::size_t j = 0; j < c.n; ++j)
            {
                double sum = 0.0;
                for (std::size_t p = 0; p < c.k; ++p)
                {
                    double av = c.ta ? a[p * lda + i] : a[i * lda + p];
                    double bv = c.tb ? b[j * ldb + p] : b[p * ldb + j];
                    sum += av * bv;
                }
                double expect = c.alpha * sum + (c.beta == 0.0 ? 0.0 : c.beta * double(c0[i * ldc + j]));
                double err = std::abs(double(cm[i * ldc + j]) - expect);
                if (!(err <= tol * (1.0 + std::abs(expect))))
                    ++bad;
                if (!(err <= worst))
                    worst = err;
            }
        BOOST_TEST(bad == 0u, describe(c) << ": " << bad << " wrong entries, worst error " << worst);
        // Padding columns between rows of C are never written.
        for (std::size_t i = 0; i < c.m; ++i)
            for (std::size_t j = c.n; j < ldc; ++j)
                if (i * ldc + j < cm.size())
                    BOOST_TEST(cm[i * ldc + j] == c0[i * ldc + j], describe(c) << ": wrote past column n");
        BOOST_TEST(cm.back() == c0.back(), describe(c) << ": wrote past the end of C");
    }

    std::vector<Case> cases()
    {
        std::vector<Case> out;
        const std::size_t ms[] = {1, 5, 13, 14, 15, 29, 113, 250};
        const std::size_t ns[] = {1, 7, 16, 17, 31, 32, 33, 64, 100};
        const std::size_t ks[] = {1, 3, 64, 257, 600};
        std::size_t i = 0;
        for (std::size_t m : ms)
            for (std::size_t n : ns)
                for (std::size_t k : ks)
                {
                    ++i;
                    // Vary transposes, scalars and padding across the grid rather than multiplying it out.
                    bool ta = (i % 4) & 1, tb = (i % 4) & 2;
                    double alpha = (i % 3 == 0) ? 1.0 : (i % 3 == 1 ? -0.5 : 2.0);
                    double beta = (i % 5 == 0) ? 1.0 : (i % 5 == 1 ? 0.0 : (i % 5 == 2 ? 0.25 : (i % 5 == 3 ? -1.0 : 0.0)));
                    out.push_back({m, n, k, ta, tb, alpha, beta, std::size_t(i % 3)});
                }
        return out;
    }
}

BOOST_AUTO_TEST_SUITE(gemm)

BOOST_AUTO_TEST_CASE(float_matches_naive_double_product)
{
    std::uint32_t seed = 1;
    for (const auto& c : cases())
        check<float>(c, seed++);
}

BOOST_AUTO_TEST_CASE(double_matches_naive_double_product)
{
    std::uint32_t seed = 7;
    for (const auto& c : cases())
        if (c.m * c.n * c.k < 200000)
            check<double>(c, seed++);
}

BOOST_AUTO_TEST_CASE(every_transpose_combination_on_a_large_product)
{
    // Several row blocks, k-blocks and column panels: the parallel path and the k-block accumulation.
    for (int t = 0; t < 4; ++t)
        for (double beta : {0.0, 0.5})
            check<float>({700, 130, 530, bool(t & 1), bool(t & 2), 1.5, beta, 3}, std::uint32_t(100 + t));
}

BOOST_AUTO_TEST_CASE(k_zero_scales_c_by_beta)
{
    for (double beta : {0.0, 1.0, -2.0})
        for (auto [m, n] : {std::pair<std::size_t, std::size_t>{3, 5}, {20, 40}})
            check<float>({m, n, 0, false, false, 1.0, beta, 1}, 5);
}

BOOST_AUTO_TEST_CASE(same_result_with_one_thread)
{
    // The row-block split must not change which products are summed, in which order.
    const std::size_t m = 900, n = 64, k = 576;
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> a(m * k), b(k * n), c1(m * n), c2(m * n);
    for (auto& v : a)
        v = u(rng);
    for (auto& v : b)
        v = u(rng);
    xk::kernels::gemm<float>(false, false, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, c1.data(), n);
    xk::set_num_threads(1);
    xk::kernels::gemm<float>(false, false, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, c2.data(), n);
    xk::set_num_threads(0);
    BOOST_TEST(c1 == c2);
}

BOOST_AUTO_TEST_SUITE_END()
