#include "layers/conv_utils.hpp"

#include <numeric>

namespace xk::conv
{
    namespace
    {
        std::string tuple_str(const std::vector<long>& v)
        {
            std::string s = "(";
            for (std::size_t i = 0; i < v.size(); ++i)
                s += (i ? ", " : "") + std::to_string(v[i]);
            return s + (v.size() == 1 ? ",)" : ")");
        }

        // Kernel sizes, strides and dilations come from configs: absurd ones (2**40) must be rejected,
        // not overflow (signed overflow is undefined; the fuzzer found it in the transpose length).
        long checked_mul(long a, long b)
        {
            long product;
            XK_CHECK(!__builtin_mul_overflow(a, b, &product), value_error, "Output length overflows: ", a, " * ", b,
                     " does not fit in 64 bits; kernel_size, strides or dilation_rate is too large.");
            return product;
        }

        long checked_add(long a, long b)
        {
            long sum;
            XK_CHECK(!__builtin_add_overflow(a, b, &sum), value_error, "Output length overflows: ", a, " + ", b,
                     " does not fit in 64 bits; kernel_size, strides or dilation_rate is too large.");
            return sum;
        }
    }

    json SpatialArgs::to_config() const
    {
        return {{"kernel_size", kernel_size}, {"strides", strides},         {"padding", padding},
                {"data_format", data_format}, {"dilation_rate", dilation_rate}};
    }

    SpatialArgs parse_spatial_args(const json& config, std::size_t rank, bool allow_causal, const std::string& layer,
                                   const json& data_format_default)
    {
        SpatialArgs a;
        a.rank = rank;
        XK_CHECK(config.contains("kernel_size") && !config["kernel_size"].is_null(), value_error, layer,
                 ": missing required argument `kernel_size`.");
        a.kernel_size = int_tuple(config["kernel_size"], rank, "kernel_size");
        a.strides = int_tuple(config.value("strides", json(1)), rank, "strides");
        a.dilation_rate = int_tuple(config.value("dilation_rate", json(1)), rank, "dilation_rate");
        json padding = config.value("padding", json("valid"));
        if (!allow_causal && padding.is_string() && padding.get<std::string>() == "causal")
            throw value_error(layer + ": causal padding is only supported for `Conv1D` and `SeparableConv1D`. "
                                      "Received padding=\"causal\".");
        a.padding = padding_mode(padding, allow_causal);
        a.data_format =
            data_format_value(config.contains("data_format") ? config["data_format"] : data_format_default);
        bool strided = std::any_of(a.strides.begin(), a.strides.end(), [](long s) { return s != 1; });
        bool dilated = std::any_of(a.dilation_rate.begin(), a.dilation_rate.end(), [](long d) { return d != 1; });
        XK_CHECK(!(strided && dilated), value_error, layer,
                 ": `strides > 1` not supported in conjunction with `dilation_rate > 1`. Received: strides=",
                 tuple_str(a.strides), " and dilation_rate=", tuple_str(a.dilation_rate), ".");
        return a;
    }

    long conv_output_length(long input, long kernel, const std::string& padding, long stride, long dilation)
    {
        if (input < 0)
            return -1;
        long dilated = checked_add(kernel, checked_mul(kernel - 1, dilation - 1));
        long length = (padding == "valid") ? input - dilated + 1 : input;
        // 0 flags "too small" (check_output_shape reports it); -1 is reserved for an unknown extent.
        return length <= 0 ? 0 : checked_add(length, stride - 1) / stride;
    }

    long deconv_output_length(long input, long kernel, const std::string& padding, std::optional<long> output_padding,
                              long stride, long dilation)
    {
        if (input < 0)
            return -1;
        long dilated = checked_add(kernel, checked_mul(kernel - 1, dilation - 1));
        if (!output_padding)
            return padding == "valid" ? checked_add(checked_mul(input, stride), std::max(dilated - stride, 0L))
                                      : checked_mul(input, stride);
        long pad = padding == "same" ? dilated / 2 : 0;
        return checked_add(checked_add(checked_mul(input - 1, stride), dilated - 2 * pad), *output_padding);
    }

    long pad_before(const std::string& padding, long input, long output, long kernel, long stride, long dilation)
    {
        long dilated = (kernel - 1) * dilation + 1;
        if (padding == "causal")
            return dilated - 1;
        if (padding == "valid")
            return 0;
        long total = std::max((output - 1) * stride + dilated - input, 0L);
        return total / 2;
    }

    void check_input_shape(const std::string& where, const PartialShape& shape, const SpatialArgs& args,
                           std::optional<long> channels)
    {
        XK_CHECK(shape.size() == args.rank + 2, shape_error, "Input 0 of ", where,
                 " is incompatible with the layer: expected ndim=", args.rank + 2, ", found ndim=", shape.size(),
                 ". Full shape received: ", shape_str(shape), ".");
        if (channels)
        {
            long got = shape[args.channel_axis()];
            XK_CHECK(got == *channels, shape_error, "Input 0 of ", where,
                     " is incompatible with the layer: expected axis ", (args.channels_last() ? -1 : 1),
                     " of input shape to have value ", *channels, ", but received input with shape ",
                     shape_str(shape), ".");
        }
        for (std::size_t i = 1; i < shape.size(); ++i)
            XK_CHECK(shape[i] != 0, shape_error, "Input 0 of ", where, " has a zero-sized dimension: ",
                     shape_str(shape), ".");
    }

