#pragma once
// The one door to TBB: kernels parallelise through these, never by including TBB themselves.
#include <cstddef>
#include <functional>

namespace xk
{
    /// Calls body(begin, end) on disjoint sub-ranges of [0, n) in parallel; chunks hold at least `grain` items.
    void parallel_for(std::size_t n, std::size_t grain, const std::function<void(std::size_t, std::size_t)>& body);

    /// Caps the worker threads of the whole process; 0 restores the default (every core). The environment
    /// variable XKERAS_NUM_THREADS sets it at start-up, and the CLI's --threads. BLAS honours it by never
    /// adding threads of its own: it runs single-threaded inside the parallel loops (kernels/gemm.hpp).
    void set_num_threads(int threads);
    int num_threads();
}
