// xkeras_fma_peak: the FP32 FMA peak the benchmark's "% of peak" refers to, measured as
// ../shared/bench/README.md describes: every thread runs 12 independent chains of 512-bit FMAs (enough to
// cover the FMA latency on every recent x86 core), on 1 and then on 2 threads; best of several trials.
// Each thread's rate is taken over its own CPU time, so other processes sharing the machine lower the wall
// clock rate (also printed, as wall_*) but not the measured peak of the cores.
// Prints JSON on stdout: {"isa", "gflops_1_thread", "gflops_2_threads", "wall_gflops_1_thread", ...}.
#include <immintrin.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

namespace
{
#if defined(__AVX512F__)
    using Vec = __m512;
    constexpr int lanes = 16;
    constexpr const char* isa = "AVX-512";
    inline Vec splat(float v) { return _mm512_set1_ps(v); }
    inline Vec fma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
    inline float reduce(Vec v)
    {
        alignas(64) float t[16];
        _mm512_store_ps(t, v);
        float s = 0;
        for (float x : t)
            s += x;
        return s;
    }
#elif defined(__FMA__)
    using Vec = __m256;
    constexpr int lanes = 8;
    constexpr const char* isa = "AVX2";
    inline Vec splat(float v) { return _mm256_set1_ps(v); }
    inline Vec fma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
    inline float reduce(Vec v)
    {
        alignas(32) float t[8];
        _mm256_store_ps(t, v);
        float s = 0;
        for (float x : t)
            s += x;
        return s;
    }
#else
#define XKERAS_NO_FMA 1
#endif
}

#if defined(XKERAS_NO_FMA)
// Built without FMA instructions (XKERAS_NATIVE off, or a machine without them): nothing to measure.
int main()
{
    std::fprintf(stderr, "xkeras_fma_peak: built without AVX-512 or FMA instructions; configure with "
                         "-DXKERAS_NATIVE=ON on the machine to measure.\n");
    return 2;
}
#else
namespace
{

    constexpr int chains = 12;
    constexpr long iterations = 20'000'000;

    /// 12 independent dependency chains acc = acc * a + b; returns a sum of the results so none is dead code.
    float fma_chains(float a_value, float b_value)
    {
        const Vec a = splat(a_value), b = splat(b_value);
        Vec acc[chains];
        for (int c = 0; c < chains; ++c)
            acc[c] = splat(float(c));
        for (long i = 0; i < iterations; ++i)
        {
            // Written out so every chain stays in a register and the loop body is exactly 12 FMAs.
            acc[0] = fma(acc[0], a, b);
            acc[1] = fma(acc[1], a, b);
            acc[2] = fma(acc[2], a, b);
            acc[3] = fma(acc[3], a, b);
            acc[4] = fma(acc[4], a, b);
            acc[5] = fma(acc[5], a, b);
            acc[6] = fma(acc[6], a, b);
            acc[7] = fma(acc[7], a, b);
            acc[8] = fma(acc[8], a, b);
            acc[9] = fma(acc[9], a, b);
            acc[10] = fma(acc[10], a, b);
            acc[11] = fma(acc[11], a, b);
        }
        float sum = 0;
        for (int c = 0; c < chains; ++c)
            sum += reduce(acc[c]);
        return sum;
    }

    double thread_cpu_seconds()
    {
        timespec ts{};
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
    }

    struct Rate
    {
        double cpu_gflops = 0; ///< sum over threads of each thread's FLOPs / its CPU time
        double wall_gflops = 0;
    };

    /// GFLOP/s of `threads` threads each running the chains (2 FLOPs per lane per FMA).
    Rate measure(int threads, float a, float b, float& sink)
    {
        const double flops_per_thread = 2.0 * lanes * chains * double(iterations);
        std::vector<float> sums(std::size_t(threads), 0.f);
        std::vector<double> cpu(std::size_t(threads), 0.0);
        const auto t0 = std::chrono::steady_clock::now();
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t)
            pool.emplace_back([&, t] {
                const double c0 = thread_cpu_seconds();
                sums[std::size_t(t)] = fma_chains(a, b);
                cpu[std::size_t(t)] = thread_cpu_seconds() - c0;
            });
        for (auto& th : pool)
            th.join();
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        Rate rate;
        for (int t = 0; t < threads; ++t)
        {
            sink += sums[std::size_t(t)];
            rate.cpu_gflops += flops_per_thread / cpu[std::size_t(t)] / 1e9;
        }
        rate.wall_gflops = flops_per_thread * threads / seconds / 1e9;
        return rate;
    }
}

int main(int argc, char** argv)
{
    // Operands from the command line's length: the compiler cannot fold the chains away.
    const float a = 0.9999f + 1e-9f * float(argc), b = 1e-4f * float(argc);
    constexpr int trials = 7;
    float sink = 0;
    Rate best[3];
    for (int threads : {1, 2})
        for (int trial = 0; trial < trials; ++trial)
        {
            const Rate r = measure(threads, a, b, sink);
            best[threads].cpu_gflops = std::max(best[threads].cpu_gflops, r.cpu_gflops);
            best[threads].wall_gflops = std::max(best[threads].wall_gflops, r.wall_gflops);
        }
    std::fprintf(stderr, "xkeras_fma_peak: %d chains of %s FMAs per thread, best of %d trials (checksum %g)\n", chains,
                 isa, trials, double(sink));
    std::printf("{\"isa\": \"%s\", \"gflops_1_thread\": %.1f, \"gflops_2_threads\": %.1f, "
                "\"wall_gflops_1_thread\": %.1f, \"wall_gflops_2_threads\": %.1f}\n",
                isa, best[1].cpu_gflops, best[2].cpu_gflops, best[1].wall_gflops, best[2].wall_gflops);
    (void)argv;
    return 0;
}
#endif
