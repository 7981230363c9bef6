#include "framework/engine/parallel.hpp"

#include "framework/engine/error.hpp"

#include <tbb/blocked_range.h>
#include <tbb/global_control.h>
#include <tbb/info.h>
#include <tbb/parallel_for.h>

#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace xk
{
    namespace
    {
        std::mutex control_mutex;
        std::unique_ptr<tbb::global_control> thread_limit;
        int configured_threads = 0;

#if defined(__GLIBC__)
        // A training step frees and re-allocates the same multi-megabyte tensors every step. glibc serves blocks
        // above its mmap threshold (adaptive, at most 32 MB) with fresh mappings and unmaps them on free, so each
        // step page-faulted and zeroed all its activations again: up to 95% of a layer step (UpSampling2D
        // 486 ms -> 18 ms). Keeping large blocks in the heap and not trimming it lets the next step reuse the
        // pages; the process keeps its peak footprint instead of returning it between steps.
        const bool heap_keeps_large_blocks = [] {
            mallopt(M_MMAP_THRESHOLD, 1 << 30);
            mallopt(M_TRIM_THRESHOLD, 1 << 30);
            return true;
        }();
#endif

        void apply_thread_limit(int threads)
        {
            thread_limit.reset();
            configured_threads = threads > 0 ? threads : 0;
            if (configured_threads > 0)
                thread_limit = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                                     std::size_t(configured_threads));
        }

        /// XKERAS_NUM_THREADS, applied before the first parallel loop; set_num_threads overrides it.
        void apply_environment_once()
        {
            static std::once_flag once;
            std::call_once(once, [] {
                const char* value = std::getenv("XKERAS_NUM_THREADS");
                if (!value || !*value)
                    return;
                char* end = nullptr;
                long threads = std::strtol(value, &end, 10);
                XK_CHECK(*end == '\0' && threads > 0 && threads <= 4096, value_error,
                         "XKERAS_NUM_THREADS must be a positive integer. Received XKERAS_NUM_THREADS='", value, "'.");
                std::lock_guard lock(control_mutex);
                apply_thread_limit(int(threads));
            });
        }
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
        XK_CHECK(threads >= 0, value_error, "set_num_threads: expected a thread count >= 0 (0 restores the default). ",
                 "Received threads=", threads, ".");
        apply_environment_once();
        std::lock_guard lock(control_mutex);
        apply_thread_limit(threads);
    }

    int num_threads()
    {
        apply_environment_once();
        std::lock_guard lock(control_mutex);
        return configured_threads > 0 ? configured_threads : int(tbb::info::default_concurrency());
    }
}
