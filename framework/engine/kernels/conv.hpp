#pragma once
// Convolution kernels on channels_last data in a canonical 3-D spatial form: 1-D and 2-D layers set the
// leading spatial extents to 1. x is (N, D, H, W, C_in), y is (N, Do, Ho, Wo, C_out), the kernel is Keras's
// (kd, kh, kw, C_in / groups, C_out) layout, which read row-major is already the (taps*C_in/groups, C_out)
// matrix of an im2col product.
//
// Output position o of an axis reads input positions o*stride - pad_before + t*dilation (t < kernel);
// positions outside [0, in) read zero. Every padding mode (valid, same, causal, transposed) reduces to
// choosing pad_before and the output extent.
#include <array>
#include <cstddef>

namespace xk::kernels
{
    struct ConvGeometry
    {
        std::size_t batch = 1;
        std::array<std::size_t, 3> in{1, 1, 1};
        std::array<std::size_t, 3> out{1, 1, 1};
        std::array<std::size_t, 3> kernel{1, 1, 1};
        std::array<std::size_t, 3> stride{1, 1, 1};
        std::array<std::size_t, 3> dilation{1, 1, 1};
        std::array<long, 3> pad_before{0, 0, 0};
        std::size_t in_channels = 1;
        std::size_t out_channels = 1;
        std::size_t groups = 1;

        std::size_t in_pixels() const { return in[0] * in[1] * in[2]; }
        std::size_t out_pixels() const { return out[0] * out[1] * out[2]; }
        std::size_t taps() const { return kernel[0] * kernel[1] * kernel[2]; }
    };

    /// y = conv(x, w) (overwrites y).
    template <class T>
    void conv_forward(const ConvGeometry& g, const T* x, const T* w, T* y);
    /// dx += conv_backward_input(dy, w): the adjoint of conv_forward in x (also the transposed convolution).
    template <class T>
    void conv_backward_input(const ConvGeometry& g, const T* dy, const T* w, T* dx);
    /// dw += the gradient of <dy, conv(x, w)> in w.
    template <class T>
    void conv_backward_kernel(const ConvGeometry& g, const T* x, const T* dy, T* dw);

    /// Depthwise: w is (kd, kh, kw, C, multiplier); output channel c*multiplier + m reads input channel c.
    /// g.in_channels = C, g.out_channels = C * multiplier (groups is ignored).
    template <class T>
    void depthwise_forward(const ConvGeometry& g, const T* x, const T* w, T* y);
    template <class T>
    void depthwise_backward_input(const ConvGeometry& g, const T* dy, const T* w, T* dx);
    template <class T>
    void depthwise_backward_kernel(const ConvGeometry& g, const T* x, const T* dy, T* dw);

    /// y[p, c] += bias[c] over `pixels` rows of `channels`; db[c] += sum over rows of dy[p, c].
    template <class T>
    void bias_add(std::size_t pixels, std::size_t channels, const T* bias, T* y);
    template <class T>
    void bias_backward(std::size_t pixels, std::size_t channels, const T* dy, T* db);
}
