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
#include <xsimd/memory/xsimd_alignment.hpp>

#include <cstddef>
#include <new>
#include <string>
#include <vector>

namespace xk
{
    /// Storage of every tensor: 64-byte aligned blocks (one AVX-512 vector, one cache line). Large blocks are
    /// kept for reuse when freed (framework/engine/tensor_storage.cpp says why), so a training step that frees and
    /// re-allocates the same activations does not fault fresh pages in every step.
    void* allocate_tensor_storage(std::size_t bytes);
    void release_tensor_storage(void* block) noexcept;
    inline constexpr std::size_t tensor_storage_alignment = 64;

    template <class T>
    struct TensorAllocator
    {
        using value_type = T;

        TensorAllocator() noexcept = default;
        template <class U>
        TensorAllocator(const TensorAllocator<U>&) noexcept
        {
        }

        T* allocate(std::size_t n)
        {
            if (n > std::size_t(-1) / sizeof(T))
                throw std::bad_array_new_length();
            return static_cast<T*>(allocate_tensor_storage(n * sizeof(T)));
        }
        void deallocate(T* block, std::size_t) noexcept { release_tensor_storage(block); }

        template <class U>
        struct rebind
        {
            using other = TensorAllocator<U>;
        };

        friend bool operator==(const TensorAllocator&, const TensorAllocator&) noexcept { return true; }
        friend bool operator!=(const TensorAllocator&, const TensorAllocator&) noexcept { return false; }
    };
}

// Tell xsimd and xtensor the blocks are aligned, so their vectorised assignments may use aligned loads.
template <class T>
struct xsimd::allocator_alignment<xk::TensorAllocator<T>>
{
    using type = xsimd::aligned_mode;
};

template <class T>
struct xt::detail::allocator_alignment<xk::TensorAllocator<T>>
{
    constexpr static std::size_t value = xk::tensor_storage_alignment;
};

namespace xk
{

    /// Row-major n-d array. Training runs in float; gradient checks instantiate the same code in double.
    /// The allocator is our own, so the library (built for the machine) and a user's program (built without
    /// -march flags) agree on the type and on the alignment.
    template <class T>
    using Tensor = xt::xarray<T, xt::layout_type::row_major, TensorAllocator<T>>;

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

    /// dst[0:n] = value, and dst[0:n] += src[0:n], on every core for large n: a training step zeroes, seeds
    /// and sums gradients of activation size, which a single core does at a fraction of memory speed.
    void fill_values(float* dst, std::size_t n, float value);
    void fill_values(double* dst, std::size_t n, double value);
    void add_values(float* dst, const float* src, std::size_t n);
    void add_values(double* dst, const double* src, std::size_t n);

    template <class T>
    Tensor<T> full(const Shape& shape, T value)
    {
        Tensor<T> t = Tensor<T>::from_shape(shape);
        fill_values(t.data(), t.size(), value);
        return t;
    }

    template <class T>
    Tensor<T> zeros(const Shape& shape)
    {
        return full<T>(shape, T(0));
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
