// The merge layers (Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot): configs, shapes,
// float/double agreement and gradients for every class; values against loops written here (broadcasting,
// Keras's rank expansion after the batch axis, ties, negative axes, batch_dot, l2 normalization); every error
// with its message.
#include "support/checks.hpp"
#include "support/gradcheck.hpp"

#include "framework/models/functional.hpp"

#include <boost/test/unit_test.hpp>

#include <cmath>

using namespace xk;
using xk::test::message_contains;

namespace
{
    /// For BOOST_CHECK_EXCEPTION: the message begins with `prefix` (the layer it names) and contains `rest`.
    struct message_starts
    {
        message_starts(std::string prefix, std::string rest) : m_prefix(std::move(prefix)), m_rest(std::move(rest)) {}

        bool operator()(const std::exception& e) const
        {
            const std::string what = e.what();
            const bool ok = what.rfind(m_prefix, 0) == 0 && what.find(m_rest) != std::string::npos;
            if (!ok)
                BOOST_TEST_MESSAGE("message '" << what << "' does not start with '" << m_prefix << "' and contain '"
                                               << m_rest << "'");
            return ok;
        }

    private:
        std::string m_prefix, m_rest;
    };

    /// One call on several inputs, recording nothing.
    template <class T>
    Tensor<T> merge(BasicLayer<T>& layer, const std::vector<Tensor<T>>& xs)
    {
        NoGradGuard no_grad;
        BasicTape<T> tape;
        std::vector<BasicVariable<T>> inputs;
        for (const auto& x : xs)
            inputs.emplace_back(x);
        return layer.call(tape, inputs).at(0).value();
    }

    /// The gradients of sum(layer(xs) * upstream) for every input, each added on top of `prefill`.
    std::vector<Tensor<double>> input_gradients(BasicLayer<double>& layer, const std::vector<Tensor<double>>& xs,
                                                const Tensor<double>& upstream, double prefill = 0.0)
    {
        BasicTape<double> tape;
        std::vector<BasicVariable<double>> inputs;
        for (const auto& x : xs)
        {
            inputs.emplace_back(x, true);
            inputs.back().accumulate_grad(Tensor<double>(x.shape(), prefill));
        }
        auto y = layer.call(tape, inputs).at(0);
        tape.backward(y, upstream);
        std::vector<Tensor<double>> grads;
        for (const auto& input : inputs)
            grads.push_back(input.grad());
        return grads;
    }

    Tensor<double> arange_tensor(const Shape& shape, double start = 0.0)
    {
        Tensor<double> t = Tensor<double>::from_shape(shape);
        for (std::size_t i = 0; i < t.size(); ++i)
            t.data()[i] = start + double(i);
        return t;
    }

    /// Keras's run_layer_test for a merge layer on random inputs of `input_shapes`:
    ///  - get_config -> make_layer -> get_config is unchanged, and building changes nothing;
    ///  - compute_output_shapes, for the inputs and for their symbolic form (batch None), gives `expected`;
    ///  - the output has that shape, and the layer has no weights;
    ///  - the float layer computes what the double one does;
    ///  - the gradient check passes for every input.
    void run_merge_layer_test(const std::string& class_name, const json& config, const std::vector<Shape>& input_shapes,
                              const PartialShape& expected, std::uint64_t seed = 0)
    {
        std::string shapes;
        for (const auto& s : input_shapes)
            shapes += shape_str(s) + " ";
        BOOST_TEST_CONTEXT(class_name << " " << config.dump() << " on " << shapes)
        {
            auto layer = make_layer<double>(class_name, config);
            const json saved = layer->get_config();
            auto twin = make_layer<double>(class_name, saved);
            BOOST_TEST(twin->get_config() == saved, "config round trip changed " << saved.dump() << " into "
                                                                              << twin->get_config().dump());

            std::vector<Tensor<double>> xs;
            std::vector<PartialShape> in, symbolic;
            for (std::size_t i = 0; i < input_shapes.size(); ++i)
            {
                xs.push_back(test::random_tensor(input_shapes[i], seed + 11 + i));
                in.emplace_back(input_shapes[i].begin(), input_shapes[i].end());
                symbolic.push_back(in.back());
                symbolic.back()[0] = -1;
            }
            PartialShape expected_symbolic = expected;
            expected_symbolic[0] = -1;
            const PartialShape computed = layer->compute_output_shapes(in).at(0);
            BOOST_TEST(computed == expected, "compute_output_shapes " << shape_str(computed) << " expected "
                                                                      << shape_str(expected));
            const PartialShape computed_symbolic = layer->compute_output_shapes(symbolic).at(0);
            BOOST_TEST(computed_symbolic == expected_symbolic, "symbolic compute_output_shapes "
                                                                   << shape_str(computed_symbolic) << " expected "
                                                                   << shape_str(expected_symbolic));

            const Tensor<double> y = merge(*layer, xs);
            BOOST_TEST(shape_of(y) == Shape(expected.begin(), expected.end()),
                       "output shape " << shape_str(shape_of(y)) << " expected " << shape_str(expected));
            BOOST_TEST(layer->weights().empty());
            BOOST_TEST(layer->get_config() == saved, "building changed the config");

            auto single = make_layer<float>(class_name, saved);
            std::vector<Tensor<float>> xs_float;
            for (const auto& x : xs)
                xs_float.push_back(tensor_cast<float>(x));
            std::string why;
            BOOST_TEST(test::close_to_scale(merge(*single, xs_float), y, 1e-5, &why), why);

            const auto report = test::check_layer_gradients(*layer, xs, seed);
            BOOST_TEST(report.checked > 0u);
            BOOST_TEST(report.ok, report.summary());
        }
    }
}

