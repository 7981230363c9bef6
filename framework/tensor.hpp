#pragma once
// The one header that includes xtensor: Debian ships 0.24 with flat header paths (newer releases moved them),
// so a move to another xtensor changes only this file.
#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xbroadcast.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xio.hpp>
#include <xtensor/xmanipulation.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xreducer.hpp>
#include <xtensor/xstrided_view.hpp>
#include <xtensor/xview.hpp>
#include <xsimd/memory/xsimd_aligned_allocator.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace xk
{
    /// Row-major n-d array. Training runs in float; gradient checks instantiate the same code in double.
    /// The allocator is spelled out: xtensor's default alignment follows the compiler's -march flags, and the
    /// library (built for the machine) and a user's program (built without them) must agree on the type.
    template <class T>
    using Tensor = xt::xarray<T, xt::layout_type::row_major, xsimd::aligned_allocator<T, 64>>;

    using Shape = std::vector<std::size_t>;

    /// A Keras shape with an unknown batch (or other) dimension: -1 stands for Python's None.
    using PartialShape = std::vector<long>;

    /// "(2, 28, 28, 1)", as Python prints a shape.
    std::string shape_str(const Shape& shape);
    std::string shape_str(const PartialShape& shape);

    std::size_t shape_size(const Shape& shape);

    template <class T>
    Shape shape_of(const Tensor<T>& t)
    {
        return Shape(t.shape().begin(), t.shape().end());
    }

    template <class T>
    Tensor<T> zeros(const Shape& shape)
    {
        return Tensor<T>(shape, T(0));
    }

    template <class T>
    Tensor<T> full(const Shape& shape, T value)
    {
        return Tensor<T>(shape, value);
    }

    /// Converts between value types (float weights into a double gradient check, and back).
    template <class To, class From>
    Tensor<To> tensor_cast(const Tensor<From>& t)
    {
        Tensor<To> out = Tensor<To>::from_shape(t.shape());
        const From* src = t.data();
        To* dst = out.data();
        for (std::size_t i = 0, n = t.size(); i < n; ++i)
            dst[i] = static_cast<To>(src[i]);
        return out;
    }
}
