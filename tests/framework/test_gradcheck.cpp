// The gradient checker must catch wrong backwards: these layers compute y = scale * x^2 elementwise (or
// y = x + 1e-7 * offset) and differ only in their backward (or in the backward of their activity penalty).
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
        overwrites_weight,   // dscale = ... instead of +=
        scales_input,        // dx times (1 + amount)
        scales_weight        // dscale times (1 + amount)
    };

    class ScaledSquare : public BasicLayer<double>
    {
    public:
        explicit ScaledSquare(Flaw flaw, double amount = 0.0, const json& config = json::object())
            : BasicLayer<double>(config, "ScaledSquare"), m_flaw(flaw), m_amount(amount)
        {
        }
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
                if (m_flaw == Flaw::scales_input)
                    g *= 1.0 + m_amount;
                if (m_flaw == Flaw::overwrites_input)
                    *dx = g;
                else
                    *dx += g;
            }
            if (Tensor* ds = grad_of(*m_scale); ds && m_flaw != Flaw::forgets_weight)
            {
                double g = xt::sum(x * x * dz)();
                if (m_flaw == Flaw::scales_weight)
                    g *= 1.0 + m_amount;
                if (m_flaw == Flaw::overwrites_weight)
                    (*ds)() = g;
                else
                    (*ds)() += g;
            }
        }

    private:
        Flaw m_flaw;
        double m_amount;
        Weight<double>* m_scale = nullptr;
    };

    /// `input_scale` scales the random input in [-1, 1): the gradients of x scale with it, scale's with its square.
    test::GradcheckReport check(Flaw flaw, double amount = 0.0, double input_scale = 1.0)
    {
        ScaledSquare layer(flaw, amount);
        return test::check_layer_gradients(layer, input_scale * test::random_tensor({2, 3, 4}, 42), 1);
    }

    /// y = x + 1e-7 * offset: dL/doffset = 1e-7 * sum(dy), about 1e-7, in an objective of order 1.
    class TinyOffset : public BasicLayer<double>
    {
    public:
        static constexpr double coefficient = 1e-7;

        explicit TinyOffset(Flaw flaw, double amount = 0.0)
            : BasicLayer<double>(json::object(), "TinyOffset"), m_flaw(flaw), m_amount(amount)
        {
        }
        std::string class_name() const override { return "TinyOffset"; }
        PartialShape compute_output_shape(const PartialShape& s) const override { return s; }

    protected:
        void build_weights(const PartialShape&) override
        {
            m_offset = &add_weight("offset", {}, get_initializer(json{{"class_name", "Constant"}, {"config", {{"value", 0.5}}}}));
        }
        Tensor forward(const Tensor& x, LayerCache<double>&) const override
        {
            return x + coefficient * m_offset->variable.value()();
        }
        void backward(const Tensor&, const Tensor& dz, const LayerCache<double>&, Tensor* dx) override
        {
            if (dx)
                *dx += dz;
            if (Tensor* d = grad_of(*m_offset); d && m_flaw != Flaw::forgets_weight)
                (*d)() += coefficient * xt::sum(dz)() * (m_flaw == Flaw::scales_weight ? 1.0 + m_amount : 1.0);
        }

    private:
        Flaw m_flaw;
        double m_amount;
        Weight<double>* m_offset = nullptr;
    };

    test::GradcheckReport check_tiny_offset(Flaw flaw, double amount = 0.0)
    {
        TinyOffset layer(flaw, amount);
        return test::check_layer_gradients(layer, test::random_tensor({2, 3, 4}, 42), 1);
    }

    /// ScaledSquare with an L2 activity penalty l2 * sum(y^2) / batch that it adds to the tape itself, as
    /// BasicLayer::call does for activity_regularizer, but whose backward may forget the division by the batch
    /// size (the penalty's value keeps it).
    class PenalizedSquare : public ScaledSquare
    {
    public:
        explicit PenalizedSquare(bool forgets_batch_division)
            : ScaledSquare(Flaw::none), m_forgets_batch_division(forgets_batch_division)
        {
        }

        using BasicLayer<double>::call;
        std::vector<Variable> call(BasicTape<double>& tape, std::span<const Variable> inputs, bool training) override
        {
            std::vector<Variable> ys = ScaledSquare::call(tape, inputs, training);
            const Variable y = ys.at(0);
            const double factor = 1.0 / double(inputs[0].shape()[0]);
            const Regularizer r = Regularizer::l2(0.01);
            const bool needs = tape.needs_grad(y);
            Variable penalty(Tensor({}, factor * r.penalty(y.value())), needs);
            if (needs)
                tape.record([y, penalty, r, factor, forgets = m_forgets_batch_division]() mutable {
                    if (!penalty.has_grad())
                        return;
                    r.add_gradient(y.value(), y.grad_buffer(), (forgets ? 1.0 : factor) * penalty.grad()());
                });
            tape.add_loss(penalty);
            return ys;
        }

    private:
        bool m_forgets_batch_division;
    };
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

