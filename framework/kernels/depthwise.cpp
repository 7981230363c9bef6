#include "framework/kernels/conv.hpp"
#include "framework/kernels/conv_detail.hpp"

#include <algorithm>
#include <vector>

namespace xk::kernels
{
    using detail::for_partitions;
    using detail::source;
    using detail::sum_partials;

    // ---- depthwise: direct loops, vectorised over channels (the contiguous axis in channels_last).

    namespace
    {
        /// Calls body(in_pixel, tap) for every tap of output pixel (od, oh, ow) that lands inside the input.
        template <class Body>
        inline void for_each_tap(const ConvGeometry& g, std::size_t od, std::size_t oh, std::size_t ow, Body body)
        {
            std::size_t tap = 0;
            for (std::size_t td = 0; td < g.kernel[0]; ++td)
            {
                long id = source(g, 0, od, td);
                for (std::size_t th = 0; th < g.kernel[1]; ++th)
                {
                    long ih = id < 0 ? -1 : source(g, 1, oh, th);
                    for (std::size_t tw = 0; tw < g.kernel[2]; ++tw, ++tap)
                    {
                        long iw = ih < 0 ? -1 : source(g, 2, ow, tw);
                        if (iw >= 0)
                            body((std::size_t(id) * g.in[1] + std::size_t(ih)) * g.in[2] + std::size_t(iw), tap);
                    }
                }
            }
        }

        /// Calls body(n, od, oh, ow, out_pixel_index) over output pixels of images [n0, n1).
        template <class Body>
        inline void for_each_output(const ConvGeometry& g, std::size_t n0, std::size_t n1, Body body)
        {
            for (std::size_t n = n0; n < n1; ++n)
                for (std::size_t od = 0, p = 0; od < g.out[0]; ++od)
                    for (std::size_t oh = 0; oh < g.out[1]; ++oh)
                        for (std::size_t ow = 0; ow < g.out[2]; ++ow, ++p)
                            body(n, od, oh, ow, p);
        }
    }

    template <class T>
    void depthwise_forward(const ConvGeometry& g, const T* x, const T* w, T* y)
    {
        const std::size_t c_in = g.in_channels, mult = g.out_channels / g.in_channels, c_out = g.out_channels;
        parallel_for(g.batch, 1, [&](std::size_t n0, std::size_t n1) {
            for_each_output(g, n0, n1, [&](std::size_t n, std::size_t od, std::size_t oh, std::size_t ow, std::size_t p) {
                T* out = y + (n * g.out_pixels() + p) * c_out;
                std::fill(out, out + c_out, T(0));
                const T* xn = x + n * g.in_pixels() * c_in;
                for_each_tap(g, od, oh, ow, [&](std::size_t ip, std::size_t tap) {
                    const T* in = xn + ip * c_in;
                    const T* wt = w + tap * c_out;
                    if (mult == 1)
                        for (std::size_t c = 0; c < c_in; ++c)
                            out[c] += in[c] * wt[c];
                    else
                        for (std::size_t c = 0; c < c_in; ++c)
                            for (std::size_t m = 0; m < mult; ++m)
                                out[c * mult + m] += in[c] * wt[c * mult + m];
                });
            });
        });
    }

    template <class T>
    void depthwise_backward_input(const ConvGeometry& g, const T* dy, const T* w, T* dx)
    {
        const std::size_t c_in = g.in_channels, mult = g.out_channels / g.in_channels, c_out = g.out_channels;
        parallel_for(g.batch, 1, [&](std::size_t n0, std::size_t n1) {
            for_each_output(g, n0, n1, [&](std::size_t n, std::size_t od, std::size_t oh, std::size_t ow, std::size_t p) {
                const T* gy = dy + (n * g.out_pixels() + p) * c_out;
                T* dxn = dx + n * g.in_pixels() * c_in;
                for_each_tap(g, od, oh, ow, [&](std::size_t ip, std::size_t tap) {
                    T* gx = dxn + ip * c_in;
                    const T* wt = w + tap * c_out;
                    if (mult == 1)
                        for (std::size_t c = 0; c < c_in; ++c)
                            gx[c] += gy[c] * wt[c];
                    else
                        for (std::size_t c = 0; c < c_in; ++c)
                            for (std::size_t m = 0; m < mult; ++m)
                                gx[c] += gy[c * mult + m] * wt[c * mult + m];
                });
            });
        });
    }

    template <class T>
    void depthwise_backward_kernel(const ConvGeometry& g, const T* x, const T* dy, T* dw)
    {
        const std::size_t c_in = g.in_channels, mult = g.out_channels / g.in_channels, c_out = g.out_channels;
        const std::size_t wsize = g.taps() * c_out;
        const std::size_t parts = std::min<std::size_t>(g.batch, std::size_t(num_threads()));
        std::vector<std::vector<T>> partials(parts, std::vector<T>(wsize, T(0)));
        for_partitions(g.batch, parts, [&](std::size_t part, std::size_t n0, std::size_t n1) {
            T* acc = partials[part].data();
            for_each_output(g, n0, n1, [&](std::size_t n, std::size_t od, std::size_t oh, std::size_t ow, std::size_t p) {
                const T* gy = dy + (n * g.out_pixels() + p) * c_out;
                const T* xn = x + n * g.in_pixels() * c_in;
                for_each_tap(g, od, oh, ow, [&](std::size_t ip, std::size_t tap) {
                    const T* in = xn + ip * c_in;
                    T* wt = acc + tap * c_out;
                    for (std::size_t c = 0; c < c_in; ++c)
                        for (std::size_t m = 0; m < mult; ++m)
                            wt[c * mult + m] += in[c] * gy[c * mult + m];
                });
            });
        });
        sum_partials(partials, dw, wsize);
    }

    template <class T>
    void bias_add(std::size_t pixels, std::size_t channels, const T* bias, T* y)
    {
        parallel_for(pixels, 1024, [&](std::size_t p0, std::size_t p1) {
            for (std::size_t p = p0; p < p1; ++p)
                for (std::size_t c = 0; c < channels; ++c)
                    y[p * channels + c] += bias[c];
        });
    }

    template <class T>
    void bias_backward(std::size_t pixels, std::size_t channels, const T* dy, T* db)
    {
        for (std::size_t p = 0; p < pixels; ++p)
            for (std::size_t c = 0; c < channels; ++c)
                db[c] += dy[p * channels + c];
    }

#define XK_INSTANTIATE_DEPTHWISE(T)                                                                            \
    template void depthwise_forward<T>(const ConvGeometry&, const T*, const T*, T*);                           \
    template void depthwise_backward_input<T>(const ConvGeometry&, const T*, const T*, T*);                    \
    template void depthwise_backward_kernel<T>(const ConvGeometry&, const T*, const T*, T*);                   \
    template void bias_add<T>(std::size_t, std::size_t, const T*, T*);                                         \
    template void bias_backward<T>(std::size_t, std::size_t, const T*, T*);

    XK_INSTANTIATE_DEPTHWISE(float)
    XK_INSTANTIATE_DEPTHWISE(double)
}
