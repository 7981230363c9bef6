#include "framework/engine/check_numerics.hpp"

#include "framework/engine/error.hpp"

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace xk
{
    namespace
    {
        bool enabled_by_environment()
        {
            const char* value = std::getenv("XKERAS_CHECK_NUMERICS");
            return value && *value && std::strcmp(value, "0") != 0;
        }

        std::atomic<bool>& check_numerics_flag()
        {
            static std::atomic<bool> flag{enabled_by_environment()};
            return flag;
        }
    }

    void set_check_numerics(bool enabled) { check_numerics_flag().store(enabled, std::memory_order_relaxed); }

    bool check_numerics_enabled() { return check_numerics_flag().load(std::memory_order_relaxed); }

    template <class T>
    void check_finite(const Tensor<T>& values, const std::string& what, const std::string& where)
    {
        const T* data = values.data();
        const std::size_t n = values.size();
        for (std::size_t i = 0; i < n; ++i)
        {
            if (std::isfinite(data[i]))
                continue;
            std::size_t nan = 0, inf = 0;
            for (std::size_t j = i; j < n; ++j)
            {
                nan += std::isnan(data[j]) ? 1 : 0;
                inf += std::isinf(data[j]) ? 1 : 0;
            }
            throw value_error(detail::concat(std::isnan(data[i]) ? "NaN" : "Inf", " in ", what, " of ", where,
                                             " (first at flat index ", i, " of shape ", shape_str(shape_of(values)),
                                             "; ", nan, " NaN and ", inf, " Inf values from there on). ",
                                             "Raised because numerics checking is on (XKERAS_CHECK_NUMERICS)."));
        }
    }

    template void check_finite<float>(const Tensor<float>&, const std::string&, const std::string&);
    template void check_finite<double>(const Tensor<double>&, const std::string&, const std::string&);
}
