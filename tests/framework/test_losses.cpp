// Losses: gradients by the checker (double), values against hand computations and Keras's documented
// examples, logits against softmax/sigmoid + crossentropy, extreme logits, the probability clip, configs.
#include "framework/training/losses.hpp"
#include "support/checks.hpp"
#include "support/gradcheck.hpp"

#include <boost/test/unit_test.hpp>

#include <cmath>

using namespace xk;
using test::check_function_gradients;
using test::message_contains;
using test::random_tensor;
using V = BasicVariable<double>;
using Vs = std::vector<V>;
using TapeD = BasicTape<double>;
using TD = Tensor<double>;
namespace tt = boost::test_tools;

namespace
{
    void expect_ok(const test::GradcheckReport& r, const std::string& what)
    {
        BOOST_TEST(r.ok, what << ": " << r.summary());
        BOOST_TEST(r.checked > 0u);
    }

    TD matrix(std::initializer_list<std::initializer_list<double>> rows)
    {
        TD out = TD::from_shape({rows.size(), rows.begin()->size()});
        std::size_t i = 0;
        for (const auto& r : rows)
            for (double v : r)
                out.data()[i++] = v;
        return out;
    }

    TD reshaped(TD t, const Shape& shape)
    {
        t.reshape(shape);
        return t;
    }

    /// Loss value and gradient of y_pred through the tape.
    template <class T, class F>
    std::pair<double, Tensor<T>> run(F loss, const Tensor<T>& y_pred)
    {
        BasicTape<T> tape;
        BasicVariable<T> p(y_pred, true);
        BasicVariable<T> l = loss(tape, p);
        BOOST_TEST(l.value().dimension() == 0u);
        tape.backward(l);
        return {double(l.value()()), p.grad()};
    }

    /// Probabilities in [0.1, 1): inside the clip range.
    TD probabilities(const Shape& s, std::uint64_t seed)
    {
        return random_tensor(s, seed) * 0.45 + 0.55;
    }

    TD one_hot(const std::vector<std::size_t>& labels, std::size_t classes)
    {
        TD out({labels.size(), classes}, 0.0);
        for (std::size_t r = 0; r < labels.size(); ++r)
            out(r, labels[r]) = 1.0;
        return out;
    }

    TD softmax_rows(const TD& z)
    {
        TD p = z;
        const std::size_t c = z.shape().back(), rows = z.size() / c;
        for (std::size_t r = 0; r < rows; ++r)
        {
            double s = 0;
            for (std::size_t j = 0; j < c; ++j)
                s += std::exp(z.data()[r * c + j]);
            for (std::size_t j = 0; j < c; ++j)
                p.data()[r * c + j] = std::exp(z.data()[r * c + j]) / s;
        }
        return p;
    }
}

BOOST_AUTO_TEST_SUITE(loss_gradients)

BOOST_AUTO_TEST_CASE(crossentropies)
{
    const TD hard = one_hot({0, 2, 1, 2}, 3);
    const TD soft = probabilities({4, 3}, 7); // labels that do not sum to 1
    for (bool logits : {false, true})
        for (double smoothing : {0.0, 0.2})
            for (const TD* labels : {&hard, &soft})
            {
                std::string what = std::string("categorical logits=") + (logits ? "1" : "0") +
                                   " smoothing=" + std::to_string(smoothing) + (labels == &soft ? " soft" : " hard");
                TD y_true = *labels;
                TD input = logits ? TD(random_tensor({4, 3}, 3) * 3.0) : probabilities({4, 3}, 3);
                expect_ok(check_function_gradients(
                              [&](TapeD& t, const Vs& v) {
                                  return losses::categorical_crossentropy(t, y_true, v[0], logits, smoothing);
                              },
                              {input}),
                          what);
            }
    const TD labels = matrix({{2.0}, {0.0}, {1.0}, {1.0}});
    for (bool logits : {false, true})
    {
        TD input = logits ? TD(random_tensor({4, 3}, 5) * 3.0) : probabilities({4, 3}, 5);
        expect_ok(
            check_function_gradients(
                [&](TapeD& t, const Vs& v) { return losses::sparse_categorical_crossentropy(t, labels, v[0], logits); },
                {input}),
            std::string("sparse logits=") + (logits ? "1" : "0"));
    }
    const TD targets = random_tensor({3, 4}, 11) * 0.5 + 0.5;
    for (bool logits : {false, true})
        for (double smoothing : {0.0, 0.1})
        {
            TD input = logits ? TD(random_tensor({3, 4}, 13) * 4.0) : TD(random_tensor({3, 4}, 13) * 0.45 + 0.5);
            expect_ok(check_function_gradients(
                          [&](TapeD& t, const Vs& v) {
                              return losses::binary_crossentropy(t, targets, v[0], logits, smoothing);
                          },
                          {input}),
                      std::string("binary logits=") + (logits ? "1" : "0") + " smoothing=" + std::to_string(smoothing));
        }
}

