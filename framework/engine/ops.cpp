#include "framework/engine/ops.hpp"
#include "framework/engine/kernels/gemm.hpp"

#include <cmath>
#include <numeric>

namespace xk::ops
{
    namespace
    {
        template <class T>
        Var<T> result(const Tensor<T>& value, bool needs_grad)
        {
            return Var<T>(value, needs_grad);
        }

        template <class T>
        Var<T> result(Tensor<T>&& value, bool needs_grad)
        {
            return Var<T>(std::move(value), needs_grad);
        }

        std::vector<std::size_t> normalized_axes(std::vector<long> axes, std::size_t rank)
        {
            std::vector<std::size_t> out;
            for (long a : axes)
            {
                long n = a < 0 ? a + long(rank) : a;
                XK_CHECK(n >= 0 && n < long(rank), value_error, "Axis ", a, " is out of range for a tensor of rank ",
                         rank, ".");
                out.push_back(std::size_t(n));
            }
            std::sort(out.begin(), out.end());
            out.erase(std::unique(out.begin(), out.end()), out.end());
            return out;
        }

        void check_broadcastable(const Shape& a, const Shape& b, const char* op)
        {
            std::size_t n = std::max(a.size(), b.size());
            for (std::size_t i = 0; i < n; ++i)
            {
                std::size_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
                std::size_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
                XK_CHECK(da == db || da == 1 || db == 1, shape_error, "Cannot ", op, " tensors of shapes ",
                         shape_str(a), " and ", shape_str(b), ": they do not broadcast.");
            }
        }

        /// Records the backward of an elementwise unary op whose derivative is a function of (a, out).
        template <class T, class Derivative>
        Var<T> unary(BasicTape<T>& tape, const Var<T>& a, Tensor<T>&& value, Derivative derivative)
        {
            bool needs = tape.needs_grad(a);
            Var<T> out = result(std::move(value), needs);
            if (needs)
                tape.record([a, out, derivative]() mutable {
                    if (!out.has_grad())
                        return;
                    const Tensor<T>& g = out.grad();
                    Tensor<T>& ga = a.grad_buffer();
                    const T* x = a.value().data();
                    const T* y = out.value().data();
                    const T* gy = g.data();
                    T* gx = ga.data();
                    for (std::size_t i = 0, n = g.size(); i < n; ++i)
                        gx[i] += gy[i] * derivative(x[i], y[i]);
                });
            return out;
        }
    }

    namespace
    {
        /// Adds every element of `from` into the element of `to` it maps onto when axes of `to` that have extent 1
        /// (or are missing in front) are broadcast: the adjoint of broadcasting `to` up to `from`'s shape.
        template <class T>
        void sum_into_broadcast(const Tensor<T>& from, const Shape& to_shape, T* to)
        {
            const std::size_t rank = from.dimension(), lead = rank - to_shape.size();
            std::vector<std::size_t> stride(rank, 0); // stride of `to` along each axis of `from`; 0 when broadcast
            for (std::size_t i = rank, step = 1; i-- > lead;)
            {
                const std::size_t extent = to_shape[i - lead];
                stride[i] = extent == 1 ? 0 : step;
                step *= extent;
            }
            std::vector<std::size_t> index(rank, 0);
            std::size_t target = 0;
            for (std::size_t flat = 0, n = from.size(); flat < n; ++flat)
            {
                to[target] += from.data()[flat];
                for (std::size_t a = rank; a-- > 0;) // odometer increment of the multi-index
                {
                    target += stride[a];
                    if (++index[a] < from.shape()[a])
                        break;
                    target -= stride[a] * index[a];
                    index[a] = 0;
                }
            }
        }
    }

    template <class T>
    Tensor<T> reduce_to_shape(const Tensor<T>& grad, const Shape& target)
    {
        if (shape_of(grad) == target)
            return grad;
        Tensor<T> reduced(target, T(0));
        sum_into_broadcast(grad, target, reduced.data());
        return reduced;
    }

