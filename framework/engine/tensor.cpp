#include "framework/engine/tensor.hpp"
#include "framework/engine/parallel.hpp"

#include <algorithm>
#include <functional>
#include <numeric>

namespace xk
{
    namespace
    {
        template <class Dims, class Format>
        std::string join_dims(const Dims& dims, Format format)
        {
            std::string out = "(";
            for (std::size_t i = 0; i < dims.size(); ++i)
            {
                if (i)
                    out += ", ";
                out += format(dims[i]);
            }
            if (dims.size() == 1)
                out += ",";
            return out + ")";
        }
    }

    std::string shape_str(const Shape& shape)
    {
        return join_dims(shape, [](std::size_t d) { return std::to_string(d); });
    }

    std::string shape_str(const PartialShape& shape)
    {
        return join_dims(shape, [](long d) { return d < 0 ? std::string("None") : std::to_string(d); });
    }

    namespace
    {
        // Below this many elements one core is faster than waking the others.
        constexpr std::size_t parallel_elements = std::size_t(1) << 17;

        template <class T>
        void fill_any(T* dst, std::size_t n, T value)
        {
            if (n < parallel_elements)
                return std::fill(dst, dst + n, value);
            parallel_for(n, parallel_elements / 4, [&](std::size_t i0, std::size_t i1) { std::fill(dst + i0, dst + i1, value); });
        }

        template <class T>
        void add_any(T* dst, const T* src, std::size_t n)
        {
            auto add = [&](std::size_t i0, std::size_t i1) {
                for (std::size_t i = i0; i < i1; ++i)
                    dst[i] += src[i];
            };
            if (n < parallel_elements)
                return add(0, n);
            parallel_for(n, parallel_elements / 4, add);
        }
    }

    void fill_values(float* dst, std::size_t n, float value) { fill_any(dst, n, value); }
    void fill_values(double* dst, std::size_t n, double value) { fill_any(dst, n, value); }
    void add_values(float* dst, const float* src, std::size_t n) { add_any(dst, src, n); }
    void add_values(double* dst, const double* src, std::size_t n) { add_any(dst, src, n); }

    std::size_t shape_size(const Shape& shape)
    {
        return std::accumulate(shape.begin(), shape.end(), std::size_t(1), std::multiplies<>());
    }
}
