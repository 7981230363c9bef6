// Every differentiable op: values, gradients (by the checker, in double) and tape semantics.
#include "framework/keras/keras_ops.hpp"
#include "support/checks.hpp"
#include "support/gradcheck.hpp"

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <memory>

using namespace xk;
using test::check_function_gradients;
using test::message_contains;
using test::random_tensor;
using V = BasicVariable<double>;
using Vs = std::vector<V>;
using TapeD = BasicTape<double>;

namespace
{
    void expect_ok(const test::GradcheckReport& r, const std::string& what)
    {
        BOOST_TEST(r.ok, what << ": " << r.summary());
        BOOST_TEST(r.checked > 0u);
    }

    /// Values in [0.5, 2): safe for log, sqrt and division.
    Tensor<double> positive(const Shape& shape, std::uint64_t seed) { return random_tensor(shape, seed) * 0.75 + 1.25; }
}

BOOST_AUTO_TEST_SUITE(differentiable_ops)

BOOST_AUTO_TEST_CASE(broadcasting_arithmetic_gradients)
{
    const std::vector<std::pair<Shape, Shape>> shapes = {{{3, 4}, {3, 4}}, {{3, 4}, {4}}, {{2, 3, 4}, {3, 1}}, {{1, 4}, {3, 1}}, {{}, {2, 2}}};
    for (const auto& [a, b] : shapes)
    {
        std::string ctx = shape_str(a) + " with " + shape_str(b);
        expect_ok(check_function_gradients([](TapeD& t, const Vs& v) { return ops::add(t, v[0], v[1]); }, {random_tensor(a, 1), random_tensor(b, 2)}), "add " + ctx);
        expect_ok(check_function_gradients([](TapeD& t, const Vs& v) { return ops::sub(t, v[0], v[1]); }, {random_tensor(a, 1), random_tensor(b, 2)}), "sub " + ctx);
        expect_ok(check_function_gradients([](TapeD& t, const Vs& v) { return ops::mul(t, v[0], v[1]); }, {random_tensor(a, 1), random_tensor(b, 2)}), "mul " + ctx);
        expect_ok(check_function_gradients([](TapeD& t, const Vs& v) { return ops::div(t, v[0], v[1]); }, {random_tensor(a, 1), positive(b, 2)}), "div " + ctx);
    }
    BOOST_CHECK_EXCEPTION(
        [] { TapeD t; ops::add(t, V(Tensor<double>({2, 3}, 1.0)), V(Tensor<double>({4}, 1.0))); }(), shape_error,
        message_contains({"(2, 3)", "(4,)", "broadcast"}));
}

BOOST_AUTO_TEST_CASE(unary_gradients)
{
    const Shape s{3, 5};
    expect_ok(check_function_gradients([](TapeD& t, const Vs& v) { return ops::neg(t, v[0]); }, {random_tensor(s, 1)}), "neg");
    expect_ok(check_function_gradients([](TapeD& t, const Vs& v) { return ops::scale(t, v[0], 2.5); }, {random_tensor(s, 1)}), "scale");
    expect_ok(check_function_gradients([](TapeD& t, const Vs& v) { return ops::add_scalar(t, v[0], -1.5); }, {random_tensor(s, 1)}), "add_scalar");
    expect_ok(check_function_gradients([](TapeD& t, const Vs& v) { return ops::exp(t, v[0]); }, {random_tensor(s, 1)}), "exp");
    expect_ok(check_function_gradients([](TapeD& t, const Vs& v) { return ops::log(t, v[0]); }, {positive(s, 1)}), "log");
    expect_ok(check_function_gradients([](TapeD& t, const Vs& v) { return ops::abs(t, v[0]); }, {random_tensor(s, 1)}), "abs");
    expect_ok(check_function_gradients([](TapeD& t, const Vs& v) { return ops::square(t, v[0]); }, {random_tensor(s, 1)}), "square");
    expect_ok(check_function_gradients([](TapeD& t, const Vs& v) { return ops::sqrt(t, v[0]); }, {positive(s, 1)}), "sqrt");
    expect_ok(check_function_gradients([](TapeD& t, const Vs& v) { return ops::clip(t, v[0], -0.5, 0.5); }, {random_tensor(s, 1)}), "clip");
}