BOOST_AUTO_TEST_CASE(regression_losses)
{
    const TD y_true = random_tensor({3, 2, 4}, 21);
    const TD offsets = matrix({{0.3, -0.7, 1.6, -2.2},
                               {0.45, -0.2, 0.8, -1.3},
                               {2.5, -0.6, 0.25, -1.45},
                               {0.3, -0.7, 1.6, -2.2},
                               {0.45, -0.2, 0.8, -1.3},
                               {2.5, -0.6, 0.25, -1.45}});
    TD y_pred = y_true + reshaped(offsets, {3, 2, 4}); // errors away from 0 and from +-delta
    expect_ok(check_function_gradients(
                  [&](TapeD& t, const Vs& v) { return losses::mean_squared_error(t, y_true, v[0]); }, {y_pred}),
              "mse");
    expect_ok(check_function_gradients(
                  [&](TapeD& t, const Vs& v) { return losses::mean_absolute_error(t, y_true, v[0]); }, {y_pred}),
              "mae");
    for (double delta : {1.0, 0.5})
        expect_ok(check_function_gradients([&](TapeD& t, const Vs& v) { return losses::huber(t, y_true, v[0], delta); },
                                           {y_pred}),
                  "huber delta=" + std::to_string(delta));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(loss_values)

BOOST_AUTO_TEST_CASE(keras_documented_examples)
{
    const TD y_true = matrix({{0, 1, 0}, {0, 0, 1}});
    const TD y_pred = matrix({{0.05, 0.95, 0}, {0.1, 0.8, 0.1}});
    const double cce = (-std::log(0.95) - std::log(0.1)) / 2; // 1.1769392 in Keras's docstring
    auto [value, grad] =
        run<double>([&](TapeD& t, const V& p) { return losses::categorical_crossentropy(t, y_true, p); }, y_pred);
    BOOST_TEST(value == cce, tt::tolerance(1e-12));
    BOOST_TEST(value == 1.1769392, tt::tolerance(1e-7));

    // Sparse: the clipped row is renormalised (log-softmax of log p), 1e-7 more than the exact value.
    const TD labels = {1.0, 2.0};
    double sparse =
        run<double>([&](TapeD& t, const V& p) { return losses::sparse_categorical_crossentropy(t, labels, p); }, y_pred)
            .first;
    BOOST_TEST(sparse == (std::log(1.0 + 1e-7) - std::log(0.95) - std::log(0.1)) / 2, tt::tolerance(1e-12));

    const TD bt = matrix({{0, 1}, {0, 0}}), bp = matrix({{0.6, 0.4}, {0.4, 0.6}});
    const double e = 1e-7;
    const double bce =
        (-(std::log(1 - 0.6 + e) + std::log(0.4 + e)) / 2 - (std::log(1 - 0.4 + e) + std::log(1 - 0.6 + e)) / 2) / 2;
    double b = run<double>([&](TapeD& t, const V& p) { return losses::binary_crossentropy(t, bt, p); }, bp).first;
    BOOST_TEST(b == bce, tt::tolerance(1e-12));
    BOOST_TEST(b == 0.815, tt::tolerance(1e-3)); // Keras's docstring

    // BinaryCrossentropy(from_logits=True) docstring: 0.865; one row of four.
    const TD lt = {0.0, 1.0, 0.0, 0.0}, lz = {-18.6, 0.51, 2.94, -12.8};
    double expected = 0;
    for (std::size_t i = 0; i < 4; ++i)
        expected += std::log1p(std::exp(lz(i))) - lz(i) * lt(i);
    double bl =
        run<double>([&](TapeD& t, const V& p) { return losses::binary_crossentropy(t, lt, p, true); }, lz).first;
    BOOST_TEST(bl == expected / 4, tt::tolerance(1e-12));
    BOOST_TEST(bl == 0.865, tt::tolerance(1e-3));

    const TD rt = matrix({{0, 1}, {0, 0}}), rp = matrix({{1, 1}, {1, 0}});
    BOOST_TEST(run<double>([&](TapeD& t, const V& p) { return losses::mean_squared_error(t, rt, p); }, rp).first ==
               0.5);
    BOOST_TEST(run<double>([&](TapeD& t, const V& p) { return losses::mean_absolute_error(t, rt, p); }, rp).first ==
               0.5);
    // Huber docstring: 0.155 (errors 0.6, -0.6, 0.4, 0.6 all in the quadratic part).
    BOOST_TEST(run<double>([&](TapeD& t, const V& p) { return losses::huber(t, bt, p); }, bp).first ==
                   (0.18 + 0.18) / 4 + (0.08 + 0.18) / 4,
               tt::tolerance(1e-12));
    // Beyond delta: delta |e| - delta^2 / 2, and the gradient is delta sign(e) / n.
    auto [h, hg] = run<double>(
        [&](TapeD& t, const V& p) {
            return losses::huber(t, TD{0.0, 0.0}, p, 0.5);
        },
        TD{2.0, -0.25});
    BOOST_TEST(h == ((0.5 * 2 - 0.125) + 0.5 * 0.0625) / 2, tt::tolerance(1e-12));
    BOOST_TEST(hg(0) == 0.25, tt::tolerance(1e-12));
    BOOST_TEST(hg(1) == -0.125, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(logits_equal_softmax_then_crossentropy)
{
    const TD z = random_tensor({5, 4}, 31) * 3.0;
    const TD y_true = one_hot({0, 3, 1, 1, 2}, 4);
    const TD p = softmax_rows(z);
    auto [from_logits, dz] =
        run<double>([&](TapeD& t, const V& v) { return losses::categorical_crossentropy(t, y_true, v, true); }, z);
    double from_probs =
        run<double>([&](TapeD& t, const V& v) { return losses::categorical_crossentropy(t, y_true, v); }, p).first;
    BOOST_TEST(from_logits == from_probs, tt::tolerance(1e-12));
    // d/dz = (softmax - t) / rows
    std::string why;
    BOOST_TEST(test::close_to_scale(dz, TD((p - y_true) / 5.0), 1e-12, &why), why);

    const TD labels = {0.0, 3.0, 1.0, 1.0, 2.0};
    double sparse =
        run<double>([&](TapeD& t, const V& v) { return losses::sparse_categorical_crossentropy(t, labels, v, true); },
                    z)
            .first;
    BOOST_TEST(sparse == from_logits, tt::tolerance(1e-12));

    // Binary: sigmoid then crossentropy (the +1e-7 inside the logs makes them differ by ~1e-7).
    const TD x = random_tensor({3, 2}, 33) * 3.0, bt = random_tensor({3, 2}, 34) * 0.5 + 0.5;
    TD s = x;
    for (auto& v : s)
        v = 1 / (1 + std::exp(-v));
    double bl = run<double>([&](TapeD& t, const V& v) { return losses::binary_crossentropy(t, bt, v, true); }, x).first;
    double bp = run<double>([&](TapeD& t, const V& v) { return losses::binary_crossentropy(t, bt, v); }, s).first;
    BOOST_TEST(bl == bp, tt::tolerance(1e-6));
}

BOOST_AUTO_TEST_CASE(extreme_logits_stay_finite)
{
    auto check = [](auto zero) {
        using T = decltype(zero);
        Tensor<T> z = Tensor<T>::from_shape({2, 3});
        const T values[] = {1000, 0, -1000, -1000, 1000, 0};
        std::copy(values, values + 6, z.data());
        Tensor<T> y_true({2, 3}, T(0));
        y_true(0, 1) = 1;
        y_true(1, 1) = 1;
        auto [loss, grad] =
            run<T>([&](BasicTape<T>& t,
                       const BasicVariable<T>& p) { return losses::categorical_crossentropy(t, y_true, p, true); },
                   z);
        BOOST_TEST(loss == 500.0); // rows: 1000 and 0
        BOOST_TEST(grad(0, 0) == T(0.5));
        BOOST_TEST(grad(0, 1) == T(-0.5));
        BOOST_TEST(grad(1, 1) == T(0));
        for (T g : grad)
            BOOST_TEST(std::isfinite(g));
        Tensor<T> labels = {T(1), T(1)};
        auto sparse = run<T>(
            [&](BasicTape<T>& t, const BasicVariable<T>& p) {
                return losses::sparse_categorical_crossentropy(t, labels, p, true);
            },
            z);
        BOOST_TEST(sparse.first == 500.0);
        BOOST_TEST(sparse.second(0, 0) == T(0.5));

        Tensor<T> x = {T(1000), T(-1000)}, zeros = {T(0), T(0)};
        auto bin = run<T>(
            [&](BasicTape<T>& t, const BasicVariable<T>& p) { return losses::binary_crossentropy(t, zeros, p, true); },
            x);
        BOOST_TEST(bin.first == 500.0);
        BOOST_TEST(bin.second(0) == T(0.5));
        BOOST_TEST(bin.second(1) == T(0));
    };
    check(0.0);
    check(0.0f);
}

BOOST_AUTO_TEST_CASE(probabilities_are_clipped)
{
    // log(1e-7) for a zero probability on the true class; no gradient through the clipped entries.
    const TD y_true = matrix({{0, 1, 0}});
    auto [loss, grad] = run<double>(
        [&](TapeD& t, const V& p) { return losses::categorical_crossentropy(t, y_true, p); }, matrix({{1, 0, 0}}));
    BOOST_TEST(loss == -std::log(1e-7), tt::tolerance(1e-12));
    for (double g : grad)
        BOOST_TEST(g == 0.0);
    // Normalised first: (2, 6, 2) is (0.2, 0.6, 0.2).
    BOOST_TEST(run<double>([&](TapeD& t, const V& p) { return losses::categorical_crossentropy(t, y_true, p); },
                           matrix({{2, 6, 2}}))
                       .first == -std::log(0.6),
               tt::tolerance(1e-12));

    auto [sparse, sgrad] =
        run<double>([&](TapeD& t, const V& p) { return losses::sparse_categorical_crossentropy(t, TD{1.0}, p); },
                    matrix({{1, 0, 0}}));
    BOOST_TEST(sparse == std::log(1 - 1e-7 + 2e-7) - std::log(1e-7), tt::tolerance(1e-12));
    for (double g : sgrad)
        BOOST_TEST(g == 0.0);

    // Binary: clip(p) + 1e-7 inside the log.
    auto [bin, bgrad] = run<double>(
        [&](TapeD& t, const V& p) {
            return losses::binary_crossentropy(t, matrix({{1, 0}}), p);
        },
        matrix({{0, 1}}));
    BOOST_TEST(bin == -std::log(2e-7), tt::tolerance(1e-9));
    for (double g : bgrad)
        BOOST_TEST(g == 0.0);

    float f = run<float>(
                  [](BasicTape<float>& t, const BasicVariable<float>& p) {
                      return losses::categorical_crossentropy(t, Tensor<float>({1, 2}, 0.5f), p);
                  },
                  Tensor<float>({1, 2}, 0.5f))
                  .first;
    BOOST_TEST(f == float(std::log(2.0)), tt::tolerance(1e-6f));
}

BOOST_AUTO_TEST_CASE(label_smoothing_and_shapes)
{
    const TD y_true = matrix({{0, 1, 0}});
    const TD y_pred = matrix({{0.2, 0.5, 0.3}});
    const double s = 0.3;
    const double want = -((s / 3) * std::log(0.2) + (0.7 + s / 3) * std::log(0.5) + (s / 3) * std::log(0.3));
    BOOST_TEST(
        run<double>([&](TapeD& t, const V& p) { return losses::categorical_crossentropy(t, y_true, p, false, s); },
                    y_pred)
                .first == want,
        tt::tolerance(1e-12));
    const double bwant = -((0.15) * std::log(0.2 + 1e-7) + 0.85 * std::log(0.8 + 1e-7)) / 1;
    BOOST_TEST(
        run<double>([&](TapeD& t, const V& p) { return losses::binary_crossentropy(t, matrix({{0.0}}), p, false, s); },
                    matrix({{0.2}}))
                .first == bwant,
        tt::tolerance(1e-12));

    // Leading axes are all "batch": (2, 3, 4) is 6 rows.
    const TD z = random_tensor({2, 3, 4}, 41) * 2.0;
    TD t3({2, 3, 4}, 0.0);
    for (std::size_t r = 0; r < 6; ++r)
        t3.data()[r * 4 + r % 4] = 1;
    double rowsum = 0;
    const TD p3 = softmax_rows(z);
    for (std::size_t r = 0; r < 6; ++r)
        rowsum -= std::log(p3.data()[r * 4 + r % 4]);
    BOOST_TEST(
        run<double>([&](TapeD& t, const V& p) { return losses::categorical_crossentropy(t, t3, p, true); }, z).first ==
            rowsum / 6,
        tt::tolerance(1e-12));

    // A trailing axis of 1 on one side only: (4,) targets for (4, 1) predictions.
    const TD flat = {1.0, 2.0, 3.0, 4.0};
    TD column = TD({4, 1}, 0.0);
    for (std::size_t i = 0; i < 4; ++i)
        column(i, 0) = 0.5 * double(i);
    BOOST_TEST(
        run<double>([&](TapeD& t, const V& p) { return losses::mean_squared_error(t, flat, p); }, column).first ==
        run<double>(
            [&](TapeD& t, const V& p) {
                return losses::mean_squared_error(t, reshaped(flat, {4, 1}), p);
            },
            column)
            .first);

    TapeD tape;
    BOOST_CHECK_EXCEPTION(losses::mean_squared_error(tape, TD({2, 4}, 0.0), V(TD({2, 3}, 0.0))), shape_error,
                          message_contains({"mean_squared_error", "(2, 4)", "(2, 3)"}));
    BOOST_CHECK_EXCEPTION(losses::sparse_categorical_crossentropy(tape, TD{0.0, 3.0}, V(TD({2, 3}, 0.1))), value_error,
                          message_contains("label value of 3 which is outside the valid range of [0, 3)"));
    BOOST_CHECK_EXCEPTION(losses::sparse_categorical_crossentropy(tape, TD{0.0, 1.0, 2.0}, V(TD({2, 3}, 0.1))),
                          shape_error, message_contains("one label per row"));
    BOOST_CHECK_EXCEPTION(
        losses::categorical_crossentropy(tape, TD(TD::shape_type{}, 0.0), V(TD(TD::shape_type{}, 0.0))), shape_error,
        message_contains("at least one axis"));
    // Nothing is recorded for a prediction that needs no gradient.
    losses::mean_absolute_error(tape, TD({2, 2}, 0.0), V(TD({2, 2}, 1.0)));
    BOOST_TEST(tape.size() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(loss_objects)

BOOST_AUTO_TEST_CASE(identifiers_and_configs)
{
    BOOST_TEST((get_loss("mse").kind() == Loss::Kind::MeanSquaredError));
    BOOST_TEST(get_loss("MSE").name() == "MSE");
    BOOST_TEST((get_loss("mae").kind() == Loss::Kind::MeanAbsoluteError));
    BOOST_TEST((get_loss("huber").kind() == Loss::Kind::Huber));
    BOOST_TEST(serialize(get_loss("sparse_categorical_crossentropy")) == json("sparse_categorical_crossentropy"));

    BOOST_TEST(get_loss("CategoricalCrossentropy").get_config() == json({{"reduction", "auto"},
                                                                         {"name", "categorical_crossentropy"},
                                                                         {"from_logits", false},
                                                                         {"label_smoothing", 0.0},
                                                                         {"axis", -1}}));
    BOOST_TEST(get_loss("SparseCategoricalCrossentropy").get_config() ==
               json({{"reduction", "auto"},
                     {"name", "sparse_categorical_crossentropy"},
                     {"from_logits", false},
                     {"ignore_class", nullptr}}));
    BOOST_TEST(get_loss("MeanSquaredError").get_config() ==
               json({{"reduction", "auto"}, {"name", "mean_squared_error"}}));
    BOOST_TEST(get_loss("Huber").get_config() == json({{"reduction", "auto"}, {"name", "huber_loss"}, {"delta", 1.0}}));

    json bce = {
        {"class_name", "BinaryCrossentropy"},
        {"config",
         {{"reduction", "auto"}, {"name", "bce"}, {"from_logits", true}, {"label_smoothing", 0.1}, {"axis", -1}}}};
    Loss l = get_loss(bce);
    BOOST_TEST(l.from_logits());
    BOOST_TEST(l.label_smoothing() == 0.1);
    BOOST_TEST(serialize(l) == bce);
    BOOST_TEST(serialize(get_loss(serialize(l))) == bce);

    // The object computes what the function computes; "sum" adds the per-sample losses.
    const TD y = random_tensor({3, 2}, 51), p = random_tensor({3, 2}, 52);
    double mean = run<double>([&](TapeD& t, const V& v) { return get_loss("mse")(t, y, v); }, p).first;
    BOOST_TEST(mean == run<double>([&](TapeD& t, const V& v) { return losses::mean_squared_error(t, y, v); }, p).first);
    Loss summed(Loss::Kind::MeanSquaredError, {{"reduction", "sum"}});
    auto [sum, sgrad] = run<double>([&](TapeD& t, const V& v) { return summed(t, y, v); }, p);
    BOOST_TEST(sum == 3 * mean, tt::tolerance(1e-12));
    BOOST_TEST(sgrad(0, 0) == (p(0, 0) - y(0, 0)), tt::tolerance(1e-12)); // 2 e / 2 values per row

    BOOST_CHECK_EXCEPTION(get_loss("cross_entropy"), value_error, message_contains({"Unknown loss", "cross_entropy"}));
    BOOST_CHECK_EXCEPTION(Loss(Loss::Kind::MeanSquaredError, {{"reduction", "none"}}), value_error,
                          message_contains("reduction"));
    BOOST_CHECK_EXCEPTION(Loss(Loss::Kind::CategoricalCrossentropy, {{"axis", 1}}), value_error,
                          message_contains("axis"));
    BOOST_CHECK_EXCEPTION(Loss(Loss::Kind::MeanSquaredError, {{"delta", 1.0}}), value_error,
                          message_contains("unexpected keyword argument 'delta'"));
}

BOOST_AUTO_TEST_SUITE_END()