BOOST_AUTO_TEST_SUITE(merge_layers)

BOOST_AUTO_TEST_CASE(every_class_round_trips_builds_agrees_and_differentiates)
{
    struct Case
    {
        const char* cls;
        json config;
        std::vector<Shape> inputs;
        PartialShape out;
    };
    const std::vector<Case> cases = {
        {"Add", json::object(), {{2, 3, 4}, {2, 3, 4}}, {2, 3, 4}},
        {"Add", json::object(), {{2, 1, 4}, {2, 3, 4}}, {2, 3, 4}},
        {"Add", json::object(), {{2, 4}, {2, 3, 4}, {2, 3, 1}}, {2, 3, 4}},
        {"Add", json::object(), {{3, 5}}, {3, 5}},
        {"Subtract", json::object(), {{2, 3}, {2, 3}}, {2, 3}},
        {"Subtract", json::object(), {{2, 1, 3}, {2, 2, 3}}, {2, 2, 3}},
        {"Multiply", json::object(), {{2, 3, 4}, {2, 1, 4}, {2, 3, 1}}, {2, 3, 4}},
        {"Multiply", json::object(), {{2, 5}, {2, 5}}, {2, 5}},
        {"Average", json::object(), {{2, 3, 2}, {2, 3, 2}, {2, 1, 2}}, {2, 3, 2}},
        {"Maximum", json::object(), {{2, 3, 4}, {2, 4}, {2, 3, 4}}, {2, 3, 4}},
        {"Minimum", json::object(), {{2, 3, 4}, {2, 1, 4}, {2, 3, 4}}, {2, 3, 4}},
        {"Concatenate", {{"axis", 1}}, {{2, 2, 3}, {2, 1, 3}, {2, 4, 3}}, {2, 7, 3}},
        {"Concatenate", json::object(), {{2, 2, 3}, {2, 2, 1}}, {2, 2, 4}},
        {"Concatenate", {{"axis", -2}}, {{2, 2, 3}, {2, 1, 3}}, {2, 3, 3}},
        {"Concatenate", {{"axis", 2}}, {{1, 2, 3, 2}, {1, 2, 1, 2}}, {1, 2, 4, 2}},
        {"Dot", {{"axes", 1}}, {{3, 4}, {3, 4}}, {3, 1}},
        {"Dot", {{"axes", {1, 2}}}, {{2, 5, 2}, {2, 2, 5}}, {2, 2, 2}},
        {"Dot", {{"axes", -1}}, {{2, 3, 4}, {2, 5, 4}}, {2, 3, 5}},
        {"Dot", {{"axes", {2, 1}}}, {{2, 3, 4}, {2, 4}}, {2, 3}},
        {"Dot", {{"axes", {3, 1}}}, {{2, 2, 3, 4}, {2, 4, 5}}, {2, 2, 3, 5}},
        {"Dot", {{"axes", {2, 2}}, {"normalize", true}}, {{2, 3, 4}, {2, 2, 4, 3}}, {2, 3, 2, 3}},
        {"Dot", {{"axes", 1}, {"normalize", true}}, {{3, 4}, {3, 4}}, {3, 1}},
        {"Dot", {{"axes", {1, -1}}, {"normalize", true}}, {{2, 3, 2}, {2, 4, 3}}, {2, 2, 4}},
    };
    std::uint64_t seed = 0;
    for (const auto& c : cases)
        run_merge_layer_test(c.cls, c.config, c.inputs, c.out, seed++);
}

BOOST_AUTO_TEST_CASE(add_broadcasts_after_expanding_ranks_at_axis_1)
{
    auto layer = make_layer<double>("Add");
    // (2, 1, 4) with (2, 3, 4): the extent of 1 repeats.
    const Tensor<double> a = test::random_tensor({2, 1, 4}, 1), b = test::random_tensor({2, 3, 4}, 2);
    Tensor<double> y = merge(*layer, {a, b});
    BOOST_REQUIRE(shape_of(y) == Shape({2, 3, 4}));
    for (std::size_t n = 0; n < 2; ++n)
        for (std::size_t i = 0; i < 3; ++i)
            for (std::size_t j = 0; j < 4; ++j)
                BOOST_TEST(y(n, i, j) == a(n, 0, j) + b(n, i, j));

    // A (2, 3) input with a (2, 3, 1) one: Keras inserts the axis after the batch, (2, 1, 3), so the sum is
    // (2, 3, 3) with a's values along the last axis (NumPy's right alignment would mix batch and features).
    const Tensor<double> c = test::random_tensor({2, 3}, 3), d = test::random_tensor({2, 3, 1}, 4);
    y = merge(*layer, {c, d});
    BOOST_REQUIRE(shape_of(y) == Shape({2, 3, 3}));
    for (std::size_t n = 0; n < 2; ++n)
        for (std::size_t i = 0; i < 3; ++i)
            for (std::size_t j = 0; j < 3; ++j)
                BOOST_TEST(y(n, i, j) == c(n, j) + d(n, i, 0));

    // The gradient of a broadcast input sums over the axes it was repeated along, on top of what was there.
    const Tensor<double> upstream = test::random_tensor({2, 3, 4}, 5);
    const auto grads = input_gradients(*layer, {a, b}, upstream, 1.0);
    for (std::size_t n = 0; n < 2; ++n)
        for (std::size_t j = 0; j < 4; ++j)
        {
            double sum = 0.0;
            for (std::size_t i = 0; i < 3; ++i)
                sum += upstream(n, i, j);
            BOOST_TEST(grads[0](n, 0, j) == 1.0 + sum, boost::test_tools::tolerance(1e-12));
        }
    for (std::size_t n = 0; n < 2; ++n)
        for (std::size_t i = 0; i < 3; ++i)
            for (std::size_t j = 0; j < 4; ++j)
                BOOST_TEST(grads[1](n, i, j) == 1.0 + upstream(n, i, j));
}

