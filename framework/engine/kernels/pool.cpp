#include "framework/engine/kernels/pool.hpp"
#include "framework/engine/parallel.hpp"

#include <algorithm>
#include <vector>

namespace xk::kernels
{
    namespace
    {
        /// The valid input positions [lo, hi) of output position o along one axis.
        struct Span
        {
            std::size_t lo;
            std::size_t hi;
        };

        inline Span span_of(const PoolGeometry& g, int axis, std::size_t o)
        {
            long start = long(o * g.stride[axis]) - long(g.pad_before[axis]);
            long lo = std::max(start, 0L);
            long hi = std::min(start + long(g.window[axis]), long(g.in[axis]));
            return {std::size_t(lo), std::size_t(std::max(hi, lo))};
        }

        /// Calls body(image, out_pixel, window spans) for every output pixel, images in parallel: windows
        /// never cross images, so the backward scatter-adds of one image stay in one task.
        template <class Body>
        void for_each_window(const PoolGeometry& g, Body body)
        {
            const std::size_t out_pixels = g.out[0] * g.out[1] * g.out[2];
            parallel_for(g.batch, 1, [&](std::size_t n0, std::size_t n1) {
                for (std::size_t n = n0; n < n1; ++n)
                    for (std::size_t p = 0; p < out_pixels; ++p)
                    {
                        const std::size_t ow = p % g.out[2];
                        const std::size_t oh = (p / g.out[2]) % g.out[1];
                        const std::size_t od = p / (g.out[2] * g.out[1]);
                        const std::array<Span, 3> spans{span_of(g, 0, od), span_of(g, 1, oh), span_of(g, 2, ow)};
                        body(n, n * out_pixels + p, spans);
                    }
            });
        }

        /// Calls visit(offset of the pixel's first channel in x) over a window in row-major order.
        template <class Visit>
        void for_each_input(const PoolGeometry& g, std::size_t n, const std::array<Span, 3>& s, Visit visit)
        {
            for (std::size_t d = s[0].lo; d < s[0].hi; ++d)
                for (std::size_t h = s[1].lo; h < s[1].hi; ++h)
                    for (std::size_t w = s[2].lo; w < s[2].hi; ++w)
                        visit((((n * g.in[0] + d) * g.in[1] + h) * g.in[2] + w) * g.channels);
        }

        inline std::size_t count_of(const std::array<Span, 3>& s)
        {
            return (s[0].hi - s[0].lo) * (s[1].hi - s[1].lo) * (s[2].hi - s[2].lo);
        }
    }

    template <class T>
    void max_pool_forward(const PoolGeometry& g, const T* x, T* y)
    {
        const std::size_t C = g.channels;
        for_each_window(g, [&](std::size_t n, std::size_t p, const std::array<Span, 3>& s) {
            T* out = y + p * C;
            bool first = true;
            for_each_input(g, n, s, [&](std::size_t at) {
                const T* in = x + at;
                if (first)
                {
                    std::copy(in, in + C, out);
                    first = false;
                    return;
                }
                // Strictly greater replaces: the earliest maximum stays, as in TF.
                for (std::size_t c = 0; c < C; ++c)
                    if (out[c] < in[c])
                        out[c] = in[c];
            });
        });
    }

    template <class T>
    void max_pool_backward(const PoolGeometry& g, const T* x, const T* dy, T* dx)
    {
        const std::size_t C = g.channels;
        // The same rule as the forward pass, per channel: the first element, then strictly greater ones. The
        // window is walked pixel by pixel with the channels innermost, so the comparisons vectorise.
        for_each_window(g, [&](std::size_t n, std::size_t p, const std::array<Span, 3>& s) {
            thread_local std::vector<T> best;
            thread_local std::vector<std::size_t> best_at;
            best.resize(C);
            best_at.resize(C);
            bool first = true;
            for_each_input(g, n, s, [&](std::size_t at) {
                const T* __restrict in = x + at;
                T* __restrict top = best.data();
                std::size_t* __restrict where = best_at.data();
                if (first)
                {
                    for (std::size_t c = 0; c < C; ++c)
                    {
                        top[c] = in[c];
                        where[c] = at + c;
                    }
                    first = false;
                    return;
                }
                for (std::size_t c = 0; c < C; ++c)
                    if (top[c] < in[c])
                    {
                        top[c] = in[c];
                        where[c] = at + c;
                    }
            });
            if (first)
                return; // an empty window (all padding) passes no gradient
            const T* grad = dy + p * C;
            for (std::size_t c = 0; c < C; ++c)
                dx[best_at[c]] += grad[c];
        });
    }