BOOST_AUTO_TEST_CASE(matmul_reductions_and_reshapes)
{
    expect_ok(check_function_gradients([](TapeD& t, const Vs& v) { return ops::matmul(t, v[0], v[1]); }, {random_tensor({3, 4}, 1), random_tensor({4, 2}, 2)}), "matmul");
    expect_ok(check_function_gradients([](TapeD& t, const Vs& v) { return ops::sum(t, v[0]); }, {random_tensor({3, 4}, 1)}), "sum");
    expect_ok(check_function_gradients([](TapeD& t, const Vs& v) { return ops::mean(t, v[0]); }, {random_tensor({3, 4}, 1)}), "mean");
    expect_ok(check_function_gradients([](TapeD& t, const Vs& v) { return ops::sum(t, v[0], {1}, false); }, {random_tensor({2, 3, 4}, 1)}), "sum axis 1");
    expect_ok(check_function_gradients([](TapeD& t, const Vs& v) { return ops::sum(t, v[0], {0, -1}, true); }, {random_tensor({2, 3, 4}, 1)}), "sum axes keepdims");
    expect_ok(check_function_gradients([](TapeD& t, const Vs& v) { return ops::mean(t, v[0], {-1}, false); }, {random_tensor({2, 3, 4}, 1)}), "mean last");
    expect_ok(check_function_gradients([](TapeD& t, const Vs& v) { return ops::reshape(t, v[0], {4, 6}); }, {random_tensor({2, 3, 4}, 1)}), "reshape");
    expect_ok(check_function_gradients([](TapeD& t, const Vs& v) { return ops::transpose(t, v[0], {2, 0, 1}); }, {random_tensor({2, 3, 4}, 1)}), "transpose");

    TapeD t;
    Tensor<double> a = random_tensor({2, 3}, 1), b = random_tensor({3, 2}, 2);
    Tensor<double> ab = ops::matmul(t, V(a), V(b)).value();
    for (std::size_t i = 0; i < 2; ++i)
        for (std::size_t j = 0; j < 2; ++j)
            BOOST_TEST(ab(i, j) == a(i, 0) * b(0, j) + a(i, 1) * b(1, j) + a(i, 2) * b(2, j), boost::test_tools::tolerance(1e-12));
    BOOST_TEST(ops::mean(t, V(a), {0}, false).value()(1) == (a(0, 1) + a(1, 1)) / 2, boost::test_tools::tolerance(1e-12));
    BOOST_CHECK_EXCEPTION(ops::matmul(t, V(a), V(a)), shape_error, message_contains({"(2, 3)", "matmul"}));
    BOOST_CHECK_EXCEPTION(ops::reshape(t, V(a), {4}), shape_error, message_contains({"(2, 3)", "(4,)"}));
    BOOST_CHECK_EXCEPTION(ops::sum(t, V(a), {2}, false), value_error, message_contains("Axis 2"));
}

BOOST_AUTO_TEST_CASE(every_activation_differentiates)
{
    std::vector<std::pair<std::string, Activation>> all;
    for (const auto& name : activation_registry().names())
        all.emplace_back(name, get_activation(name));
    all.emplace_back("leaky relu", Activation::relu(0.3));
    all.emplace_back("relu6-like", Activation::relu(0.0, 6.0));
    all.emplace_back("relu threshold", Activation::relu(0.2, 0.8, 0.25));
    all.emplace_back("softmax axis 0", Activation::softmax(0));
    all.emplace_back("elu 0.5", Activation::elu(0.5));
    all.emplace_back("gelu approximate", Activation::gelu(true));
    for (const auto& [name, f] : all)
        expect_ok(check_function_gradients([f = f](TapeD& t, const Vs& v) { return ops::activation(t, v[0], f); },
                                           {random_tensor({4, 5}, 3) * 3.0}),
                  name);
}

BOOST_AUTO_TEST_CASE(activation_values_are_keras_s)
{
    auto at = [](const Activation& f, double x) { return f.forward(Tensor<double>({1}, x))(0); };
    auto tol = boost::test_tools::tolerance(1e-12);
    BOOST_TEST(at(get_activation("relu"), -2.0) == 0.0);
    BOOST_TEST(at(Activation::relu(0.1), -2.0) == -0.2, tol);
    BOOST_TEST(at(Activation::relu(0.0, 6.0), 9.0) == 6.0);
    BOOST_TEST(at(Activation::relu(0.0, std::nullopt, 1.0), 0.5) == 0.0);
    BOOST_TEST(at(Activation::relu(0.0, std::nullopt, 1.0), 1.5) == 1.5);
    BOOST_TEST(at(get_activation("hard_sigmoid"), 1.0) == 0.7, tol);     // tf.keras 2.x: 0.2x + 0.5
    BOOST_TEST(at(get_activation("hard_sigmoid"), 3.0) == 1.0);
    BOOST_TEST(at(get_activation("selu"), 1.0) == 1.0507009873554805, tol);
    BOOST_TEST(at(get_activation("selu"), -1.0) == 1.0507009873554805 * 1.6732632423543772 * (std::exp(-1.0) - 1), tol);
    BOOST_TEST(at(get_activation("elu"), -1.0) == std::exp(-1.0) - 1, tol);
    BOOST_TEST(at(get_activation("gelu"), 1.0) == 0.8413447460685429, tol);
    BOOST_TEST(at(Activation::gelu(true), 1.0) == 0.5 * (1 + std::tanh(0.7978845608028654 * 1.044715)), tol);
    BOOST_TEST(at(get_activation("swish"), 2.0) == 2.0 / (1 + std::exp(-2.0)), tol);
    BOOST_TEST(at(get_activation("softsign"), 3.0) == 0.75, tol);
    BOOST_TEST(at(get_activation("softplus"), 1000.0) == 1000.0, tol); // no overflow
    BOOST_TEST(at(get_activation("sigmoid"), -1000.0) == 0.0, tol);
    BOOST_TEST(at(get_activation("exponential"), 1.0) == std::exp(1.0), tol);
    BOOST_TEST(at(get_activation("linear"), -3.0) == -3.0);

    Tensor<double> logits = {{1000.0, 1001.0, 1002.0}, {-5.0, 0.0, 5.0}};
    Tensor<double> p = get_activation("softmax").forward(logits);
    const double e = std::exp(1.0), z = 1 + e + e * e;
    BOOST_TEST(p(0, 0) == 1 / z, tol);
    BOOST_TEST(p(0, 2) == e * e / z, tol);
    BOOST_TEST(p(1, 0) + p(1, 1) + p(1, 2) == 1.0, tol);
}

