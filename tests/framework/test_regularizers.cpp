// L1 / L2 / L1L2 against hand-computed penalties and gradients, a finite-difference check, and Keras's
// identifier forms and configs.
#include "framework/keras/regularizers.hpp"
#include "support/checks.hpp"

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <random>

namespace
{
    using xk::json;
    using xk::Regularizer;
    using xk::Tensor;

    // sum|w| = 6, sum(w^2) = 14, one exact zero.
    template <class T>
    Tensor<T> small_weight()
    {
        return Tensor<T>{{T(1), T(-2)}, {T(0), T(3)}};
    }

    // Keras stores factors as float32: what get_config reports for a factor given as a double.
    double as_floatx(double v)
    {
        return double(float(v));
    }

    json spec(const std::string& name, json config)
    {
        return {{"class_name", name}, {"config", std::move(config)}};
    }
}

BOOST_AUTO_TEST_SUITE(regularizers)

BOOST_AUTO_TEST_CASE(penalties_on_a_small_weight)
{
    // Factors exactly representable in float, so the expected values are exact.
    BOOST_TEST(Regularizer::l1(0.5).penalty(small_weight<double>()) == 3.0);
    BOOST_TEST(Regularizer::l2(0.25).penalty(small_weight<double>()) == 3.5);
    BOOST_TEST(Regularizer::l1_l2(0.5, 0.25).penalty(small_weight<double>()) == 6.5);
    BOOST_TEST(Regularizer::l1_l2(0.5, 0.25).penalty(small_weight<float>()) == 6.5f);
    BOOST_TEST(Regularizer::l1_l2().penalty(small_weight<double>()) == 0.0);
    BOOST_TEST(Regularizer::l2(0.25).penalty(Tensor<double>(xk::zeros<double>({0}))) == 0.0);
    // Keras's defaults: 0.01 (as float32) for l1() and l2().
    BOOST_TEST(Regularizer::l1().penalty(small_weight<double>()) == 6 * as_floatx(0.01));
    BOOST_TEST(Regularizer::l2().penalty(small_weight<double>()) == 14 * as_floatx(0.01));
}

BOOST_AUTO_TEST_CASE(gradient_on_a_small_weight)
{
    // d/dw = l1 sign(w) + 2 l2 w with sign(0) = 0: 0.5 sign(w) + 0.5 w.
    Tensor<double> grad = xk::zeros<double>({2, 2});
    Regularizer::l1_l2(0.5, 0.25).add_gradient(small_weight<double>(), grad);
    BOOST_TEST(grad(0, 0) == 1.0);
    BOOST_TEST(grad(0, 1) == -1.5);
    BOOST_TEST(grad(1, 0) == 0.0);
    BOOST_TEST(grad(1, 1) == 2.0);

    Tensor<float> l1_grad = xk::zeros<float>({2, 2});
    Regularizer::l1(0.5).add_gradient(small_weight<float>(), l1_grad);
    BOOST_TEST(l1_grad(0, 0) == 0.5f);
    BOOST_TEST(l1_grad(0, 1) == -0.5f);
    BOOST_TEST(l1_grad(1, 0) == 0.0f);
    BOOST_TEST(l1_grad(1, 1) == 0.5f);
}

BOOST_AUTO_TEST_CASE(add_gradient_accumulates_with_scale)
{
    // grad += scale * d(penalty)/dw: from ones, scale 2, L2(0.25) adds 2 * 0.5 w = w.
    Tensor<double> grad = xk::full<double>({2, 2}, 1.0);
    Regularizer::l2(0.25).add_gradient(small_weight<double>(), grad, 2.0);
    BOOST_TEST(grad(0, 0) == 2.0);
    BOOST_TEST(grad(0, 1) == -1.0);
    BOOST_TEST(grad(1, 0) == 1.0);
    BOOST_TEST(grad(1, 1) == 4.0);
    // Twice adds twice.
    Regularizer::l2(0.25).add_gradient(small_weight<double>(), grad, 2.0);
    BOOST_TEST(grad(1, 1) == 7.0);

    Tensor<double> wrong = xk::zeros<double>({4});
    BOOST_CHECK_EXCEPTION(Regularizer::l2().add_gradient(small_weight<double>(), wrong), xk::shape_error,
                          xk::test::message_contains({"(2, 2)", "(4,)"}));
}

