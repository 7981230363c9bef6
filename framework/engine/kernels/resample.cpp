#include "framework/engine/kernels/resample.hpp"
#include "framework/engine/parallel.hpp"

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

    namespace
    {
        /// One input row interpolated along W into OW output pixels: t = l + (u - l) * fx per channel.
        template <class T>
        void lerp_row(const T* in, const std::vector<Lerp>& xs, std::size_t C, T* row)
        {
            for (std::size_t ow = 0; ow < xs.size(); ++ow)
            {
                const T* __restrict l = in + xs[ow].lower * C;
                const T* __restrict u = in + xs[ow].upper * C;
                const T fx = T(xs[ow].frac);
                T* __restrict out = row + ow * C;
                for (std::size_t c = 0; c < C; ++c)
                    out[c] = l[c] + (u[c] - l[c]) * fx;
            }
        }
    }

    template <class T>
    void upsample_bilinear(const Dims5& x, const T* in, std::size_t sh, std::size_t sw, T* out)
    {
        const std::size_t N = x[0] * x[1], H = x[2], W = x[3], C = x[4], OH = H * sh, OW = W * sw;
        const auto ys = lerps(H, OH), xs = lerps(W, OW);
        const std::size_t row = OW * C;
        // Separable: each input row is interpolated along W once per task and kept while consecutive output
        // rows blend it vertically (with factor 2, every row serves two output rows).
        parallel_for(N * OH, 8, [&](std::size_t r0, std::size_t r1) {
            std::vector<T> rows(2 * row);
            std::size_t cached[2] = {std::size_t(-1), std::size_t(-1)}; // flat (n, h) input row in each slot
            auto lerped = [&](std::size_t flat, std::size_t avoid) -> const T* {
                for (int s = 0; s < 2; ++s)
                    if (cached[s] == flat)
                        return rows.data() + s * row;
                const int slot = cached[0] == avoid ? 1 : 0;
                cached[slot] = flat;
                lerp_row(in + flat * W * C, xs, C, rows.data() + slot * row);
                return rows.data() + slot * row;
            };
            for (std::size_t r = r0; r < r1; ++r)
            {
                const std::size_t oh = r % OH, n = r / OH;
                const std::size_t top_row = n * H + ys[oh].lower, bottom_row = n * H + ys[oh].upper;
                const T* __restrict top = lerped(top_row, std::size_t(-1));
                const T* __restrict bottom = lerped(bottom_row, top_row);
                const T fy = T(ys[oh].frac);
                T* __restrict dst = out + r * row;
                for (std::size_t i = 0; i < row; ++i)
                    dst[i] = top[i] + (bottom[i] - top[i]) * fy;
            }
        });
    }

    template <class T>
    void upsample_bilinear_backward(const Dims5& x, const T* dy, std::size_t sh, std::size_t sw, T* dx)
    {
        const std::size_t N = x[0] * x[1], H = x[2], W = x[3], C = x[4], OH = H * sh, OW = W * sw;
        const auto ys = lerps(H, OH), xs = lerps(W, OW);
        const std::size_t row = OW * C;
        // The adjoint, separable too: each input row gathers its output rows' weighted gradients into one
        // W-interpolated row, then scatters that along W within itself, so input rows run in parallel.
        std::vector<std::vector<std::pair<std::size_t, T>>> readers(H); // (output row, vertical weight)
        for (std::size_t oh = 0; oh < OH; ++oh)
        {
            readers[ys[oh].lower].emplace_back(oh, T(1) - T(ys[oh].frac));
            readers[ys[oh].upper].emplace_back(oh, T(ys[oh].frac));
        }
        parallel_for(N * H, 4, [&](std::size_t r0, std::size_t r1) {
            std::vector<T> acc(row);
            for (std::size_t r = r0; r < r1; ++r)
            {
                const std::size_t h = r % H, n = r / H;
                T* __restrict sum = acc.data();
                std::fill(sum, sum + row, T(0));
                for (const auto& [oh, weight] : readers[h])
                {
                    const T* __restrict g = dy + (n * OH + oh) * row;
                    for (std::size_t i = 0; i < row; ++i)
                        sum[i] += g[i] * weight;
                }
                T* gx = dx + r * W * C;
                for (std::size_t ow = 0; ow < OW; ++ow)
                {
                    T* __restrict l = gx + xs[ow].lower * C;
                    const T fx = T(xs[ow].frac);
                    const T* __restrict g = sum + ow * C;
                    for (std::size_t c = 0; c < C; ++c)
                        l[c] += g[c] * (T(1) - fx);
                    T* __restrict u = gx + xs[ow].upper * C;
                    for (std::size_t c = 0; c < C; ++c)
                        u[c] += g[c] * fx;
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
