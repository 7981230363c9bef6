#pragma once
// The float kernel gradient with an AVX-512 micro-kernel (groups == 1): x is read through a table of row
// pointers, so no im2col matrix is written, and the reduction over output pixels is split across threads.
// Used by conv.cpp when the build targets AVX-512.
#include "framework/engine/kernels/conv.hpp"

namespace xk::kernels::detail
{
    /// True when this build carries the AVX-512 kernel-gradient kernel and it applies to g (one group). Even with
    /// C_in < 16, where most lanes idle, it measured faster than im2col + GEMM (C_in 1, 3, 4, 8, 12).
    bool avx512_wgrad_applies(const ConvGeometry& g);

    /// dw += the gradient of <dy, conv(x, w)> in w.
    void conv_backward_kernel_avx512(const ConvGeometry& g, const float* x, const float* dy, float* dw);
}
