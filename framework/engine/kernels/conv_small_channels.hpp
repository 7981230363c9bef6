#pragma once
// Direct AVX-512 convolution kernels for few input channels (C_in <= 4: the first layer of an image model), float,
// one group. With a channel axis that narrow, the implicit GEMM's tiles and the im2col + GEMM + col2im path spend
// more on bookkeeping than on arithmetic. These kernels vectorise along the output channels and walk the images
// one row at a time, in blocks of consecutive pixels: away from the edges a block's tap reads need no bounds
// check, and each kernel vector loaded serves the whole block. The backward pass to the input gathers per input
// pixel, so the sum over the output channels (one horizontal sum) is paid once per input pixel. Used by conv.cpp
// when the build targets AVX-512; the double path stays the generic one.
#include "framework/engine/kernels/conv.hpp"

namespace xk::kernels::detail
{
    /// True when this build carries the kernels below and they apply to g (float, one group, C_in <= 4,
    /// 8 <= C_out <= 128).
    bool small_channel_conv_applies(const ConvGeometry& g);

    /// y = conv(x, w).
    void conv_forward_small_channels(const ConvGeometry& g, const float* x, const float* w, float* y);
    /// dx += the adjoint of conv_forward in x.
    void conv_backward_input_small_channels(const ConvGeometry& g, const float* dy, const float* w, float* dx);
    /// dw += the gradient of <dy, conv(x, w)> in w.
    void conv_backward_kernel_small_channels(const ConvGeometry& g, const float* x, const float* dy, float* dw);
}