    template <class T>
    Var<T> add(BasicTape<T>& tape, const Var<T>& a, const Var<T>& b)
    {
        check_broadcastable(a.shape(), b.shape(), "add");
        bool needs = tape.needs_grad(a, b);
        Var<T> out = result<T>(a.value() + b.value(), needs);
        if (needs)
            tape.record([a, b, out]() mutable {
                if (!out.has_grad())
                    return;
                const Tensor<T>& g = out.grad();
                if (a.requires_grad())
                    a.accumulate_grad(reduce_to_shape(g, a.shape()));
                if (b.requires_grad())
                    b.accumulate_grad(reduce_to_shape(g, b.shape()));
            });
        return out;
    }

    template <class T>
    Var<T> sub(BasicTape<T>& tape, const Var<T>& a, const Var<T>& b)
    {
        check_broadcastable(a.shape(), b.shape(), "subtract");
        bool needs = tape.needs_grad(a, b);
        Var<T> out = result<T>(a.value() - b.value(), needs);
        if (needs)
            tape.record([a, b, out]() mutable {
                if (!out.has_grad())
                    return;
                const Tensor<T>& g = out.grad();
                if (a.requires_grad())
                    a.accumulate_grad(reduce_to_shape(g, a.shape()));
                if (b.requires_grad())
                    b.accumulate_grad(reduce_to_shape<T>(-g, b.shape()));
            });
        return out;
    }

    template <class T>
    Var<T> mul(BasicTape<T>& tape, const Var<T>& a, const Var<T>& b)
    {
        check_broadcastable(a.shape(), b.shape(), "multiply");
        bool needs = tape.needs_grad(a, b);
        Var<T> out = result<T>(a.value() * b.value(), needs);
        if (needs)
            tape.record([a, b, out]() mutable {
                if (!out.has_grad())
                    return;
                const Tensor<T>& g = out.grad();
                if (a.requires_grad())
                    a.accumulate_grad(reduce_to_shape<T>(g * b.value(), a.shape()));
                if (b.requires_grad())
                    b.accumulate_grad(reduce_to_shape<T>(g * a.value(), b.shape()));
            });
        return out;
    }

    template <class T>
    Var<T> div(BasicTape<T>& tape, const Var<T>& a, const Var<T>& b)
    {
        check_broadcastable(a.shape(), b.shape(), "divide");
        bool needs = tape.needs_grad(a, b);
        Var<T> out = result<T>(a.value() / b.value(), needs);
        if (needs)
            tape.record([a, b, out]() mutable {
                if (!out.has_grad())
                    return;
                const Tensor<T>& g = out.grad();
                if (a.requires_grad())
                    a.accumulate_grad(reduce_to_shape<T>(g / b.value(), a.shape()));
                if (b.requires_grad())
                    b.accumulate_grad(
                        reduce_to_shape<T>(-g * a.value() / (b.value() * b.value()), b.shape()));
            });
        return out;
    }

    template <class T>
    Var<T> neg(BasicTape<T>& tape, const Var<T>& a)
    {
        return scale(tape, a, T(-1));
    }

    template <class T>
    Var<T> scale(BasicTape<T>& tape, const Var<T>& a, T factor)
    {
        return unary<T>(tape, a, a.value() * factor, [factor](T, T) { return factor; });
    }

    template <class T>
    Var<T> add_scalar(BasicTape<T>& tape, const Var<T>& a, T value)
    {
        return unary<T>(tape, a, a.value() + value, [](T, T) { return T(1); });
    }

    template <class T>
    Var<T> exp(BasicTape<T>& tape, const Var<T>& a)
    {
        return unary<T>(tape, a, xt::exp(a.value()), [](T, T y) { return y; });
    }

    template <class T>
    Var<T> log(BasicTape<T>& tape, const Var<T>& a)
    {
        return unary<T>(tape, a, xt::log(a.value()), [](T x, T) { return T(1) / x; });
    }

    template <class T>
    Var<T> abs(BasicTape<T>& tape, const Var<T>& a)
    {
        return unary<T>(tape, a, xt::abs(a.value()), [](T x, T) { return T((x > 0) - (x < 0)); });
    }

    template <class T>
    Var<T> square(BasicTape<T>& tape, const Var<T>& a)
    {
        return unary<T>(tape, a, a.value() * a.value(), [](T x, T) { return T(2) * x; });
    }

