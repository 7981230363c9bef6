#pragma once
// Depthwise convolution (multiplier 1, float) with AVX-512 register accumulators: each output (or input-gradient)
// pixel sums all its taps in registers and is stored once, and the kernel gradient sums a whole row of pixels
// per tap in registers, instead of adding every tap into memory. Used by depthwise.cpp when the build targets
// AVX-512.
#include "framework/engine/kernels/conv.hpp"

namespace xk::kernels::detail
{
    /// True when this build carries these kernels and g has one output channel per input channel.
    bool avx512_depthwise_applies(const ConvGeometry& g);

    /// y = depthwise(x, w) (overwrites y).
    void depthwise_forward_avx512(const ConvGeometry& g, const float* x, const float* w, float* y);
    /// dx += the adjoint of depthwise_forward in x.
    void depthwise_backward_input_avx512(const ConvGeometry& g, const float* dy, const float* w, float* dx);
    /// dw += the gradient of <dy, depthwise(x, w)> in w.
    void depthwise_backward_kernel_avx512(const ConvGeometry& g, const float* x, const float* dy, float* dw);
}
