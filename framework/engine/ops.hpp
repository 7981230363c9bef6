#pragma once
// Differentiable tensor ops: each computes its result and, when an input needs a gradient, records a
// backward closure on the tape that adds into the inputs' gradients.
#include "framework/engine/tape.hpp"

#include <vector>

namespace xk::ops
{
    template <class T>
    using Var = BasicVariable<T>;

    /// Elementwise with NumPy broadcasting; gradients are summed back to each input's shape.
    template <class T> Var<T> add(BasicTape<T>& tape, const Var<T>& a, const Var<T>& b);
    template <class T> Var<T> sub(BasicTape<T>& tape, const Var<T>& a, const Var<T>& b);
    template <class T> Var<T> mul(BasicTape<T>& tape, const Var<T>& a, const Var<T>& b);
    template <class T> Var<T> div(BasicTape<T>& tape, const Var<T>& a, const Var<T>& b);
    template <class T> Var<T> neg(BasicTape<T>& tape, const Var<T>& a);
    template <class T> Var<T> scale(BasicTape<T>& tape, const Var<T>& a, T factor);
    template <class T> Var<T> add_scalar(BasicTape<T>& tape, const Var<T>& a, T value);

    template <class T> Var<T> exp(BasicTape<T>& tape, const Var<T>& a);
    template <class T> Var<T> log(BasicTape<T>& tape, const Var<T>& a);
    template <class T> Var<T> abs(BasicTape<T>& tape, const Var<T>& a);
    template <class T> Var<T> square(BasicTape<T>& tape, const Var<T>& a);
    template <class T> Var<T> sqrt(BasicTape<T>& tape, const Var<T>& a);
    /// Clips to [lo, hi]; the gradient passes where lo <= a <= hi (TensorFlow's clip_by_value).
    template <class T> Var<T> clip(BasicTape<T>& tape, const Var<T>& a, T lo, T hi);

    /// (m, k) x (k, n) matrix product.
    template <class T> Var<T> matmul(BasicTape<T>& tape, const Var<T>& a, const Var<T>& b);

    /// Sum or mean of every element, giving a 0-d tensor.
    template <class T> Var<T> sum(BasicTape<T>& tape, const Var<T>& a);
    template <class T> Var<T> mean(BasicTape<T>& tape, const Var<T>& a);
    /// Over the given axes (negative counts from the end).
    template <class T> Var<T> sum(BasicTape<T>& tape, const Var<T>& a, std::vector<long> axes, bool keepdims = false);
    template <class T> Var<T> mean(BasicTape<T>& tape, const Var<T>& a, std::vector<long> axes, bool keepdims = false);

    template <class T> Var<T> reshape(BasicTape<T>& tape, const Var<T>& a, const Shape& shape);
    template <class T> Var<T> transpose(BasicTape<T>& tape, const Var<T>& a, const std::vector<std::size_t>& perm);

    /// Sums a gradient over broadcast axes so it has `target` shape.
    template <class T> Tensor<T> reduce_to_shape(const Tensor<T>& grad, const Shape& target);
}