BOOST_AUTO_TEST_CASE(a_report_that_compares_nothing_fails)
{
    // No trainable weight and an input without entries: nothing compared is no evidence of a correct backward.
    ScaledSquare frozen(Flaw::none);
    frozen.set_trainable(false);
    auto layer_report = test::check_layer_gradients(frozen, Tensor<double>::from_shape({2, 0}), 1);
    BOOST_TEST(layer_report.checked == 0u);
    BOOST_TEST(!layer_report.ok, layer_report.summary());
    BOOST_TEST(layer_report.summary().find("nothing was compared") != std::string::npos, layer_report.summary());

    ScaledSquare frozen_too(Flaw::none);
    frozen_too.set_trainable(false);
    auto several = test::check_layer_gradients(frozen_too, std::vector<Tensor<double>>{Tensor<double>::from_shape({2, 0})}, 1);
    BOOST_TEST(several.checked == 0u);
    BOOST_TEST(!several.ok, several.summary());

    auto function_report = test::check_function_gradients(
        [](BasicTape<double>& t, const std::vector<BasicVariable<double>>& v) { return ops::sum(t, v[0]); },
        {Tensor<double>::from_shape({0, 3})});
    BOOST_TEST(function_report.checked == 0u);
    BOOST_TEST(!function_report.ok, function_report.summary());
}

BOOST_AUTO_TEST_CASE(a_flaw_just_above_the_tolerance_fails_and_just_below_passes)
{
    // Inputs in [-0.1, 0.1): every input gradient is below 1 (|2 * 1.5 * x * dz| < 0.3), where the old
    // absolute measure max(1, |n|) would have shrunk a relative flaw of 2e-6 to under 6e-7 and passed it.
    // The error is relative: the worst entry reports the flaw itself.
    const double tolerance = test::gradcheck_tolerance;
    auto above = check(Flaw::scales_input, 2.0 * tolerance, 0.1);
    BOOST_TEST(!above.ok, above.summary());
    BOOST_TEST(above.worst_at.rfind("input[", 0) == 0u, above.summary());
    BOOST_TEST(std::abs(above.worst_error - 2.0 * tolerance) < 0.1 * tolerance, above.summary());
    BOOST_TEST(std::abs(above.expected) < 0.3, above.summary());

    auto below = check(Flaw::scales_input, 0.5 * tolerance, 0.1);
    BOOST_TEST(below.ok, below.summary());
    BOOST_TEST(std::abs(below.worst_error - 0.5 * tolerance) < 0.1 * tolerance, below.summary());

    // The same for the weight.
    auto weight_above = check(Flaw::scales_weight, 2.0 * tolerance, 0.1);
    BOOST_TEST(!weight_above.ok, weight_above.summary());
    BOOST_TEST(weight_above.worst_at == "scale[0]", weight_above.summary());
    BOOST_TEST(check(Flaw::scales_weight, 0.5 * tolerance, 0.1).ok);
}

BOOST_AUTO_TEST_CASE(a_wrong_gradient_of_a_weight_whose_true_gradient_is_1e_7_fails)
{
    // A weight of tiny gradient in an objective of order 1: dL/doffset = 1e-7 * sum(upstream).
    auto good = check_tiny_offset(Flaw::none);
    BOOST_TEST(good.ok, good.summary());
    auto missing = check_tiny_offset(Flaw::forgets_weight);
    BOOST_TEST(!missing.ok, missing.summary());
    BOOST_TEST(missing.worst_at == "offset[0]", missing.summary());
    BOOST_TEST(std::abs(missing.expected) > 0.3e-7, missing.summary());
    BOOST_TEST(std::abs(missing.expected) < 3e-7, missing.summary());
    auto doubled = check_tiny_offset(Flaw::scales_weight, 1.0);
    BOOST_TEST(!doubled.ok, doubled.summary());
    BOOST_TEST(doubled.worst_at == "offset[0]", doubled.summary());
    // Below the objective's noise floor (1e-4 * S) the check is absolute, to 1e-10 * S: a 10% error of
    // this weight's gradient is still caught.
    auto ten_percent = check_tiny_offset(Flaw::scales_weight, 0.1);
    BOOST_TEST(!ten_percent.ok, ten_percent.summary());

    // A whole layer of tiny values (inputs of 2.5e-4, so dL/dscale = sum(x^2 * dz) ~ 1e-7 and S is of order
    // 1e-7) is checked relatively: a weight gradient 0.1% off fails.
    auto tiny = check(Flaw::none, 0.0, 2.5e-4);
    BOOST_TEST(tiny.ok, tiny.summary());
    auto tiny_off = check(Flaw::scales_weight, 1e-3, 2.5e-4);
    BOOST_TEST(!tiny_off.ok, tiny_off.summary());
    BOOST_TEST(tiny_off.worst_at == "scale[0]", tiny_off.summary());
    BOOST_TEST(std::abs(tiny_off.expected) > 1e-8, tiny_off.summary());
    BOOST_TEST(std::abs(tiny_off.expected) < 1e-6, tiny_off.summary());
    BOOST_TEST(!check(Flaw::forgets_weight, 0.0, 2.5e-4).ok);
}

BOOST_AUTO_TEST_CASE(a_wrong_activity_penalty_gradient_fails)
{
    // The library's own activity penalty passes, through the config...
    ScaledSquare regularized(Flaw::none, 0.0, json{{"activity_regularizer", "l2"}});
    auto library = test::check_layer_gradients(regularized, test::random_tensor({2, 3, 4}, 42), 1);
    BOOST_TEST(library.ok, library.summary());
    // ...so does the same penalty added by the layer...
    PenalizedSquare right(false);
    auto good = test::check_layer_gradients(right, test::random_tensor({2, 3, 4}, 42), 1);
    BOOST_TEST(good.ok, good.summary());
    // ...and a penalty whose gradient forgets the division by the batch size fails.
    PenalizedSquare wrong(true);
    auto bad = test::check_layer_gradients(wrong, test::random_tensor({2, 3, 4}, 42), 1);
    BOOST_TEST(!bad.ok, bad.summary());
}

BOOST_AUTO_TEST_SUITE_END()