    template <class T>
    Var<T> sqrt(BasicTape<T>& tape, const Var<T>& a)
    {
        return unary<T>(tape, a, xt::sqrt(a.value()), [](T, T y) { return T(0.5) / y; });
    }

    template <class T>
    Var<T> clip(BasicTape<T>& tape, const Var<T>& a, T lo, T hi)
    {
        XK_CHECK(lo <= hi, value_error, "clip needs lo <= hi. Received lo=", lo, ", hi=", hi, ".");
        return unary<T>(tape, a, xt::clip(a.value(), lo, hi),
                        [lo, hi](T x, T) { return T(x >= lo && x <= hi); });
    }

    template <class T>
    Var<T> matmul(BasicTape<T>& tape, const Var<T>& a, const Var<T>& b)
    {
        Shape sa = a.shape(), sb = b.shape();
        XK_CHECK(sa.size() == 2 && sb.size() == 2 && sa[1] == sb[0], shape_error,
                 "matmul expects (m, k) x (k, n) matrices. Received shapes ", shape_str(sa), " and ",
                 shape_str(sb), ".");
        std::size_t m = sa[0], k = sa[1], n = sb[1];
        Tensor<T> value = Tensor<T>::from_shape({m, n});
        kernels::gemm<T>(false, false, m, n, k, T(1), a.value().data(), k, b.value().data(), n, T(0), value.data(), n);
        bool needs = tape.needs_grad(a, b);
        Var<T> out = result(std::move(value), needs);
        if (needs)
            tape.record([a, b, out, m, n, k]() mutable {
                if (!out.has_grad())
                    return;
                const T* g = out.grad().data();
                if (a.requires_grad()) // da += g b^T
                    kernels::gemm<T>(false, true, m, k, n, T(1), g, n, b.value().data(), n, T(1),
                                     a.grad_buffer().data(), k);
                if (b.requires_grad()) // db += a^T g
                    kernels::gemm<T>(true, false, k, n, m, T(1), a.value().data(), k, g, n, T(1),
                                     b.grad_buffer().data(), n);
            });
        return out;
    }

    template <class T>
    Var<T> sum(BasicTape<T>& tape, const Var<T>& a)
    {
        bool needs = tape.needs_grad(a);
        Tensor<T> value = Tensor<T>::from_shape({});
        value() = std::accumulate(a.value().begin(), a.value().end(), T(0));
        Var<T> out = result(std::move(value), needs);
        if (needs)
            tape.record([a, out]() mutable {
                if (!out.has_grad())
                    return;
                T g = out.grad()();
                Tensor<T>& ga = a.grad_buffer();
                for (auto& v : ga)
                    v += g;
            });
        return out;
    }

    template <class T>
    Var<T> mean(BasicTape<T>& tape, const Var<T>& a)
    {
        XK_CHECK(a.value().size() > 0, value_error, "mean of an empty tensor of shape ", shape_str(a.shape()), ".");
        return scale(tape, sum(tape, a), T(1) / T(a.value().size()));
    }

    template <class T>
    Var<T> sum(BasicTape<T>& tape, const Var<T>& a, std::vector<long> axes_in, bool keepdims)
    {
        auto axes = normalized_axes(std::move(axes_in), a.value().dimension());
        Shape kept = a.shape();
        for (auto ax : axes)
            kept[ax] = 1;
        Tensor<T> value = reduce_to_shape(a.value(), kept);
        if (!keepdims)
        {
            Shape dropped;
            for (std::size_t i = 0; i < kept.size(); ++i)
                if (std::find(axes.begin(), axes.end(), i) == axes.end())
                    dropped.push_back(kept[i]);
            value.reshape(dropped);
        }
        bool needs = tape.needs_grad(a);
        Var<T> out = result(std::move(value), needs);
        if (needs)
            tape.record([a, out, kept]() mutable {
                if (!out.has_grad())
                    return;
                Tensor<T> g = out.grad();
                g.reshape(kept);
                a.grad_buffer() += g; // broadcasts back over the summed axes
            });
        return out;
    }

