#pragma once
// The gradient checker lives in the library (xkeras gradcheck uses it too); tests reach it as xk::test::.
#include "framework/keras/gradcheck.hpp"

namespace xk::test
{
    using xk::check_function_gradients;
    using xk::check_layer_gradients;
    using xk::gradcheck_tolerance;
    using xk::GradcheckReport;
    using xk::random_tensor;
    using xk::TapeFunction;
}
