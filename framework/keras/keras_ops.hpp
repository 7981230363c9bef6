#pragma once
// The tape ops over Keras objects: an activation applied to a variable, and a regularizer's penalty. They
// sit with the objects (not in the engine's ops) so that the engine knows nothing of Keras.
#include "framework/engine/ops.hpp"
#include "framework/keras/activations.hpp"
#include "framework/keras/regularizers.hpp"

namespace xk::ops
{
    template <class T> Var<T> activation(BasicTape<T>& tape, const Var<T>& a, const Activation& f);

    /// The regularization loss term of a weight or activation: l1*sum|a| + l2*sum(a^2), times `factor`
    /// (tf.keras 2.x divides an activity penalty by the batch size).
    template <class T> Var<T> penalty(BasicTape<T>& tape, const Var<T>& a, const Regularizer& r, T factor = T(1));
}
