#pragma once
// What the convolutional family shares: Keras's argument normalisation and validation, its output-length
// formulas, TensorFlow's padding split, and the channels_first <-> channels_last moves around the kernels
// (which work on channels_last).
#include "framework/keras/config.hpp"
#include "framework/engine/kernels/conv.hpp"
#include "framework/engine/kernels/resample.hpp"
#include "framework/engine/tensor.hpp"

#include <optional>
#include <string>
#include <vector>

namespace xk::conv
{
    /// The spatial arguments every convolution takes, normalised as Keras does.
    struct SpatialArgs
    {
        std::size_t rank = 2;
        std::vector<long> kernel_size;
        std::vector<long> strides;
        std::vector<long> dilation_rate;
        std::string padding = "valid";           ///< "valid", "same" or "causal"
        std::string data_format = "channels_last";

        bool channels_last() const { return data_format == "channels_last"; }
        /// Index of the channel axis in a batch-first shape of rank+2.
        std::size_t channel_axis() const { return channels_last() ? rank + 1 : 1; }
        /// Index of spatial axis i (0-based) in a batch-first shape.
        std::size_t spatial_axis(std::size_t i) const { return channels_last() ? 1 + i : 2 + i; }
        json to_config() const; ///< kernel_size, strides, padding, data_format, dilation_rate
    };

    /// Reads kernel_size, strides, padding, data_format and dilation_rate with Keras's defaults and checks
    /// (strides > 1 together with dilation > 1, causal padding outside 1-D layers, non-positive sizes).
    /// `data_format_default` is the layer signature's default (null means image_data_format()).
    SpatialArgs parse_spatial_args(const json& config, std::size_t rank, bool allow_causal, const std::string& layer,
                                   const json& data_format_default = nullptr);

    /// Keras's conv_output_length; -1 (unknown) stays -1, and an input shorter than the kernel gives 0.
    long conv_output_length(long input, long kernel, const std::string& padding, long stride, long dilation);
    /// Keras's deconv_output_length (transposed convolutions), with output_padding None or given.
    long deconv_output_length(long input, long kernel, const std::string& padding, std::optional<long> output_padding,
                              long stride, long dilation);
    /// Padding before the first element: TensorFlow puts the smaller half of "same" padding first;
    /// "causal" pads (k-1)*d on the left only.
    long pad_before(const std::string& padding, long input, long output, long kernel, long stride, long dilation);

    /// Throws shape_error unless `shape` has rank+2 dimensions and, when `channels` is given, that many channels.
    void check_input_shape(const std::string& where, const PartialShape& shape, const SpatialArgs& args,
                           std::optional<long> channels);
    /// Throws value_error when an output dimension is zero or negative (the input is too small).
    void check_output_shape(const std::string& where, const PartialShape& input, const PartialShape& output);

    /// The batch-first shape with channels moved last (the kernels' layout).
    Shape channels_last_shape(const Shape& shape, const SpatialArgs& args);
    /// A batch-first shape assembled from batch, spatial extents and channels in the layer's data format.
    PartialShape assemble_shape(long batch, const std::vector<long>& spatial, long channels, const SpatialArgs& args);

    /// Geometry for a convolution from channels_last input to channels_last output extents.
    kernels::ConvGeometry geometry(const SpatialArgs& args, std::size_t batch, const std::vector<long>& in_spatial,
                                   const std::vector<long>& out_spatial, std::size_t in_channels,
                                   std::size_t out_channels, std::size_t groups);

    /// Keras's padding/cropping argument: an int (all sides), `rank` ints (symmetric per axis), or `rank`
    /// pairs (before, after). For rank 1 the pair itself is the tuple: 1 or (before, after).
    std::vector<std::array<long, 2>> parse_pairs(const json& value, std::size_t rank, const std::string& arg,
                                                 const std::string& layer);
    /// The config form Keras writes back: (before, after) for rank 1, ((b, a), ...) otherwise.
    json pairs_to_config(const std::vector<std::array<long, 2>>& pairs);

    /// The (N, D, H, W, C) view the resampling kernels take: channels_first data becomes N*C one-channel
    /// images, and a rank-r layer's axes fill the trailing spatial slots.
    std::array<std::size_t, 5> canonical_dims(const Shape& shape, std::size_t rank, bool channels_last);
    /// The slot (0..2 of D, H, W) of spatial axis i of a rank-r layer.
    inline std::size_t spatial_slot(std::size_t rank, std::size_t i) { return 3 - rank + i; }

    /// Moves channels between last and first (a contiguous copy); identity shapes are returned as-is.
    template <class T>
    Tensor<T> to_channels_last(const Tensor<T>& x);
    template <class T>
    Tensor<T> to_channels_first(const Tensor<T>& x);
}