BOOST_AUTO_TEST_CASE(elementwise_values)
{
    const Tensor<double> a = test::random_tensor({2, 3}, 1), b = test::random_tensor({2, 3}, 2),
                         c = test::random_tensor({2, 3}, 3);
    const Tensor<double> sub = merge(*make_layer<double>("Subtract"), {a, b});
    const Tensor<double> mul = merge(*make_layer<double>("Multiply"), {a, b, c});
    const Tensor<double> avg = merge(*make_layer<double>("Average"), {a, b, c});
    for (std::size_t n = 0; n < 2; ++n)
        for (std::size_t j = 0; j < 3; ++j)
        {
            BOOST_TEST(sub(n, j) == a(n, j) - b(n, j));
            BOOST_TEST(mul(n, j) == a(n, j) * b(n, j) * c(n, j));
            BOOST_TEST(avg(n, j) == (a(n, j) + b(n, j) + c(n, j)) / 3.0, boost::test_tools::tolerance(1e-15));
        }

    // Average divides by the count; Subtract's second input gets -dz; Multiply's inputs the others' product.
    const Tensor<double> upstream = test::random_tensor({2, 3}, 4);
    const auto avg_grads = input_gradients(*make_layer<double>("Average"), {a, b, c}, upstream);
    const auto sub_grads = input_gradients(*make_layer<double>("Subtract"), {a, b}, upstream);
    const auto mul_grads = input_gradients(*make_layer<double>("Multiply"), {a, b, c}, upstream);
    for (std::size_t n = 0; n < 2; ++n)
        for (std::size_t j = 0; j < 3; ++j)
        {
            for (const auto& g : avg_grads)
                BOOST_TEST(g(n, j) == upstream(n, j) / 3.0, boost::test_tools::tolerance(1e-15));
            BOOST_TEST(sub_grads[0](n, j) == upstream(n, j));
            BOOST_TEST(sub_grads[1](n, j) == -upstream(n, j));
            BOOST_TEST(mul_grads[0](n, j) == upstream(n, j) * b(n, j) * c(n, j), boost::test_tools::tolerance(1e-14));
            BOOST_TEST(mul_grads[1](n, j) == upstream(n, j) * a(n, j) * c(n, j), boost::test_tools::tolerance(1e-14));
            BOOST_TEST(mul_grads[2](n, j) == upstream(n, j) * a(n, j) * b(n, j), boost::test_tools::tolerance(1e-14));
        }

    // Multiply by an input holding zeros: the gradient needs no division.
    const Tensor<double> zero = Tensor<double>({{0.0, 2.0, 0.0}, {1.0, 0.0, 3.0}});
    const auto zero_grads = input_gradients(*make_layer<double>("Multiply"), {zero, zero, a}, upstream);
    for (std::size_t n = 0; n < 2; ++n)
        for (std::size_t j = 0; j < 3; ++j)
            BOOST_TEST(zero_grads[2](n, j) == upstream(n, j) * zero(n, j) * zero(n, j), boost::test_tools::tolerance(1e-14));
}

BOOST_AUTO_TEST_CASE(maximum_and_minimum_ties_go_to_the_first_input)
{
    // TensorFlow's maximum gradient goes to x where x >= y, so along the fold max(max(x0, x1), x2) the
    // first input holding the extreme value receives the gradient.
    const Tensor<double> x0({{1.0, 2.0, 3.0, -1.0}}), x1({{1.0, 5.0, 0.0, 4.0}}), x2({{1.0, 5.0, 3.0, 4.0}});
    auto maximum = make_layer<double>("Maximum");
    BOOST_TEST(merge(*maximum, {x0, x1, x2}) == Tensor<double>({{1.0, 5.0, 3.0, 4.0}}));
    const Tensor<double> upstream({{10.0, 20.0, 30.0, 40.0}});
    auto g = input_gradients(*maximum, {x0, x1, x2}, upstream, 0.5);
    BOOST_TEST(g[0] == Tensor<double>({{10.5, 0.5, 30.5, 0.5}}));
    BOOST_TEST(g[1] == Tensor<double>({{0.5, 20.5, 0.5, 40.5}}));
    BOOST_TEST(g[2] == Tensor<double>({{0.5, 0.5, 0.5, 0.5}}));

    const Tensor<double> y0({{1.0, 2.0, 3.0, 4.0}}), y1({{1.0, 5.0, 0.0, -2.0}}), y2({{1.0, 2.0, 0.0, -3.0}});
    auto minimum = make_layer<double>("Minimum");
    BOOST_TEST(merge(*minimum, {y0, y1, y2}) == Tensor<double>({{1.0, 2.0, 0.0, -3.0}}));
    g = input_gradients(*minimum, {y0, y1, y2}, upstream);
    BOOST_TEST(g[0] == Tensor<double>({{10.0, 20.0, 0.0, 0.0}}));
    BOOST_TEST(g[1] == Tensor<double>({{0.0, 0.0, 30.0, 0.0}}));
    BOOST_TEST(g[2] == Tensor<double>({{0.0, 0.0, 0.0, 40.0}}));

    // A broadcast input that wins in several places collects every gradient it won.
    const Tensor<double> row({{{2.0, -2.0}}}), grid({{{1.0, 0.0}, {3.0, -5.0}}});
    g = input_gradients(*maximum, {row, grid}, Tensor<double>({{{1.0, 2.0}, {4.0, 8.0}}}));
    BOOST_TEST(g[0] == Tensor<double>({{{1.0, 8.0}}}));
    BOOST_TEST(g[1] == Tensor<double>({{{0.0, 2.0}, {4.0, 0.0}}}));
}

