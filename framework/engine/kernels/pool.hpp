#pragma once
// Pooling kernels on the canonical (N, D, H, W, C) layout of the other kernels: 1-D and 2-D layers set the
// leading spatial extents to 1, and channels_first data is N*C images of one channel, so both data formats
// pool without a transpose.
//
// Output position o of an axis covers input positions [o*stride - pad_before, o*stride - pad_before + window)
// clipped to [0, in): padded positions never take part, which is TF's rule for both modes (max pooling pads
// with -inf; average pooling divides by the number of valid elements, not by the window size).
#include <array>
#include <cstddef>

namespace xk::kernels
{
    struct PoolGeometry
    {
        std::size_t batch = 1;
        std::array<std::size_t, 3> in{1, 1, 1};
        std::array<std::size_t, 3> out{1, 1, 1};
        std::array<std::size_t, 3> window{1, 1, 1};
        std::array<std::size_t, 3> stride{1, 1, 1};
        std::array<std::size_t, 3> pad_before{0, 0, 0};
        std::size_t channels = 1;
    };

    /// y = the maximum of each window (overwrites y).
    template <class T>
    void max_pool_forward(const PoolGeometry& g, const T* x, T* y);
    /// dx += dy routed to the first maximum of each window in row-major window order: TF's CPU MaxPoolGrad
    /// keeps the earliest position on ties. x is the forward input (the maxima are found again).
    template <class T>
    void max_pool_backward(const PoolGeometry& g, const T* x, const T* dy, T* dx);

    /// y = the mean of the valid elements of each window (overwrites y).
    template <class T>
    void avg_pool_forward(const PoolGeometry& g, const T* x, T* y);
    /// dx += dy / (valid elements of the window) on every valid element of the window.
    template <class T>
    void avg_pool_backward(const PoolGeometry& g, const T* dy, T* dx);

    /// Global pooling over the middle axis of an (outer, steps, inner) array into (outer, inner):
    /// channels_last is (N, pixels, C), channels_first is (N*C, pixels, 1).
    template <class T>
    void global_max_forward(std::size_t outer, std::size_t steps, std::size_t inner, const T* x, T* y);
    /// dx += dy shared equally among the elements equal to the maximum y: the gradient TF gives reduce_max.
    template <class T>
    void global_max_backward(std::size_t outer, std::size_t steps, std::size_t inner, const T* x, const T* y,
                             const T* dy, T* dx);
    template <class T>
    void global_avg_forward(std::size_t outer, std::size_t steps, std::size_t inner, const T* x, T* y);
    /// dx += dy / steps.
    template <class T>
    void global_avg_backward(std::size_t outer, std::size_t steps, std::size_t inner, const T* dy, T* dx);
}