    template <class T>
    Var<T> mean(BasicTape<T>& tape, const Var<T>& a, std::vector<long> axes, bool keepdims)
    {
        std::size_t count = 1;
        for (auto ax : normalized_axes(axes, a.value().dimension()))
            count *= a.shape()[ax];
        XK_CHECK(count > 0, value_error, "mean over empty axes of shape ", shape_str(a.shape()), ".");
        return scale(tape, sum(tape, a, std::move(axes), keepdims), T(1) / T(count));
    }

    template <class T>
    Var<T> reshape(BasicTape<T>& tape, const Var<T>& a, const Shape& shape)
    {
        XK_CHECK(shape_size(shape) == a.value().size(), shape_error, "Cannot reshape a tensor of shape ",
                 shape_str(a.shape()), " into shape ", shape_str(shape), ".");
        Tensor<T> value = a.value();
        value.reshape(shape);
        bool needs = tape.needs_grad(a);
        Var<T> out = result(std::move(value), needs);
        if (needs)
            tape.record([a, out]() mutable {
                if (!out.has_grad())
                    return;
                Tensor<T> g = out.grad();
                g.reshape(a.shape());
                a.accumulate_grad(g);
            });
        return out;
    }

    template <class T>
    Var<T> transpose(BasicTape<T>& tape, const Var<T>& a, const std::vector<std::size_t>& perm)
    {
        XK_CHECK(perm.size() == a.value().dimension(), shape_error, "transpose needs a permutation of ",
                 a.value().dimension(), " axes. Received ", perm.size(), " axes.");
        Tensor<T> value = xt::transpose(a.value(), perm);
        bool needs = tape.needs_grad(a);
        Var<T> out = result(std::move(value), needs);
        if (needs)
            tape.record([a, out, perm]() mutable {
                if (!out.has_grad())
                    return;
                std::vector<std::size_t> inverse(perm.size());
                for (std::size_t i = 0; i < perm.size(); ++i)
                    inverse[perm[i]] = i;
                a.accumulate_grad(Tensor<T>(xt::transpose(out.grad(), inverse)));
            });
        return out;
    }

#define XK_INSTANTIATE_OPS(T)                                                                                  \
    template Var<T> add(BasicTape<T>&, const Var<T>&, const Var<T>&);                                          \
    template Var<T> sub(BasicTape<T>&, const Var<T>&, const Var<T>&);                                          \
    template Var<T> mul(BasicTape<T>&, const Var<T>&, const Var<T>&);                                          \
    template Var<T> div(BasicTape<T>&, const Var<T>&, const Var<T>&);                                          \
    template Var<T> neg(BasicTape<T>&, const Var<T>&);                                                         \
    template Var<T> scale(BasicTape<T>&, const Var<T>&, T);                                                    \
    template Var<T> add_scalar(BasicTape<T>&, const Var<T>&, T);                                               \
    template Var<T> exp(BasicTape<T>&, const Var<T>&);                                                         \
    template Var<T> log(BasicTape<T>&, const Var<T>&);                                                         \
    template Var<T> abs(BasicTape<T>&, const Var<T>&);                                                         \
    template Var<T> square(BasicTape<T>&, const Var<T>&);                                                      \
    template Var<T> sqrt(BasicTape<T>&, const Var<T>&);                                                        \
    template Var<T> clip(BasicTape<T>&, const Var<T>&, T, T);                                                  \
    template Var<T> matmul(BasicTape<T>&, const Var<T>&, const Var<T>&);                                       \
    template Var<T> sum(BasicTape<T>&, const Var<T>&);                                                         \
    template Var<T> mean(BasicTape<T>&, const Var<T>&);                                                        \
    template Var<T> sum(BasicTape<T>&, const Var<T>&, std::vector<long>, bool);                                \
    template Var<T> mean(BasicTape<T>&, const Var<T>&, std::vector<long>, bool);                               \
    template Var<T> reshape(BasicTape<T>&, const Var<T>&, const Shape&);                                       \
    template Var<T> transpose(BasicTape<T>&, const Var<T>&, const std::vector<std::size_t>&);                  \
    template Tensor<T> reduce_to_shape(const Tensor<T>&, const Shape&);

    XK_INSTANTIATE_OPS(float)
    XK_INSTANTIATE_OPS(double)
}
