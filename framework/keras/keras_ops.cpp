#include "framework/keras/keras_ops.hpp"

namespace xk::ops
{
    template <class T>
    Var<T> activation(BasicTape<T>& tape, const Var<T>& a, const Activation& f)
    {
        if (f.is_linear())
            return a;
        bool needs = tape.needs_grad(a);
        Var<T> out = Var<T>(f.forward(a.value()), needs);
        if (needs)
            tape.record([a, out, f]() mutable {
                if (!out.has_grad())
                    return;
                f.backward(a.value(), out.value(), out.grad(), a.grad_buffer());
            });
        return out;
    }

    template <class T>
    Var<T> penalty(BasicTape<T>& tape, const Var<T>& a, const Regularizer& r, T factor)
    {
        Tensor<T> value = Tensor<T>::from_shape({});
        value() = factor * r.penalty(a.value());
        bool needs = tape.needs_grad(a);
        Var<T> out = Var<T>(std::move(value), needs);
        if (needs)
            tape.record([a, out, r, factor]() mutable {
                if (!out.has_grad())
                    return;
                r.add_gradient(a.value(), a.grad_buffer(), T(factor * out.grad()()));
            });
        return out;
    }

    template Var<float> activation(BasicTape<float>&, const Var<float>&, const Activation&);
    template Var<double> activation(BasicTape<double>&, const Var<double>&, const Activation&);
    template Var<float> penalty(BasicTape<float>&, const Var<float>&, const Regularizer&, float);
    template Var<double> penalty(BasicTape<double>&, const Var<double>&, const Regularizer&, double);
}
