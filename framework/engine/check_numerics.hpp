#pragma once
// A debug mode that finds where NaN or Inf first appears: every layer call checks its output, and every
// backward step checks the gradients it produced, throwing value_error naming the layer. Off by default;
// when off, each layer call costs one relaxed atomic load. Turned on by set_check_numerics(true) or by the
// environment variable XKERAS_CHECK_NUMERICS=1 (read once, at start-up).
#include "framework/engine/tensor.hpp"

#include <string>

namespace xk
{
    void set_check_numerics(bool enabled);
    bool check_numerics_enabled();

    /// Throws value_error "NaN in <what> of <where> ..." when `values` holds a NaN or an infinity.
    template <class T>
    void check_finite(const Tensor<T>& values, const std::string& what, const std::string& where);
}