BOOST_AUTO_TEST_CASE(concatenate_values_and_negative_axes)
{
    // Keras's docstring: arange(20).reshape(2, 2, 5) and arange(20, 30).reshape(2, 1, 5) along axis 1.
    const Tensor<double> x = arange_tensor({2, 2, 5}), y = arange_tensor({2, 1, 5}, 20.0);
    for (long axis : {1L, -2L})
    {
        BOOST_TEST_CONTEXT("axis " << axis)
        {
            auto layer = make_layer<double>("Concatenate", {{"axis", axis}});
            const Tensor<double> z = merge(*layer, {x, y});
            BOOST_REQUIRE(shape_of(z) == Shape({2, 3, 5}));
            for (std::size_t n = 0; n < 2; ++n)
                for (std::size_t i = 0; i < 3; ++i)
                    for (std::size_t j = 0; j < 5; ++j)
                        BOOST_TEST(z(n, i, j) == (i < 2 ? x(n, i, j) : y(n, 0, j)));
            BOOST_TEST(z(1, 2, 4) == 29.0);

            // Each input takes back its own slice of the gradient, added to what it had.
            const Tensor<double> upstream = test::random_tensor({2, 3, 5}, 7);
            const auto grads = input_gradients(*layer, {x, y}, upstream, 2.0);
            for (std::size_t n = 0; n < 2; ++n)
                for (std::size_t j = 0; j < 5; ++j)
                {
                    for (std::size_t i = 0; i < 2; ++i)
                        BOOST_TEST(grads[0](n, i, j) == 2.0 + upstream(n, i, j));
                    BOOST_TEST(grads[1](n, 0, j) == 2.0 + upstream(n, 2, j));
                }
        }
    }

    // The last axis (the default), three inputs.
    const Tensor<double> a = test::random_tensor({2, 3, 1}, 1), b = test::random_tensor({2, 3, 2}, 2);
    const Tensor<double> z = merge(*make_layer<double>("Concatenate"), {a, b, a});
    BOOST_REQUIRE(shape_of(z) == Shape({2, 3, 4}));
    for (std::size_t n = 0; n < 2; ++n)
        for (std::size_t i = 0; i < 3; ++i)
        {
            BOOST_TEST(z(n, i, 0) == a(n, i, 0));
            BOOST_TEST(z(n, i, 1) == b(n, i, 0));
            BOOST_TEST(z(n, i, 2) == b(n, i, 1));
            BOOST_TEST(z(n, i, 3) == a(n, i, 0));
        }

    // Keras also concatenates along the batch axis.
    const Tensor<double> top = arange_tensor({2, 3}), bottom = arange_tensor({2, 3}, 6.0);
    BOOST_TEST(merge(*make_layer<double>("Concatenate", {{"axis", 0}}), {top, bottom}) == arange_tensor({4, 3}));
}

BOOST_AUTO_TEST_CASE(dot_values)
{
    // Keras's docstring: Dot(axes=(1, 2)) of arange(10).reshape(1, 5, 2) and arange(10, 20).reshape(1, 2, 5).
    const Tensor<double> x = arange_tensor({1, 5, 2}), y = arange_tensor({1, 2, 5}, 10.0);
    BOOST_TEST(merge(*make_layer<double>("Dot", {{"axes", {1, 2}}}), {x, y}) ==
               Tensor<double>({{{260.0, 360.0}, {320.0, 445.0}}}));

    // Rank 4 with rank 3 along (3, 1): out[b, i, j, l] = sum_k u[b, i, j, k] v[b, k, l].
    const Tensor<double> u = test::random_tensor({2, 2, 3, 4}, 1), v = test::random_tensor({2, 4, 5}, 2);
    Tensor<double> out = merge(*make_layer<double>("Dot", {{"axes", {3, 1}}}), {u, v});
    BOOST_REQUIRE(shape_of(out) == Shape({2, 2, 3, 5}));
    for (std::size_t b = 0; b < 2; ++b)
        for (std::size_t i = 0; i < 2; ++i)
            for (std::size_t j = 0; j < 3; ++j)
                for (std::size_t l = 0; l < 5; ++l)
                {
                    double sum = 0.0;
                    for (std::size_t k = 0; k < 4; ++k)
                        sum += u(b, i, j, k) * v(b, k, l);
                    BOOST_TEST(out(b, i, j, l) == sum, boost::test_tools::tolerance(1e-12));
                }

    // A negative single axis counts from the end of each input: (2, 3, 4) . (2, 5, 4) along the last axes.
    const Tensor<double> p = test::random_tensor({2, 3, 4}, 3), q = test::random_tensor({2, 5, 4}, 4);
    out = merge(*make_layer<double>("Dot", {{"axes", -1}}), {p, q});
    BOOST_REQUIRE(shape_of(out) == Shape({2, 3, 5}));
    for (std::size_t b = 0; b < 2; ++b)
        for (std::size_t i = 0; i < 3; ++i)
            for (std::size_t j = 0; j < 5; ++j)
            {
                double sum = 0.0;
                for (std::size_t k = 0; k < 4; ++k)
                    sum += p(b, i, k) * q(b, j, k);
                BOOST_TEST(out(b, i, j) == sum, boost::test_tools::tolerance(1e-12));
            }

    // Rank 2 with rank 2 gives (batch, 1).
    const Tensor<double> r = test::random_tensor({3, 4}, 5), s = test::random_tensor({3, 4}, 6);
    out = merge(*make_layer<double>("Dot", {{"axes", 1}}), {r, s});
    BOOST_REQUIRE(shape_of(out) == Shape({3, 1}));
    for (std::size_t b = 0; b < 3; ++b)
    {
        double sum = 0.0;
        for (std::size_t k = 0; k < 4; ++k)
            sum += r(b, k) * s(b, k);
        BOOST_TEST(out(b, 0) == sum, boost::test_tools::tolerance(1e-12));
    }
}

