#pragma once
// Keras weight constraints, applied by the optimizer to a weight after each update.
#include "framework/keras/config.hpp"
#include "framework/engine/tensor.hpp"

#include <optional>
#include <string>
#include <vector>

namespace xk
{
    class Constraint
    {
    public:
        enum class Kind
        {
            MaxNorm,
            NonNeg,
            UnitNorm,
            MinMaxNorm
        };

        /// Keras defaults: MaxNorm(max_value=2, axis=0), UnitNorm(axis=0),
        /// MinMaxNorm(min_value=0, max_value=1, rate=1, axis=0). `axis` may list several axes; negative
        /// axes count from the end.
        static Constraint max_norm(double max_value = 2.0, std::vector<long> axis = {0});
        static Constraint non_neg();
        static Constraint unit_norm(std::vector<long> axis = {0});
        static Constraint min_max_norm(double min_value = 0.0, double max_value = 1.0, double rate = 1.0,
                                       std::vector<long> axis = {0});

        Kind kind() const { return m_kind; }
        std::string class_name() const;  // "MaxNorm", "NonNeg", "UnitNorm", "MinMaxNorm"
        json get_config() const;         // Keras's keys; axis as an int when single, a list otherwise

        /// Replaces w by the constrained value, as Keras computes it (norms over `axis`, epsilon 1e-7).
        template <class T>
        void apply(Tensor<T>& w) const;

    private:
        Constraint(Kind kind, double min_value, double max_value, double rate, std::vector<long> axis)
            : m_kind(kind), m_min(min_value), m_max(max_value), m_rate(rate), m_axis(std::move(axis))
        {
        }
        Kind m_kind;
        double m_min;
        double m_max;
        double m_rate;
        std::vector<long> m_axis;
        bool m_axis_was_list = false;
        friend std::optional<Constraint> get_constraint(const json& identifier);
    };

    /// "max_norm"/"MaxNorm", "non_neg"/"NonNeg", "unit_norm"/"UnitNorm", "min_max_norm"/"MinMaxNorm",
    /// {"class_name": ..., "config": ...}. Null gives nullopt.
    std::optional<Constraint> get_constraint(const json& identifier);
    json serialize(const std::optional<Constraint>& constraint);
}
