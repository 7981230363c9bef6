#pragma once
// The one door to TBB: kernels parallelise through these, never by including TBB themselves.
#include <cstddef>
#include <functional>

namespace xk
{
    /// Calls body(begin, end) on disjoint sub-ranges of [0, n) in parallel; chunks hold at least `grain` items.
    void parallel_for(std::size_t n, std::size_t grain, const std::function<void(std::size_t, std::size_t)>& body);

    /// How many private partial sums a parallel reduction (a kernel gradient over the batch, BatchNormalization's
    /// per-feature sums) splits into. A fixed count, never the thread count: each partition sums in order and
    /// the partitions are added in order, so the result (its rounding) is the same on 1 thread or 64, and the
    /// same seed trains to the same weights. 8: several partitions per thread on 2-4 cores, so a core slowed by
    /// another process holds back a small share of the pass, and few enough private sums to zero and add (16
    /// made conv1d_seq and conv2d_stride2 5% slower on 2 cores: bench/, AMD EPYC).
    inline constexpr std::size_t reduction_partitions = 8;

    /// Caps the worker threads of the whole process; 0 restores the default (every core). The environment
    /// variable XKERAS_NUM_THREADS sets it at start-up, and the CLI's --threads. BLAS honours it by never
    /// adding threads of its own: it runs single-threaded inside the parallel loops (kernels/gemm.hpp).
    void set_num_threads(int threads);
    int num_threads();
}