BOOST_AUTO_TEST_CASE(dot_normalize_is_cosine_similarity_with_its_gradient)
{
    const Tensor<double> x({{3.0, 4.0}, {1.0, 0.0}}), y({{4.0, 3.0}, {0.0, 2.0}});
    auto layer = make_layer<double>("Dot", {{"axes", 1}, {"normalize", true}});
    // (3, 4) . (4, 3) / (5 * 5) = 24 / 25; (1, 0) . (0, 2) = 0.
    const Tensor<double> out = merge(*layer, {x, y});
    BOOST_TEST(out(0, 0) == 24.0 / 25.0, boost::test_tools::tolerance(1e-15));
    BOOST_TEST(out(1, 0) == 0.0);

    // d cos / dx = y_hat / |x| - cos * x / |x|^2, by hand for every entry.
    Tensor<double> upstream(Shape{2, 1}, 1.0);
    upstream(1, 0) = 2.0;
    const auto grads = input_gradients(*layer, {x, y}, upstream);
    for (std::size_t b = 0; b < 2; ++b)
    {
        const double nx = std::hypot(x(b, 0), x(b, 1)), ny = std::hypot(y(b, 0), y(b, 1));
        const double cosine = (x(b, 0) * y(b, 0) + x(b, 1) * y(b, 1)) / (nx * ny);
        for (std::size_t k = 0; k < 2; ++k)
        {
            const double dx = y(b, k) / (ny * nx) - cosine * x(b, k) / (nx * nx);
            const double dy = x(b, k) / (nx * ny) - cosine * y(b, k) / (ny * ny);
            BOOST_TEST(grads[0](b, k) == upstream(b, 0) * dx, boost::test_tools::tolerance(1e-13));
            BOOST_TEST(grads[1](b, k) == upstream(b, 0) * dy, boost::test_tools::tolerance(1e-13));
        }
    }

    // Below epsilon (sum of squares 3e-14 < 1e-12) the norm is the constant sqrt(1e-12): the output is
    // 1e6 * x . y_hat and its gradient 1e6 * y_hat, with no radial term.
    const Tensor<double> tiny({{1e-7, -1e-7, 1e-7}}), w({{1.0, 2.0, 2.0}});
    auto flat = make_layer<double>("Dot", {{"axes", 1}, {"normalize", true}});
    const Tensor<double> small = merge(*flat, {tiny, w});
    BOOST_TEST(small(0, 0) == 1e6 * (1e-7 * 1.0 - 1e-7 * 2.0 + 1e-7 * 2.0) / 3.0, boost::test_tools::tolerance(1e-12));
    const auto tiny_grads = input_gradients(*flat, {tiny, w}, Tensor<double>(Shape{1, 1}, 1.0));
    for (std::size_t k = 0; k < 3; ++k)
        BOOST_TEST(tiny_grads[0](0, k) == 1e6 * w(0, k) / 3.0, boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(a_list_of_one_input_is_that_input)
{
    // tf.keras 2.x's _Merge and Concatenate accept a list of at least 1 input.
    const Tensor<double> x = test::random_tensor({2, 3}, 1);
    for (const char* cls : {"Add", "Multiply", "Average", "Maximum", "Minimum", "Concatenate"})
        BOOST_TEST(merge(*make_layer<double>(cls), {x}) == x, cls);
}

BOOST_AUTO_TEST_CASE(symbolic_shapes)
{
    auto add = make_layer("Add");
    using Shapes = std::vector<PartialShape>;
    BOOST_TEST((add->compute_output_shapes(Shapes{{-1, -1, 4}, {-1, 1, 4}}) == Shapes{{-1, -1, 4}}));
    BOOST_TEST((add->compute_output_shapes(Shapes{{-1, 5}, {-1, 1}}) == Shapes{{-1, 5}}));
    // _compute_elemwise_op_output_shape: None against any extent is None, even against 5.
    BOOST_TEST((add->compute_output_shapes(Shapes{{-1, -1}, {-1, 5}}) == Shapes{{-1, -1}}));
    // Shapes align from the right; the one known batch size is kept.
    BOOST_TEST((add->compute_output_shapes(Shapes{{2, 4}, {-1, 3, 4}}) == Shapes{{2, 3, 4}}));
    BOOST_TEST((add->compute_output_shapes(Shapes{{-1}, {-1, 3}}) == Shapes{{-1, 3}}));

    auto concat = make_layer("Concatenate", {{"axis", 1}});
    BOOST_TEST((concat->compute_output_shapes(Shapes{{-1, 2, 3}, {-1, -1, 3}}) == Shapes{{-1, -1, 3}}));
    BOOST_TEST((concat->compute_output_shapes(Shapes{{-1, 2, -1}, {-1, 5, 3}}) == Shapes{{-1, 7, -1}}));
    BOOST_TEST((make_layer("Concatenate", {{"axis", 0}})->compute_output_shapes(Shapes{{-1, 3}, {-1, 3}}) ==
               Shapes{{-1, 3}}));

    BOOST_TEST((make_layer("Dot", {{"axes", -1}})->compute_output_shapes(Shapes{{-1, 3, 4}, {-1, 5, 4}}) ==
               Shapes{{-1, 3, 5}}));
    BOOST_TEST((make_layer("Dot", {{"axes", 1}})->compute_output_shapes(Shapes{{-1, 3}, {-1, 3}}) == Shapes{{-1, 1}}));
    BOOST_TEST((make_layer("Dot", {{"axes", {1, 2}}})->compute_output_shapes(Shapes{{-1, 4}, {-1, 6, 4}}) ==
               Shapes{{-1, 6}}));

    // In a graph: a merge layer has no input spec, so once built it takes any compatible shapes.
    auto a = Input({4}), b = Input({3, 4}), c = Input({4});
    LayerRef merged = make_layer("Add", {{"name", "graph_add"}});
    BOOST_TEST(merged({a, b}).shape() == PartialShape({-1, 3, 4}));
    BOOST_TEST(merged({a, c}).shape() == PartialShape({-1, 4}));
    BOOST_CHECK_EXCEPTION(merged({a, Input({5})}), shape_error,
                          message_starts("Add layer 'graph_add': ", "Received shapes (4,) and (5,)"));
    LayerRef joined = make_layer("Concatenate");
    BOOST_TEST(joined({a, c, a}).shape() == PartialShape({-1, 12}));
    BOOST_CHECK_EXCEPTION(joined({a, b}), shape_error, message_contains("except for the concatenation axis"));
}

BOOST_AUTO_TEST_CASE(config)
{
    // tf.keras 2.x configs come back unchanged.
    const json add = {{"name", "add_1"}, {"trainable", true}, {"dtype", "float32"}};
    BOOST_TEST(make_layer("Add", add)->get_config() == add);
    const json concat = {{"name", "concatenate"}, {"trainable", true}, {"dtype", "float32"}, {"axis", -1}};
    BOOST_TEST(make_layer("Concatenate", concat)->get_config() == concat);
    const json dot = {{"name", "dot"}, {"trainable", true}, {"dtype", "float32"}, {"axes", {1, 2}}, {"normalize", false}};
    BOOST_TEST(make_layer("Dot", dot)->get_config() == dot);
    const json dot_int = {{"name", "dot_1"}, {"trainable", false}, {"dtype", "float32"}, {"axes", -1}, {"normalize", true}};
    BOOST_TEST(make_layer("Dot", dot_int)->get_config() == dot_int);
    // Keras 2.2's config has no dtype; the defaults fill it.
    const json old = {{"name", "concatenate_1"}, {"trainable", true}, {"axis", 2}};
    json config = make_layer("Concatenate", old)->get_config();
    BOOST_TEST(config["axis"] == 2);
    BOOST_TEST(config["dtype"] == "float32");

    reset_layer_names();
    for (const char* cls : {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"})
    {
        config = make_layer(cls)->get_config();
        BOOST_TEST(config.size() == 3u, cls);
        BOOST_TEST(config["name"] == to_snake_case(cls));
    }
    BOOST_TEST(make_layer("Concatenate")->get_config()["axis"] == -1);
    BOOST_TEST(make_layer("Dot", {{"axes", 1}})->get_config()["normalize"] == false);

    for (const char* cls : {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"})
        BOOST_CHECK_EXCEPTION(make_layer(cls, {{"name", "m"}, {"axis", 1}}), value_error,
                              message_starts(std::string(cls) + " layer 'm': ", "keyword argument not understood: 'axis'"));
    BOOST_CHECK_EXCEPTION(make_layer("Concatenate", {{"name", "c"}, {"axes", 1}}), value_error,
                          message_starts("Concatenate layer 'c': ", "keyword argument not understood: 'axes'"));
    BOOST_CHECK_EXCEPTION(make_layer("Dot", {{"name", "d"}, {"axes", 1}, {"axis", 1}}), value_error,
                          message_starts("Dot layer 'd': ", "keyword argument not understood: 'axis'"));
    BOOST_CHECK_EXCEPTION(make_layer("Concatenate", {{"name", "c"}, {"axis", "x"}}), value_error,
                          message_starts("Concatenate layer 'c': ", "`axis` must be an integer. Received axis='x'."));
    BOOST_CHECK_EXCEPTION(make_layer("Concatenate", {{"name", "c"}, {"axis", nullptr}}), value_error,
                          message_starts("Concatenate layer 'c': ", "Received axis=None."));

    BOOST_CHECK_EXCEPTION(make_layer("Dot", {{"name", "d"}}), value_error,
                          message_starts("Dot layer 'd': ", "missing required argument `axes`."));
    BOOST_CHECK_EXCEPTION(make_layer("Dot", {{"name", "d"}, {"axes", "x"}}), value_error,
                          message_starts("Dot layer 'd': ", "Invalid type for argument `axes`: it should be a list or "
                                                            "an int. Received: axes='x'"));
    BOOST_CHECK_EXCEPTION(make_layer("Dot", {{"name", "d"}, {"axes", {1}}}), value_error,
                          message_starts("Dot layer 'd': ", "Invalid format for argument `axes`: it should contain two "
                                                            "elements. Received: axes=[1]"));
    BOOST_CHECK_EXCEPTION(make_layer("Dot", {{"name", "d"}, {"axes", {1, 2, 1}}}), value_error,
                          message_contains("Received: axes=[1, 2, 1]"));
    BOOST_CHECK_EXCEPTION(make_layer("Dot", {{"name", "d"}, {"axes", {1, "a"}}}), value_error,
                          message_starts("Dot layer 'd': ", "Invalid format for argument `axes`: list elements should "
                                                            "be integers. Received: axes=[1, 'a']"));
    BOOST_CHECK_EXCEPTION(make_layer("Dot", {{"name", "d"}, {"axes", 1}, {"normalize", "yes"}}), value_error,
                          message_starts("Dot layer 'd': ", "normalize"));
}

BOOST_AUTO_TEST_CASE(elementwise_errors)
{
    using Shapes = std::vector<PartialShape>;
    auto add = make_layer("Add", {{"name", "a"}});
    BOOST_CHECK_EXCEPTION(add->compute_output_shapes(Shapes{{-1, 3}, {-1, 4}}), shape_error,
                          message_starts("Add layer 'a': ", "Inputs have incompatible shapes. Received shapes (3,) and (4,)"));
    // Keras swaps the shapes so that the longer comes first.
    BOOST_CHECK_EXCEPTION(add->compute_output_shapes(Shapes{{-1, 4}, {-1, 3, 5}}), shape_error,
                          message_starts("Add layer 'a': ", "Received shapes (3, 5) and (4,)"));
    // The running output shape meets the third input.
    BOOST_CHECK_EXCEPTION(add->compute_output_shapes(Shapes{{-1, 1, 4}, {-1, 3, 1}, {-1, 2, 4}}), shape_error,
                          message_contains("Received shapes (3, 4) and (2, 4)"));
    BOOST_CHECK_EXCEPTION(add->compute_output_shapes(Shapes{{2, 3}, {4, 3}}), shape_error,
                          message_starts("Add layer 'a': ", "Cannot merge tensors with different batch sizes. Got "
                                                            "tensors with shapes [(2, 3), (4, 3)]"));
    BOOST_CHECK_EXCEPTION(add->compute_output_shapes(Shapes{}), value_error,
                          message_starts("Add layer 'a': ", "A merge layer should be called on a list of at least 1 "
                                                            "input. Got 0 inputs. Full input_shape received: []"));
    // The one-input form is a single tensor where Keras wants a list.
    BOOST_CHECK_EXCEPTION(add->compute_output_shape({-1, 4}), value_error,
                          message_starts("Add layer 'a': ", "A merge layer should be called on a list of inputs. "
                                                            "Received: input_shape=(None, 4) (not a list of shapes)"));

    // Through call: the build reports the mismatch, naming the layer.
    auto maximum = make_layer<double>("Maximum", {{"name", "m"}});
    BOOST_CHECK_EXCEPTION(merge(*maximum, {test::random_tensor({2, 3}, 1), test::random_tensor({2, 2}, 2)}), shape_error,
                          message_starts("Maximum layer 'm': ", "Inputs have incompatible shapes. Received shapes (3,) and (2,)"));
    // A built layer checks later calls the same way.
    merge(*maximum, {test::random_tensor({2, 3}, 1), test::random_tensor({2, 1}, 2)});
    BOOST_CHECK_EXCEPTION(merge(*maximum, {test::random_tensor({2, 3}, 1), test::random_tensor({2, 4}, 2)}), shape_error,
                          message_starts("Maximum layer 'm': ", "Received shapes (3,) and (4,)"));

    auto subtract = make_layer<double>("Subtract", {{"name", "s"}});
    BOOST_CHECK_EXCEPTION(subtract->compute_output_shapes(Shapes{{-1, 3}, {-1, 3}, {-1, 3}}), value_error,
                          message_starts("Subtract layer 's': ", "A `Subtract` layer should be called on exactly 2 "
                                                                 "inputs. Received: input_shape=[(None, 3), (None, 3), (None, 3)]"));
    BOOST_CHECK_EXCEPTION(merge(*subtract, {test::random_tensor({2, 3}, 1)}), value_error,
                          message_starts("Subtract layer 's': ", "A `Subtract` layer should be called on exactly 2 inputs"));
    // Keras's Subtract.build checks the shapes before the count.
    BOOST_CHECK_EXCEPTION(subtract->compute_output_shapes(Shapes{{-1, 3}, {-1, 4}, {-1, 3}}), shape_error,
                          message_contains("Inputs have incompatible shapes"));
}

BOOST_AUTO_TEST_CASE(concatenate_errors)
{
    using Shapes = std::vector<PartialShape>;
    auto concat = make_layer("Concatenate", {{"name", "c"}, {"axis", 1}});
    BOOST_CHECK_EXCEPTION(concat->compute_output_shapes(Shapes{{-1, 2, 3}, {-1, 4, 4}}), shape_error,
                          message_starts("Concatenate layer 'c': ",
                                         "A `Concatenate` layer requires inputs with matching shapes except for the "
                                         "concatenation axis. Received: input_shape=[(None, 2, 3), (None, 4, 4)]"));
    BOOST_CHECK_EXCEPTION(concat->compute_output_shapes(Shapes{{-1, 2, 3}, {-1, 4}}), shape_error,
                          message_contains("Received: input_shape=[(None, 2, 3), (None, 4)]"));
    // Unknown extents match anything.
    BOOST_TEST((concat->compute_output_shapes(Shapes{{-1, 2, -1}, {-1, 4, 4}, {-1, 1, -1}}) == Shapes{{-1, 7, -1}}));
    BOOST_CHECK_EXCEPTION(make_layer("Concatenate", {{"name", "c3"}, {"axis", 3}})->compute_output_shapes(Shapes{{-1, 2, 3}, {-1, 2, 3}}),
                          value_error, message_starts("Concatenate layer 'c3': ", "axis=3 is out of range for input 0 of shape (None, 2, 3)"));
    BOOST_CHECK_EXCEPTION(make_layer("Concatenate", {{"name", "c4"}, {"axis", -4}})->compute_output_shapes(Shapes{{-1, 2, 3}}),
                          value_error, message_starts("Concatenate layer 'c4': ", "axis=-4 is out of range"));
    BOOST_CHECK_EXCEPTION(concat->compute_output_shapes(Shapes{}), value_error,
                          message_starts("Concatenate layer 'c': ", "A `Concatenate` layer should be called on a list of "
                                                                    "at least 1 input. Received: input_shape=[]"));
    BOOST_CHECK_EXCEPTION(concat->compute_output_shape({-1, 4}), value_error,
                          message_starts("Concatenate layer 'c': ", "A `Concatenate` layer should be called on a list of "
                                                                    "inputs. Received: input_shape=(None, 4)"));
    auto layer = make_layer<double>("Concatenate", {{"name", "cd"}});
    BOOST_CHECK_EXCEPTION(merge(*layer, {test::random_tensor({2, 3, 2}, 1), test::random_tensor({2, 4, 2}, 2)}),
                          shape_error, message_starts("Concatenate layer 'cd': ", "except for the concatenation axis"));
}

BOOST_AUTO_TEST_CASE(dot_errors)
{
    using Shapes = std::vector<PartialShape>;
    auto dot = make_layer("Dot", {{"name", "d"}, {"axes", 1}});
    BOOST_CHECK_EXCEPTION(dot->compute_output_shapes(Shapes{{-1, 3}, {-1, 4}}), shape_error,
                          message_starts("Dot layer 'd': ", "Incompatible input shapes: axis values 3 (at axis 1) != 4 "
                                                            "(at axis 1). Full input shapes: (None, 3), (None, 4)"));
    // Keras compares the extents as Python values: None against 4 differs.
    BOOST_CHECK_EXCEPTION(dot->compute_output_shapes(Shapes{{-1, -1}, {-1, 4}}), shape_error,
                          message_contains("axis values None (at axis 1) != 4 (at axis 1)"));
    BOOST_CHECK_EXCEPTION(dot->compute_output_shapes(Shapes{{-1, 3}, {-1, 3}, {-1, 3}}), value_error,
                          message_starts("Dot layer 'd': ", "A `Dot` layer should be called on a list of 2 inputs. "
                                                            "Received: input_shape=[(None, 3), (None, 3), (None, 3)]"));
    BOOST_CHECK_EXCEPTION(dot->compute_output_shapes(Shapes{{-1, 3}}), value_error,
                          message_contains("should be called on a list of 2 inputs"));
    BOOST_CHECK_EXCEPTION(dot->compute_output_shape({-1, 3}), value_error,
                          message_starts("Dot layer 'd': ", "A `Dot` layer should be called on a list of 2 inputs. "
                                                            "Received: input_shape=(None, 3)"));
    BOOST_CHECK_EXCEPTION(dot->compute_output_shapes(Shapes{{-1}, {-1, 3}}), shape_error,
                          message_starts("Dot layer 'd': ", "Cannot do batch_dot on inputs with rank < 2. Received "
                                                            "inputs with shapes (None,) and (None, 3)."));
    BOOST_CHECK_EXCEPTION(dot->compute_output_shapes(Shapes{{2, 3}, {4, 3}}), shape_error,
                          message_contains("Cannot do batch_dot on inputs with different batch sizes"));
    BOOST_CHECK_EXCEPTION(make_layer("Dot", {{"name", "d0"}, {"axes", 0}})->compute_output_shapes(Shapes{{-1, 3}, {-1, 3}}),
                          value_error, message_starts("Dot layer 'd0': ", "Cannot perform batch_dot over axis 0."));
    BOOST_CHECK_EXCEPTION(make_layer("Dot", {{"name", "d2"}, {"axes", {-2, -2}}})->compute_output_shapes(Shapes{{-1, 3}, {-1, 3}}),
                          value_error, message_contains("Cannot perform batch_dot over axis 0."));
    // Dot.build compares the extents before batch_dot sees axis 0: the batch's None against 3.
    BOOST_CHECK_EXCEPTION(make_layer("Dot", {{"name", "d3"}, {"axes", {-2, 1}}})->compute_output_shapes(Shapes{{-1, 3}, {-1, 3}}),
                          shape_error, message_contains("axis values None (at axis -2) != 3 (at axis 1)"));
    BOOST_CHECK_EXCEPTION(make_layer("Dot", {{"name", "d5"}, {"axes", 5}})->compute_output_shapes(Shapes{{-1, 3}, {-1, 3}}),
                          value_error, message_starts("Dot layer 'd5': ", "axes=5 is out of range for input 0 of shape (None, 3)"));
    BOOST_CHECK_EXCEPTION(make_layer("Dot", {{"name", "dt"}, {"axes", {1, -3}}})->compute_output_shapes(Shapes{{-1, 3}, {-1, 3}}),
                          value_error, message_contains("axes=[1, -3] is out of range for input 1"));
    // The axes of a pair are reported as given.
    BOOST_CHECK_EXCEPTION(make_layer("Dot", {{"name", "dp"}, {"axes", {-1, -1}}})->compute_output_shapes(Shapes{{-1, 2}, {-1, 3}}),
                          shape_error, message_contains("axis values 2 (at axis -1) != 3 (at axis -1)"));
    auto layer = make_layer<double>("Dot", {{"name", "dd"}, {"axes", -1}});
    BOOST_CHECK_EXCEPTION(merge(*layer, {test::random_tensor({2, 3}, 1), test::random_tensor({2, 4}, 2)}), shape_error,
                          message_starts("Dot layer 'dd': ", "axis values 3 (at axis 1) != 4 (at axis 1)"));
}

BOOST_AUTO_TEST_SUITE_END()