BOOST_AUTO_TEST_CASE(gradient_matches_finite_differences)
{
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<double> magnitude(0.1, 2.0);
    std::bernoulli_distribution negative(0.5);
    // Away from 0, where |w| is differentiable.
    Tensor<double> w = xk::zeros<double>({3, 4, 5});
    for (double& v : w)
        v = negative(rng) ? -magnitude(rng) : magnitude(rng);
    for (const Regularizer& r : {Regularizer::l1(0.3), Regularizer::l2(0.7), Regularizer::l1_l2(0.2, 0.45)})
    {
        Tensor<double> grad = xk::zeros<double>({3, 4, 5});
        r.add_gradient(w, grad);
        const double h = 1e-6;
        double worst = 0;
        for (std::size_t i = 0; i < w.size(); ++i)
        {
            Tensor<double> plus = w, minus = w;
            plus.data()[i] += h;
            minus.data()[i] -= h;
            double numeric = (r.penalty(plus) - r.penalty(minus)) / (2 * h);
            worst = std::max(worst, std::abs(numeric - grad.data()[i]));
        }
        BOOST_TEST(worst < 1e-6, r.class_name() << ": worst |numeric - analytic| " << worst);
    }
}

BOOST_AUTO_TEST_CASE(configs_use_keras_keys_and_float32_factors)
{
    BOOST_TEST(Regularizer::l1(0.01).class_name() == "L1");
    BOOST_TEST(Regularizer::l2(0.01).class_name() == "L2");
    BOOST_TEST(Regularizer::l1_l2(0.01, 0.02).class_name() == "L1L2");
    // float(np.float32(0.01)), as Keras writes it into saved configs.
    BOOST_TEST(Regularizer::l1(0.01).get_config() == json({{"l1", 0.009999999776482582}}));
    BOOST_TEST(Regularizer::l2(0.5).get_config() == json({{"l2", 0.5}}));
    BOOST_TEST(Regularizer::l1_l2(0.01, 0.02).get_config() ==
               json({{"l1", as_floatx(0.01)}, {"l2", as_floatx(0.02)}}));
    BOOST_TEST(Regularizer::l1_l2(0.5).get_config() == json({{"l1", 0.5}, {"l2", 0.0}}));
    BOOST_TEST(xk::serialize(Regularizer::l2(0.5)) == json({{"class_name", "L2"}, {"config", {{"l2", 0.5}}}}));
    BOOST_TEST(xk::serialize(std::optional<Regularizer>{}).is_null());
}

BOOST_AUTO_TEST_CASE(configs_round_trip)
{
    for (const Regularizer& r : {Regularizer::l1(0.3), Regularizer::l2(0.7), Regularizer::l1_l2(0.2, 0.45),
                                 Regularizer::l1_l2(0.0, 0.1)})
    {
        json s = xk::serialize(r);
        auto back = xk::get_regularizer(s);
        BOOST_REQUIRE(back);
        BOOST_TEST((back->kind() == r.kind()));
        BOOST_TEST(back->l1_factor() == r.l1_factor());
        BOOST_TEST(back->l2_factor() == r.l2_factor());
        BOOST_TEST(xk::serialize(back) == s);
    }
}

