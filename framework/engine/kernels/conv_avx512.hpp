#pragma once
// Implicit-GEMM convolution with AVX-512 micro-kernels (float, groups == 1): no im2col buffer is written; the
// micro-kernel reads every (output row, tap) straight from the image through a table of row pointers, with
// padding taps pointing at a zero row. Used by conv.cpp when the build targets AVX-512.
#include "framework/engine/kernels/conv.hpp"

namespace xk::kernels::detail
{
    /// True when this build carries the AVX-512 convolution kernels and they apply to g (float, one group).
    bool avx512_conv_applies(const ConvGeometry& g);

    /// y = conv(x, w).
    void conv_forward_avx512(const ConvGeometry& g, const float* x, const float* w, float* y);
    /// dx += the adjoint of conv_forward in x; strided geometries are split into stride phases, so no tap
    /// that lands between input samples is multiplied.
    void conv_backward_input_avx512(const ConvGeometry& g, const float* dy, const float* w, float* dx);
}
