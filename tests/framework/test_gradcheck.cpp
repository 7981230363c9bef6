// The gradient checker must catch wrong backwards: these layers compute y = scale * x^2 elementwise and
// differ only in their backward.
#include "support/checks.hpp"
#include "support/gradcheck.hpp"
#include "framework/engine/ops.hpp"

#include <boost/test/unit_test.hpp>

using namespace xk;

namespace
{
    enum class Flaw
    {
        none,
        wrong_input_factor,  // dx misses the factor 2
        overwrites_input,    // dx = ... instead of +=
        forgets_weight,      // no gradient for scale
        overwrites_weight    // dscale = ... instead of +=
    };

    class ScaledSquare : public BasicLayer<double>
    {
    public:
        explicit ScaledSquare(Flaw flaw) : BasicLayer<double>(json::object(), "ScaledSquare"), m_flaw(flaw) {}
        std::string class_name() const override { return "ScaledSquare"; }
        PartialShape compute_output_shape(const PartialShape& s) const override { return s; }

    protected:
        void build_weights(const PartialShape&) override
        {
            m_scale = &add_weight("scale", {}, get_initializer(json{{"class_name", "Constant"}, {"config", {{"value", 1.5}}}}));
        }
        Tensor forward(const Tensor& x, LayerCache<double>&) const override
        {
            return m_scale->variable.value()() * x * x;
        }
        void backward(const Tensor& x, const Tensor& dz, const LayerCache<double>&, Tensor* dx) override
        {
            const double s = m_scale->variable.value()();
            if (dx)
            {
                Tensor g = (m_flaw == Flaw::wrong_input_factor ? 1.0 : 2.0) * s * x * dz;
                if (m_flaw == Flaw::overwrites_input)
                    *dx = g;
                else
                    *dx += g;
            }
            if (Tensor* ds = grad_of(*m_scale); ds && m_flaw != Flaw::forgets_weight)
            {
                double g = xt::sum(x * x * dz)();
                if (m_flaw == Flaw::overwrites_weight)
                    (*ds)() = g;
                else
                    (*ds)() += g;
            }
        }

    private:
        Flaw m_flaw;
        Weight<double>* m_scale = nullptr;
    };

    test::GradcheckReport check(Flaw flaw)
    {
        ScaledSquare layer(flaw);
        return test::check_layer_gradients(layer, test::random_tensor({2, 3, 4}, 42), 1);
    }
}

BOOST_AUTO_TEST_SUITE(gradcheck)

BOOST_AUTO_TEST_CASE(a_correct_backward_passes)
{
    auto report = check(Flaw::none);
    BOOST_TEST(report.ok, report.summary());
    BOOST_TEST(report.checked == 2u * 3 * 4 + 1);
}

BOOST_AUTO_TEST_CASE(a_wrong_input_gradient_fails)
{
    auto report = check(Flaw::wrong_input_factor);
    BOOST_TEST(!report.ok, report.summary());
    BOOST_TEST(report.worst_at.rfind("input[", 0) == 0u);
}

BOOST_AUTO_TEST_CASE(overwriting_the_input_gradient_fails)
{
    BOOST_TEST(!check(Flaw::overwrites_input).ok);
}

BOOST_AUTO_TEST_CASE(a_missing_weight_gradient_fails)
{
    auto report = check(Flaw::forgets_weight);
    BOOST_TEST(!report.ok);
    BOOST_TEST(report.worst_at == "scale[0]");
}

BOOST_AUTO_TEST_CASE(overwriting_a_weight_gradient_fails)
{
    BOOST_TEST(!check(Flaw::overwrites_weight).ok);
}

BOOST_AUTO_TEST_CASE(a_wrong_function_gradient_fails)
{
    // mul's own gradient passes; a function that detaches one factor does not.
    auto good = test::check_function_gradients(
        [](BasicTape<double>& t, const std::vector<BasicVariable<double>>& v) { return ops::mul(t, v[0], v[1]); },
        {test::random_tensor({3, 2}, 1), test::random_tensor({3, 2}, 2)});
    BOOST_TEST(good.ok, good.summary());
    auto detached = test::check_function_gradients(
        [](BasicTape<double>& t, const std::vector<BasicVariable<double>>& v) {
            return ops::mul(t, v[0], BasicVariable<double>(v[1].value()));
        },
        {test::random_tensor({3, 2}, 1), test::random_tensor({3, 2}, 2)});
    BOOST_TEST(!detached.ok);
}

BOOST_AUTO_TEST_SUITE_END()
