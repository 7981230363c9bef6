#pragma once
// Helpers shared by the convolution kernel files (conv.cpp, depthwise.cpp); not part of the public API.
#include "framework/engine/kernels/conv.hpp"
#include "framework/engine/parallel.hpp"

#include <algorithm>
#include <functional>
#include <vector>

namespace xk::kernels::detail
{
    /// The input index of output position o at tap t along one axis, or -1 when it falls in the padding.
    inline long source(const ConvGeometry& g, int axis, std::size_t o, std::size_t t)
    {
        long i = long(o * g.stride[axis]) - g.pad_before[axis] + long(t * g.dilation[axis]);
        return (i >= 0 && i < long(g.in[axis])) ? i : -1;
    }

    /// Splits [0, n) into about `parts` ranges; calls body(part, begin, end) in parallel.
    inline void for_partitions(std::size_t n, std::size_t parts,
                               const std::function<void(std::size_t, std::size_t, std::size_t)>& body)
    {
        parts = std::max<std::size_t>(1, std::min(parts, n));
        parallel_for(parts, 1, [&](std::size_t p0, std::size_t p1) {
            for (std::size_t p = p0; p < p1; ++p)
                body(p, n * p / parts, n * (p + 1) / parts);
        });
    }

    /// Adds private per-partition buffers into `out` (for reductions over the batch: kernel gradients).
    template <class T>
    void sum_partials(const std::vector<std::vector<T>>& partials, T* out, std::size_t size)
    {
        for (const auto& part : partials)
            for (std::size_t i = 0; i < size; ++i)
                out[i] += part[i];
    }
}
