#pragma once
// Keras weight/activity regularizers. L1, L2 and L1L2 are all penalty = l1*sum|w| + l2*sum(w^2); they differ
// only in their class name and config keys, so one value type represents them.
#include "framework/keras/config.hpp"
#include "framework/engine/tensor.hpp"

#include <optional>
#include <string>

namespace xk
{
    class Regularizer
    {
    public:
        enum class Kind
        {
            L1,
            L2,
            L1L2
        };

        static Regularizer l1(double l1 = 0.01);
        static Regularizer l2(double l2 = 0.01);
        static Regularizer l1_l2(double l1 = 0.0, double l2 = 0.0);

        Kind kind() const { return m_kind; }
        double l1_factor() const { return m_l1; }
        double l2_factor() const { return m_l2; }

        std::string class_name() const;   // "L1", "L2", "L1L2"
        json get_config() const;          // {"l1": ...}, {"l2": ...}, {"l1": ..., "l2": ...}

        /// l1*sum|w| + l2*sum(w^2)
        template <class T>
        T penalty(const Tensor<T>& w) const;

        /// grad += scale * d(penalty)/dw, with sign(0) = 0 as TensorFlow's gradient of abs.
        template <class T>
        void add_gradient(const Tensor<T>& w, Tensor<T>& grad, T scale = T(1)) const;

    private:
        Regularizer(Kind kind, double l1, double l2) : m_kind(kind), m_l1(l1), m_l2(l2) {}
        Kind m_kind;
        double m_l1;
        double m_l2;
    };

    /// "l1", "l2", "l1_l2" (Keras's string defaults: 0.01 each), "L1"/"L2"/"L1L2",
    /// {"class_name": ..., "config": ...}. Null gives nullopt.
    std::optional<Regularizer> get_regularizer(const json& identifier);
    /// {"class_name": ..., "config": ...}, or null.
    json serialize(const std::optional<Regularizer>& regularizer);
}
