#pragma once
// The IDX format of the MNIST files (optionally gzip-compressed), and an MNIST loader on top of it.
#include "framework/engine/tensor.hpp"

#include <string>

namespace xk
{
    /// Reads an IDX file (plain or .gz: detected from the content) of unsigned bytes into a tensor of its
    /// dimensions, values unchanged. io_error naming the file for anything malformed or truncated.
    Tensor<float> read_idx(const std::string& path);

    struct MnistSplit
    {
        Tensor<float> images; ///< (n, 28, 28, 1), scaled to [0, 1] as Keras's example does
        Tensor<float> labels; ///< (n,), the digit
    };

    /// `split` "train" or "t10k": DIR/<split>-images-idx3-ubyte[.gz] and DIR/<split>-labels-idx1-ubyte[.gz],
    /// at most `limit` samples (0: all).
    MnistSplit load_mnist(const std::string& dir, const std::string& split, std::size_t limit = 0);
}