    template <class T>
    void avg_pool_forward(const PoolGeometry& g, const T* x, T* y)
    {
        const std::size_t C = g.channels;
        for_each_window(g, [&](std::size_t n, std::size_t p, const std::array<Span, 3>& s) {
            T* out = y + p * C;
            std::fill(out, out + C, T(0));
            for_each_input(g, n, s, [&](std::size_t at) {
                for (std::size_t c = 0; c < C; ++c)
                    out[c] += x[at + c];
            });
            const T count = T(count_of(s));
            for (std::size_t c = 0; c < C; ++c)
                out[c] /= count;
        });
    }

    template <class T>
    void avg_pool_backward(const PoolGeometry& g, const T* dy, T* dx)
    {
        const std::size_t C = g.channels;
        for_each_window(g, [&](std::size_t n, std::size_t p, const std::array<Span, 3>& s) {
            const T* grad = dy + p * C;
            const T count = T(count_of(s));
            for_each_input(g, n, s, [&](std::size_t at) {
                for (std::size_t c = 0; c < C; ++c)
                    dx[at + c] += grad[c] / count;
            });
        });
    }

    template <class T>
    void global_max_forward(std::size_t outer, std::size_t steps, std::size_t inner, const T* x, T* y)
    {
        parallel_for(outer, 16, [&](std::size_t o0, std::size_t o1) {
            for (std::size_t o = o0; o < o1; ++o)
            {
                const T* in = x + o * steps * inner;
                T* out = y + o * inner;
                std::copy(in, in + inner, out);
                for (std::size_t s = 1; s < steps; ++s)
                    for (std::size_t i = 0; i < inner; ++i)
                        if (out[i] < in[s * inner + i])
                            out[i] = in[s * inner + i];
            }
        });
    }

    template <class T>
    void global_max_backward(std::size_t outer, std::size_t steps, std::size_t inner, const T* x, const T* y,
                             const T* dy, T* dx)
    {
        parallel_for(outer, 16, [&](std::size_t o0, std::size_t o1) {
            std::vector<std::size_t> ties(inner);
            for (std::size_t o = o0; o < o1; ++o)
            {
                const T* in = x + o * steps * inner;
                const T* top = y + o * inner;
                const T* grad = dy + o * inner;
                T* out = dx + o * steps * inner;
                std::fill(ties.begin(), ties.end(), 0);
                for (std::size_t s = 0; s < steps; ++s)
                    for (std::size_t i = 0; i < inner; ++i)
                        ties[i] += in[s * inner + i] == top[i];
                for (std::size_t s = 0; s < steps; ++s)
                    for (std::size_t i = 0; i < inner; ++i)
                        if (in[s * inner + i] == top[i])
                            out[s * inner + i] += grad[i] / T(ties[i]);
            }
        });
    }

    template <class T>
    void global_avg_forward(std::size_t outer, std::size_t steps, std::size_t inner, const T* x, T* y)
    {
        parallel_for(outer, 16, [&](std::size_t o0, std::size_t o1) {
            for (std::size_t o = o0; o < o1; ++o)
            {
                const T* in = x + o * steps * inner;
                T* out = y + o * inner;
                std::fill(out, out + inner, T(0));
                for (std::size_t s = 0; s < steps; ++s)
                    for (std::size_t i = 0; i < inner; ++i)
                        out[i] += in[s * inner + i];
                for (std::size_t i = 0; i < inner; ++i)
                    out[i] /= T(steps);
            }
        });
    }

    template <class T>
    void global_avg_backward(std::size_t outer, std::size_t steps, std::size_t inner, const T* dy, T* dx)
    {
        parallel_for(outer, 16, [&](std::size_t o0, std::size_t o1) {
            for (std::size_t o = o0; o < o1; ++o)
            {
                const T* grad = dy + o * inner;
                T* out = dx + o * steps * inner;
                for (std::size_t s = 0; s < steps; ++s)
                    for (std::size_t i = 0; i < inner; ++i)
                        out[s * inner + i] += grad[i] / T(steps);
            }
        });
    }

#define XK_INSTANTIATE_POOL(T)                                                                                 \
    template void max_pool_forward<T>(const PoolGeometry&, const T*, T*);                                      \
    template void max_pool_backward<T>(const PoolGeometry&, const T*, const T*, T*);                           \
    template void avg_pool_forward<T>(const PoolGeometry&, const T*, T*);                                      \
    template void avg_pool_backward<T>(const PoolGeometry&, const T*, T*);                                     \
    template void global_max_forward<T>(std::size_t, std::size_t, std::size_t, const T*, T*);                  \
    template void global_max_backward<T>(std::size_t, std::size_t, std::size_t, const T*, const T*, const T*,  \
                                         T*);                                                                  \
    template void global_avg_forward<T>(std::size_t, std::size_t, std::size_t, const T*, T*);                  \
    template void global_avg_backward<T>(std::size_t, std::size_t, std::size_t, const T*, T*);

    XK_INSTANTIATE_POOL(float)
    XK_INSTANTIATE_POOL(double)
}
