#include "framework/kernels/resample.hpp"
#include "framework/parallel.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace xk::kernels
{
    namespace
    {
        std::size_t rows_of(const Dims5& d) { return d[0] * d[1] * d[2]; }

        /// Visits each (n, d, h) row of `small` with the matching row start in `big` at spatial offset
        /// `before` (W and C are contiguous, so a row is one run of small W*C... with a W offset).
        template <class Body>
        void for_window_rows(const Dims5& small, const Dims5& big, const Offsets3& before, Body body)
        {
            const std::size_t row_len = small[3] * small[4];
            parallel_for(rows_of(small), 64, [&](std::size_t r0, std::size_t r1) {
                for (std::size_t r = r0; r < r1; ++r)
                {
                    std::size_t h = r % small[2];
                    std::size_t d = (r / small[2]) % small[1];
                    std::size_t n = r / (small[2] * small[1]);
                    std::size_t big_row = (n * big[1] + d + before[0]) * big[2] + h + before[1];
                    std::size_t big_start = (big_row * big[3] + before[2]) * big[4];
                    body(r * row_len, big_start, row_len);
                }
            });
        }
    }

    template <class T>
    void zero_pad(const Dims5& x_dims, const T* x, const Offsets3& before, const Dims5& y_dims, T* y)
    {
        std::fill(y, y + rows_of(y_dims) * y_dims[3] * y_dims[4], T(0));
        for_window_rows(x_dims, y_dims, before, [&](std::size_t small_at, std::size_t big_at, std::size_t len) {
            std::copy(x + small_at, x + small_at + len, y + big_at);
        });
    }

    template <class T>
    void crop_add(const Dims5& big_dims, const T* big, const Offsets3& before, const Dims5& small_dims, T* small)
    {
        for_window_rows(small_dims, big_dims, before, [&](std::size_t small_at, std::size_t big_at, std::size_t len) {
            for (std::size_t i = 0; i < len; ++i)
                small[small_at + i] += big[big_at + i];
        });
    }

    template <class T>
    void uncrop_add(const Dims5& small_dims, const T* small, const Offsets3& before, const Dims5& big_dims, T* big)
    {
        for_window_rows(small_dims, big_dims, before, [&](std::size_t small_at, std::size_t big_at, std::size_t len) {
            for (std::size_t i = 0; i < len; ++i)
                big[big_at + i] += small[small_at + i];
        });
    }

    template <class T>
    void upsample_nearest(const Dims5& x, const T* in, const Offsets3& size, T* out)
    {
        const std::size_t C = x[4], D = x[1] * size[0], H = x[2] * size[1], W = x[3] * size[2];
        parallel_for(x[0] * D * H, 64, [&](std::size_t r0, std::size_t r1) {
            for (std::size_t r = r0; r < r1; ++r)
            {
                std::size_t h = r % H, d = (r / H) % D, n = r / (H * D);
                const T* src = in + ((n * x[1] + d / size[0]) * x[2] + h / size[1]) * x[3] * C;
                T* dst = out + r * W * C;
                for (std::size_t w = 0; w < W; ++w)
                    std::copy(src + (w / size[2]) * C, src + (w / size[2] + 1) * C, dst + w * C);
            }
        });
    }

    template <class T>
    void upsample_nearest_backward(const Dims5& x, const T* dy, const Offsets3& size, T* dx)
    {
        const std::size_t C = x[4], D = x[1] * size[0], H = x[2] * size[1], W = x[3] * size[2];
        // Each input row gathers from its size[0]*size[1] output rows: race-free in parallel.
        parallel_for(rows_of(x), 16, [&](std::size_t r0, std::size_t r1) {
            for (std::size_t r = r0; r < r1; ++r)
            {
                std::size_t h = r % x[2], d = (r / x[2]) % x[1], n = r / (x[2] * x[1]);
                T* dst = dx + r * x[3] * C;
                for (std::size_t i = 0; i < size[0]; ++i)
                    for (std::size_t j = 0; j < size[1]; ++j)
                    {
                        const T* src = dy + ((n * D + d * size[0] + i) * H + h * size[1] + j) * W * C;
                        for (std::size_t w = 0; w < W; ++w)
                            for (std::size_t c = 0; c < C; ++c)
                                dst[(w / size[2]) * C + c] += src[w * C + c];
                    }
            }
        });
    }

    namespace
    {
        /// TensorFlow's compute_interpolation_weights with the half-pixel scaler.
        struct Lerp
        {
            std::size_t lower, upper;
            double frac;
        };

        std::vector<Lerp> lerps(std::size_t in_size, std::size_t out_size)
        {
            std::vector<Lerp> out(out_size);
            const double scale = double(in_size) / double(out_size);
            for (std::size_t i = 0; i < out_size; ++i)
            {
                double pos = (double(i) + 0.5) * scale - 0.5;
                double floor_pos = std::floor(pos);
                out[i].lower = std::size_t(std::max(floor_pos, 0.0));
                out[i].upper = std::min(std::size_t(std::max(std::ceil(pos), 0.0)), in_size - 1);
                out[i].frac = pos - floor_pos;
            }
            return out;
        }
    }

    template <class T>
    void upsample_bilinear(const Dims5& x, const T* in, std::size_t sh, std::size_t sw, T* out)
    {
        const std::size_t N = x[0] * x[1], H = x[2], W = x[3], C = x[4], OH = H * sh, OW = W * sw;
        const auto ys = lerps(H, OH), xs = lerps(W, OW);
        parallel_for(N * OH, 16, [&](std::size_t r0, std::size_t r1) {
            for (std::size_t r = r0; r < r1; ++r)
            {
                std::size_t oh = r % OH, n = r / OH;
                const T* top = in + (n * H + ys[oh].lower) * W * C;
                const T* bottom = in + (n * H + ys[oh].upper) * W * C;
                const T fy = T(ys[oh].frac);
                T* dst = out + r * OW * C;
                for (std::size_t ow = 0; ow < OW; ++ow)
                {
                    const std::size_t l = xs[ow].lower * C, u = xs[ow].upper * C;
                    const T fx = T(xs[ow].frac);
                    for (std::size_t c = 0; c < C; ++c)
                    {
                        T t = top[l + c] + (top[u + c] - top[l + c]) * fx;
                        T b = bottom[l + c] + (bottom[u + c] - bottom[l + c]) * fx;
                        dst[ow * C + c] = t + (b - t) * fy;
                    }
                }
            }
        });
    }

    template <class T>
    void upsample_bilinear_backward(const Dims5& x, const T* dy, std::size_t sh, std::size_t sw, T* dx)
    {
        const std::size_t N = x[0] * x[1], H = x[2], W = x[3], C = x[4], OH = H * sh, OW = W * sw;
        const auto ys = lerps(H, OH), xs = lerps(W, OW);
        // Output rows scatter into neighbouring input rows: parallel over images only.
        parallel_for(N, 1, [&](std::size_t n0, std::size_t n1) {
            for (std::size_t n = n0; n < n1; ++n)
                for (std::size_t oh = 0; oh < OH; ++oh)
                {
                    T* top = dx + (n * H + ys[oh].lower) * W * C;
                    T* bottom = dx + (n * H + ys[oh].upper) * W * C;
                    const T fy = T(ys[oh].frac);
                    const T* src = dy + (n * OH + oh) * OW * C;
                    for (std::size_t ow = 0; ow < OW; ++ow)
                    {
                        const std::size_t l = xs[ow].lower * C, u = xs[ow].upper * C;
                        const T fx = T(xs[ow].frac);
                        for (std::size_t c = 0; c < C; ++c)
                        {
                            T g = src[ow * C + c];
                            T gt = g * (T(1) - fy), gb = g * fy;
                            top[l + c] += gt * (T(1) - fx);
                            top[u + c] += gt * fx;
                            bottom[l + c] += gb * (T(1) - fx);
                            bottom[u + c] += gb * fx;
                        }
                    }
                }
        });
    }

#define XK_INSTANTIATE_RESAMPLE(T)                                                                             \
    template void zero_pad<T>(const Dims5&, const T*, const Offsets3&, const Dims5&, T*);                      \
    template void crop_add<T>(const Dims5&, const T*, const Offsets3&, const Dims5&, T*);                      \
    template void uncrop_add<T>(const Dims5&, const T*, const Offsets3&, const Dims5&, T*);                    \
    template void upsample_nearest<T>(const Dims5&, const T*, const Offsets3&, T*);                            \
    template void upsample_nearest_backward<T>(const Dims5&, const T*, const Offsets3&, T*);                   \
    template void upsample_bilinear<T>(const Dims5&, const T*, std::size_t, std::size_t, T*);                  \
    template void upsample_bilinear_backward<T>(const Dims5&, const T*, std::size_t, std::size_t, T*);

    XK_INSTANTIATE_RESAMPLE(float)
    XK_INSTANTIATE_RESAMPLE(double)
}
