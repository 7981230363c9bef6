#pragma once
// Padding, cropping and upsampling on (N, D, H, W, C) row-major data (1-D and 2-D layers set D, H to 1).
// channels_first data is the same problem with N*C images of one channel, so these kernels serve both
// data formats without a transpose. Each forward has its adjoint here, the pair a layer needs.
#include <array>
#include <cstddef>

namespace xk::kernels
{
    /// (N, D, H, W, C)
    using Dims5 = std::array<std::size_t, 5>;
    using Offsets3 = std::array<std::size_t, 3>;

    /// y (of dims y_dims) = x placed at spatial offset `before`, zeros elsewhere.
    template <class T>
    void zero_pad(const Dims5& x_dims, const T* x, const Offsets3& before, const Dims5& y_dims, T* y);
    /// small += the window of big at `before`: the adjoint of zero_pad, and cropping itself.
    template <class T>
    void crop_add(const Dims5& big_dims, const T* big, const Offsets3& before, const Dims5& small_dims, T* small);
    /// big's window at `before` += small (the adjoint of cropping).
    template <class T>
    void uncrop_add(const Dims5& small_dims, const T* small, const Offsets3& before, const Dims5& big_dims, T* big);

    /// Nearest upsampling: every element repeated size[a] times along spatial axis a.
    template <class T>
    void upsample_nearest(const Dims5& x_dims, const T* x, const Offsets3& size, T* y);
    /// dx += the sum of each repeated block of dy.
    template <class T>
    void upsample_nearest_backward(const Dims5& x_dims, const T* dy, const Offsets3& size, T* dx);

    /// tf.image.resize bilinear (half-pixel centres, no antialiasing) by integer factors along H and W;
    /// x_dims[1] (D) must be 1.
    template <class T>
    void upsample_bilinear(const Dims5& x_dims, const T* x, std::size_t size_h, std::size_t size_w, T* y);
    template <class T>
    void upsample_bilinear_backward(const Dims5& x_dims, const T* dy, std::size_t size_h, std::size_t size_w, T* dx);
}