BOOST_AUTO_TEST_CASE(activation_identifiers)
{
    BOOST_TEST(get_activation(nullptr).is_linear());
    BOOST_TEST(get_activation("relu").name() == "relu");
    BOOST_TEST(get_activation(json{{"class_name", "function"}, {"config", "tanh"}}).name() == "tanh");
    BOOST_TEST(serialize(get_activation("swish")) == "swish");
    BOOST_CHECK_EXCEPTION(get_activation("relu9"), value_error, message_contains({"Unknown activation", "relu9", "softmax"}));
    BOOST_CHECK_EXCEPTION(get_activation(3), value_error, message_contains("3"));
}

BOOST_AUTO_TEST_CASE(penalty_values_and_gradients)
{
    auto r = Regularizer::l1_l2(0.3, 0.2);
    expect_ok(check_function_gradients([r](TapeD& t, const Vs& v) { return ops::penalty(t, v[0], r, 0.5); }, {random_tensor({3, 3}, 4)}), "penalty");
    TapeD t;
    Tensor<double> w = {{1.0, -2.0}, {0.5, 0.0}};
    double expected = 0.5 * (r.l1_factor() * 3.5 + r.l2_factor() * 5.25);
    BOOST_TEST(ops::penalty(t, V(w), r, 0.5).value()() == expected, boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(tape)

BOOST_AUTO_TEST_CASE(gradients_accumulate_over_uses_and_passes)
{
    TapeD t;
    V x(Tensor<double>({2}, 3.0), true);
    auto y = ops::add(t, ops::mul(t, x, x), x); // y = x^2 + x, dy/dx = 2x + 1 = 7
    t.backward(ops::sum(t, y));
    BOOST_TEST(x.grad()(0) == 7.0);
    BOOST_TEST(t.size() == 0u); // the tape let go of its closures
    auto z = ops::scale(t, x, 2.0);
    t.backward(ops::sum(t, z));
    BOOST_TEST(x.grad()(1) == 9.0); // accumulated, not overwritten
    x.zero_grad();
    BOOST_TEST(!x.has_grad());
}

BOOST_AUTO_TEST_CASE(no_grad_and_constants_record_nothing)
{
    TapeD t;
    V x(Tensor<double>({2}, 1.0), true), c(Tensor<double>({2}, 2.0));
    {
        NoGradGuard guard;
        auto y = ops::mul(t, x, c);
        BOOST_TEST(!y.requires_grad());
        BOOST_TEST(t.size() == 0u);
    }
    auto constant = ops::mul(t, c, c);
    BOOST_TEST(!constant.requires_grad());
    BOOST_TEST(t.size() == 0u);
    auto y = ops::mul(t, x, c);
    BOOST_TEST(y.requires_grad());
    BOOST_TEST(t.size() == 1u);
    t.backward(y, Tensor<double>({2}, 1.0));
    BOOST_TEST(!c.has_grad());
    BOOST_TEST(x.grad()(0) == 2.0);
}

BOOST_AUTO_TEST_CASE(accumulate_checks_shapes)
{
    V x(Tensor<double>({2, 2}, 1.0), true, "w");
    BOOST_CHECK_EXCEPTION(x.accumulate_grad(Tensor<double>({3}, 1.0)), shape_error, message_contains({"'w'", "(3,)", "(2, 2)"}));
    BOOST_CHECK_EXCEPTION(V().value(), value_error, message_contains("undefined"));
}

BOOST_AUTO_TEST_CASE(backward_frees_each_closure_as_soon_as_it_has_run)
{
    // What a closure holds (activations, caches) must not live until the end of the pass: the entry recorded
    // last runs first, and by the time the earlier one runs, the later one's captures are gone.
    BasicTape<double> tape;
    auto later = std::make_shared<int>(1);
    std::weak_ptr<int> later_alive = later;
    bool later_freed_before_earlier_ran = false;
    tape.record([&] { later_freed_before_earlier_ran = later_alive.expired(); });
    tape.record([held = std::move(later)] { (void)held; });
    tape.replay();
    BOOST_TEST(later_freed_before_earlier_ran);
    BOOST_TEST(tape.size() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
