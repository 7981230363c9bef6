#include "framework/engine/random.hpp"

#include <mutex>

namespace xk
{
    namespace
    {
        std::mutex global_mutex;
        Rng& global_rng()
        {
            static Rng rng(1337);
            return rng;
        }
    }

    void set_random_seed(std::uint64_t seed)
    {
        std::lock_guard lock(global_mutex);
        global_rng().seed(seed);
    }

    Rng make_rng(std::optional<std::uint64_t> seed)
    {
        if (seed)
            return Rng(*seed);
        std::lock_guard lock(global_mutex);
        return Rng(global_rng()());
    }
}
