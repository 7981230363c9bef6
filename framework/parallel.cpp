#include "framework/parallel.hpp"
#include "framework/kernels/gemm.hpp"

#include <tbb/blocked_range.h>
#include <tbb/global_control.h>
#include <tbb/info.h>
#include <tbb/parallel_for.h>

#include <memory>
#include <mutex>

namespace xk
{
    namespace
    {
        std::mutex control_mutex;
        std::unique_ptr<tbb::global_control> thread_limit;
        int configured_threads = 0;
    }

    void parallel_for(std::size_t n, std::size_t grain, const std::function<void(std::size_t, std::size_t)>& body)
    {
        if (n == 0)
            return;
        if (grain == 0)
            grain = 1;
        if (n <= grain || num_threads() == 1)
        {
            body(0, n);
            return;
        }
        tbb::parallel_for(tbb::blocked_range<std::size_t>(0, n, grain),
                          [&](const tbb::blocked_range<std::size_t>& r) { body(r.begin(), r.end()); });
    }

    void set_num_threads(int threads)
    {
        std::lock_guard lock(control_mutex);
        thread_limit.reset();
        configured_threads = threads > 0 ? threads : 0;
        if (configured_threads > 0)
            thread_limit = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                                 std::size_t(configured_threads));
    }

    int num_threads()
    {
        std::lock_guard lock(control_mutex);
        return configured_threads > 0 ? configured_threads : int(tbb::info::default_concurrency());
    }
}
