#pragma once
// An explicit gradient tape. Differentiable ops append a backward closure in execution order, so replaying
// them in reverse needs no topological sort. Closures *accumulate* into their inputs' gradients.
#include "framework/engine/variable.hpp"

#include <functional>
#include <vector>

namespace xk
{
    /// While alive on this thread, tapes record nothing (inference, optimizer updates).
    class NoGradGuard
    {
    public:
        NoGradGuard();
        ~NoGradGuard();
        NoGradGuard(const NoGradGuard&) = delete;
        NoGradGuard& operator=(const NoGradGuard&) = delete;

        static bool grad_enabled();
    };

    template <class T>
    class BasicTape
    {
    public:
        using Variable = BasicVariable<T>;
        using Backward = std::function<void()>;

        BasicTape() = default;
        BasicTape(const BasicTape&) = delete;
        BasicTape& operator=(const BasicTape&) = delete;

        /// Whether an op whose inputs include one that requires a gradient must record itself.
        bool recording() const { return NoGradGuard::grad_enabled(); }

        /// True when an op over these inputs needs a backward entry.
        template <class... Vars>
        bool needs_grad(const Vars&... inputs) const
        {
            return recording() && (... || inputs.requires_grad());
        }

        void record(Backward backward) { m_entries.push_back(std::move(backward)); }

        /// Seeds d(output) with ones (a scalar loss: dloss/dloss = 1) and replays the tape in reverse.
        void backward(const Variable& output)
        {
            output.accumulate_grad(full<T>(output.shape(), T(1)));
            replay();
        }

        /// Seeds d(output) with `upstream` and replays the tape in reverse; the tape is emptied afterwards,
        /// which frees every intermediate it held.
        void backward(Variable output, const Tensor<T>& upstream)
        {
            output.accumulate_grad(upstream);
            replay();
        }

        /// As above; a temporary seed becomes the output's gradient without a copy.
        void backward(Variable output, Tensor<T>&& upstream)
        {
            output.accumulate_grad(std::move(upstream));
            replay();
        }

        /// Runs every backward closure in reverse order, then empties the tape. For several seeds, put the
        /// gradients on the outputs (accumulate_grad) first. Each closure is destroyed as soon as it has run,
        /// so an activation (and its gradient) is freed once the last closure that holds it is done, not at
        /// the end of the pass.
        void replay()
        {
            for (auto it = m_entries.rbegin(); it != m_entries.rend(); ++it)
            {
                (*it)();
                *it = nullptr;
            }
            clear();
        }

        /// Keras's add_loss: extra loss terms (activity regularization) produced during the forward pass.
        void add_loss(const Variable& loss) { m_losses.push_back(loss); }
        const std::vector<Variable>& losses() const { return m_losses; }

        std::size_t size() const { return m_entries.size(); }

        void clear()
        {
            m_entries.clear();
            m_losses.clear();
        }

    private:
        std::vector<Backward> m_entries;
        std::vector<Variable> m_losses;
    };

    using Variable = BasicVariable<float>;
    using Tape = BasicTape<float>;
}