BOOST_AUTO_TEST_CASE(string_identifiers_use_keras_defaults)
{
    auto l1 = xk::get_regularizer("l1");
    BOOST_TEST((l1->kind() == Regularizer::Kind::L1));
    BOOST_TEST(l1->l1_factor() == as_floatx(0.01));
    auto l2 = xk::get_regularizer("L2");
    BOOST_TEST((l2->kind() == Regularizer::Kind::L2));
    BOOST_TEST(l2->l2_factor() == as_floatx(0.01));
    // The string "l1_l2" means 0.01 each; the class L1L2 defaults to no penalty at all.
    auto both = xk::get_regularizer("l1_l2");
    BOOST_TEST((both->kind() == Regularizer::Kind::L1L2));
    BOOST_TEST(both->l1_factor() == as_floatx(0.01));
    BOOST_TEST(both->l2_factor() == as_floatx(0.01));
    auto cls = xk::get_regularizer("L1L2");
    BOOST_TEST(cls->l1_factor() == 0.0);
    BOOST_TEST(cls->l2_factor() == 0.0);
    BOOST_TEST(!xk::get_regularizer(nullptr));
}

BOOST_AUTO_TEST_CASE(dict_identifiers)
{
    auto partial = xk::get_regularizer(spec("L1L2", {{"l2", 0.5}}));
    BOOST_TEST(partial->l1_factor() == 0.0);
    BOOST_TEST(partial->l2_factor() == 0.5);
    // TF < 2.3 named the argument of l1()/l2() `l`.
    BOOST_TEST(xk::get_regularizer(spec("L1", {{"l", 0.25}}))->l1_factor() == 0.25);
    BOOST_TEST(xk::get_regularizer(spec("l2", {{"l", 0.25}}))->l2_factor() == 0.25);
    // A null factor takes L1's default; a missing config means defaults.
    BOOST_TEST(xk::get_regularizer(spec("L1", {{"l1", nullptr}}))->l1_factor() == as_floatx(0.01));
    BOOST_TEST(xk::get_regularizer(json{{"class_name", "L2"}})->l2_factor() == as_floatx(0.01));
    // The l1_l2 function form defaults each missing factor to 0.01.
    auto fn = xk::get_regularizer(spec("l1_l2", {{"l1", 0.5}}));
    BOOST_TEST((fn->kind() == Regularizer::Kind::L1L2));
    BOOST_TEST(fn->l1_factor() == 0.5);
    BOOST_TEST(fn->l2_factor() == as_floatx(0.01));
    // Keras checks only that a factor is a finite number: a negative one is accepted.
    BOOST_TEST(xk::get_regularizer(spec("L2", {{"l2", -0.5}}))->l2_factor() == -0.5);
}

BOOST_AUTO_TEST_CASE(bad_identifiers_raise_keras_errors)
{
    using xk::test::message_contains;
    BOOST_CHECK_EXCEPTION(xk::get_regularizer("l3"), xk::value_error,
                          message_contains({"Unknown regularizer", "'l3'", "l1_l2"}));
    BOOST_CHECK_EXCEPTION(xk::get_regularizer("l1l2"), xk::value_error, message_contains("'l1l2'"));
    BOOST_CHECK_EXCEPTION(xk::get_regularizer(spec("L1L2", {{"l3", 0.1}})), xk::value_error,
                          message_contains({"L1L2", "'l3'"}));
    BOOST_CHECK_EXCEPTION(xk::get_regularizer(spec("L1", {{"l1", "big"}})), xk::value_error,
                          message_contains({"\"big\"", "not a valid regularization penalty number"}));
    BOOST_CHECK_EXCEPTION(Regularizer::l2(std::nan("")), xk::value_error,
                          message_contains("infinite number or NaN"));
    BOOST_CHECK_EXCEPTION(Regularizer::l1_l2(0.1, INFINITY), xk::value_error, message_contains("inf"));
    BOOST_CHECK_EXCEPTION(xk::get_regularizer(3), xk::value_error,
                          message_contains("Could not interpret regularizer identifier: 3"));
    BOOST_CHECK_EXCEPTION(xk::get_regularizer(json{{"config", json::object()}}), xk::value_error,
                          message_contains("`class_name`"));
}

BOOST_AUTO_TEST_SUITE_END()
