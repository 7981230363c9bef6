#pragma once
// A Variable is a cheap, shallow-copied handle to a value and its gradient: copies share the same node,
// so a tape's backward closure and the user see the same gradient. Like a pointer, a const handle still
// lets the gradient it points to be accumulated.
#include "framework/engine/error.hpp"
#include "framework/engine/tensor.hpp"

#include <memory>
#include <string>
#include <utility>

namespace xk
{
    template <class T>
    class BasicVariable
    {
    public:
        using value_type = T;

        /// An empty handle (defined() is false).
        BasicVariable() = default;

        explicit BasicVariable(Tensor<T> value, bool requires_grad = false, std::string name = {})
            : m_node(std::make_shared<Node>())
        {
            m_node->value = std::move(value);
            m_node->requires_grad = requires_grad;
            m_node->name = std::move(name);
        }

        bool defined() const { return m_node != nullptr; }

        const Tensor<T>& value() const { return node().value; }
        Tensor<T>& value() { return node().value; }
        Shape shape() const { return shape_of(node().value); }

        bool requires_grad() const { return node().requires_grad; }
        void set_requires_grad(bool on) { node().requires_grad = on; }

        const std::string& name() const { return node().name; }

        /// True once some backward pass (or the user) has put a gradient here.
        bool has_grad() const { return node().has_grad; }

        /// The gradient accumulated so far; zeros of the value's shape when there is none yet.
        const Tensor<T>& grad() const
        {
            ensure_grad();
            return node().grad;
        }

        /// The gradient buffer for backward closures to add into (allocated as zeros on first use).
        Tensor<T>& grad_buffer() const
        {
            ensure_grad();
            return node().grad;
        }

        /// grad += g (g must have the value's shape).
        void accumulate_grad(const Tensor<T>& g) const
        {
            XK_CHECK(g.shape() == node().value.shape(), shape_error, "Gradient of shape ", shape_str(shape_of(g)),
                     " does not match variable '", node().name, "' of shape ", shape_str(shape()), ".");
            if (!node().has_grad)
            {
                node().grad = g;
                node().has_grad = true;
                return;
            }
            add_values(node().grad.data(), g.data(), g.size());
        }

        /// grad += g, taking g's buffer when there is no gradient yet (a seed of ones is not copied).
        void accumulate_grad(Tensor<T>&& g) const
        {
            if (node().has_grad)
            {
                accumulate_grad(static_cast<const Tensor<T>&>(g));
                return;
            }
            XK_CHECK(g.shape() == node().value.shape(), shape_error, "Gradient of shape ", shape_str(shape_of(g)),
                     " does not match variable '", node().name, "' of shape ", shape_str(shape()), ".");
            node().grad = std::move(g);
            node().has_grad = true;
        }

        /// Drops the gradient (the next backward starts from zero).
        void zero_grad() const
        {
            node().has_grad = false;
            node().grad = Tensor<T>();
        }

        bool same_node(const BasicVariable& other) const { return m_node == other.m_node; }

    private:
        struct Node
        {
            Tensor<T> value;
            Tensor<T> grad;
            bool requires_grad = false;
            bool has_grad = false;
            std::string name;
        };

        Node& node() const
        {
            XK_CHECK(m_node, value_error, "Use of an undefined Variable.");
            return *m_node;
        }

        void ensure_grad() const
        {
            Node& n = node();
            if (!n.has_grad)
            {
                n.grad = zeros<T>(shape_of(n.value));
                n.has_grad = true;
            }
        }

        std::shared_ptr<Node> m_node;
    };
}
