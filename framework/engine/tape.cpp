#include "framework/engine/tape.hpp"

namespace xk
{
    namespace
    {
        thread_local int no_grad_depth = 0;
    }

    NoGradGuard::NoGradGuard() { ++no_grad_depth; }
    NoGradGuard::~NoGradGuard() { --no_grad_depth; }
    bool NoGradGuard::grad_enabled() { return no_grad_depth == 0; }
}