    void check_output_shape(const std::string& where, const PartialShape& input, const PartialShape& output)
    {
        for (long d : output)
            XK_CHECK(d == -1 || d > 0, value_error, where,
                     ": one of the dimensions in the output is <= 0 due to downsampling. Consider increasing the "
                     "input size. Received input shape ",
                     shape_str(input), " which would produce output shape with a zero or negative value in a "
                                       "dimension: ",
                     shape_str(output), ".");
    }

    Shape channels_last_shape(const Shape& shape, const SpatialArgs& args)
    {
        if (args.channels_last())
            return shape;
        Shape out{shape[0]};
        out.insert(out.end(), shape.begin() + 2, shape.end());
        out.push_back(shape[1]);
        return out;
    }

    PartialShape assemble_shape(long batch, const std::vector<long>& spatial, long channels, const SpatialArgs& args)
    {
        PartialShape out{batch};
        if (!args.channels_last())
            out.push_back(channels);
        out.insert(out.end(), spatial.begin(), spatial.end());
        if (args.channels_last())
            out.push_back(channels);
        return out;
    }

    kernels::ConvGeometry geometry(const SpatialArgs& args, std::size_t batch, const std::vector<long>& in_spatial,
                                   const std::vector<long>& out_spatial, std::size_t in_channels,
                                   std::size_t out_channels, std::size_t groups)
    {
        kernels::ConvGeometry g;
        g.batch = batch;
        const std::size_t offset = 3 - args.rank; // 1-D and 2-D fill the trailing slots
        for (std::size_t i = 0; i < args.rank; ++i)
        {
            std::size_t a = offset + i;
            g.in[a] = std::size_t(in_spatial[i]);
            g.out[a] = std::size_t(out_spatial[i]);
            g.kernel[a] = std::size_t(args.kernel_size[i]);
            g.stride[a] = std::size_t(args.strides[i]);
            g.dilation[a] = std::size_t(args.dilation_rate[i]);
            g.pad_before[a] = pad_before(args.padding, in_spatial[i], out_spatial[i], args.kernel_size[i],
                                         args.strides[i], args.dilation_rate[i]);
        }
        g.in_channels = in_channels;
        g.out_channels = out_channels;
        g.groups = groups;
        return g;
    }

    std::vector<std::array<long, 2>> parse_pairs(const json& value, std::size_t rank, const std::string& arg,
                                                 const std::string& layer)
    {
        auto fail = [&]() {
            return value_error(layer + ": `" + arg + "` should be an int, a tuple of " + std::to_string(rank) +
                               (rank == 1 ? " ints (before, after)" : " ints or a tuple of " + std::to_string(rank) +
                                                                         " tuples of 2 ints") +
                               ", all non-negative. Received " + arg + "=" + value.dump() + ".");
        };
        auto non_negative_int = [](const json& v) { return v.is_number_integer() && v.get<long>() >= 0; };
        std::vector<std::array<long, 2>> pairs;
        if (non_negative_int(value))
            return std::vector<std::array<long, 2>>(rank, {value.get<long>(), value.get<long>()});
        if (!value.is_array())
            throw fail();
        if (rank == 1)
        {
            if (value.size() != 2 || !non_negative_int(value[0]) || !non_negative_int(value[1]))
                throw fail();
            return {{value[0].get<long>(), value[1].get<long>()}};
        }
        if (value.size() != rank)
            throw fail();
        for (const auto& item : value)
        {
            if (non_negative_int(item))
                pairs.push_back({item.get<long>(), item.get<long>()});
            else if (item.is_array() && item.size() == 2 && non_negative_int(item[0]) && non_negative_int(item[1]))
                pairs.push_back({item[0].get<long>(), item[1].get<long>()});
            else
                throw fail();
        }
        return pairs;
    }

    json pairs_to_config(const std::vector<std::array<long, 2>>& pairs)
    {
        if (pairs.size() == 1)
            return json::array({pairs[0][0], pairs[0][1]});
        json out = json::array();
        for (const auto& p : pairs)
            out.push_back(json::array({p[0], p[1]}));
        return out;
    }

    std::array<std::size_t, 5> canonical_dims(const Shape& shape, std::size_t rank, bool channels_last)
    {
        std::array<std::size_t, 5> dims{shape[0], 1, 1, 1, 1};
        const std::size_t first_spatial = channels_last ? 1 : 2;
        for (std::size_t i = 0; i < rank; ++i)
            dims[1 + spatial_slot(rank, i)] = shape[first_spatial + i];
        if (channels_last)
            dims[4] = shape.back();
        else
            dims[0] *= shape[1];
        return dims;
    }

    namespace
    {
        template <class T>
        Tensor<T> permuted(const Tensor<T>& x, const std::vector<std::size_t>& perm)
        {
            Tensor<T> out = xt::transpose(x, perm);
            return out;
        }
    }

    template <class T>
    Tensor<T> to_channels_last(const Tensor<T>& x)
    {
        std::vector<std::size_t> perm{0};
        for (std::size_t i = 2; i < x.dimension(); ++i)
            perm.push_back(i);
        perm.push_back(1);
        return permuted(x, perm);
    }

    template <class T>
    Tensor<T> to_channels_first(const Tensor<T>& x)
    {
        std::vector<std::size_t> perm{0, x.dimension() - 1};
        for (std::size_t i = 1; i + 1 < x.dimension(); ++i)
            perm.push_back(i);
        return permuted(x, perm);
    }

    template Tensor<float> to_channels_last(const Tensor<float>&);
    template Tensor<double> to_channels_last(const Tensor<double>&);
    template Tensor<float> to_channels_first(const Tensor<float>&);
    template Tensor<double> to_channels_first(const Tensor<double>&);
}
