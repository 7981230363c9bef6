#pragma once
// Small assertions shared by the tests.
#include "framework/engine/tensor.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <string>

namespace xk::test
{
    /// For BOOST_CHECK_EXCEPTION: the exception's message contains every fragment.
    struct message_contains
    {
        explicit message_contains(std::initializer_list<std::string> fragments) : m_fragments(fragments) {}
        explicit message_contains(std::string fragment) : m_fragments{std::move(fragment)} {}

        bool operator()(const std::exception& e) const
        {
            std::string what = e.what();
            for (const auto& f : m_fragments)
                if (what.find(f) == std::string::npos)
                {
                    BOOST_TEST_MESSAGE("message '" << what << "' lacks '" << f << "'");
                    return false;
                }
            return true;
        }

    private:
        std::vector<std::string> m_fragments;
    };

    /// max|a - b| <= tolerance * max(1, max|b|): the conformance rule (relative to the largest magnitude).
    template <class T, class U>
    bool close_to_scale(const Tensor<T>& a, const Tensor<U>& b, double tolerance, std::string* why = nullptr)
    {
        if (a.shape() != b.shape())
        {
            if (why)
                *why = "shape " + shape_str(shape_of(a)) + " vs expected " + shape_str(shape_of(b));
            return false;
        }
        double scale = 1.0, worst = 0.0;
        std::size_t worst_at = 0;
        for (std::size_t i = 0; i < b.size(); ++i)
            scale = std::max(scale, std::abs(double(b.data()[i])));
        for (std::size_t i = 0; i < a.size(); ++i)
        {
            double d = std::abs(double(a.data()[i]) - double(b.data()[i]));
            if (!(d <= worst)) // also catches NaN
            {
                worst = std::isnan(d) ? INFINITY : d;
                worst_at = i;
            }
        }
        bool ok = worst <= tolerance * scale;
        if (!ok && why)
            *why = "worst |difference| " + std::to_string(worst) + " at flat index " + std::to_string(worst_at) +
                   " (got " + std::to_string(double(a.data()[worst_at])) + ", expected " +
                   std::to_string(double(b.data()[worst_at])) + "), allowed " + std::to_string(tolerance * scale);
        return ok;
    }
}
