// Non-finite numbers: the numerics-checking mode names the layer (forward) or the layer and weight
// (backward) where NaN or Inf first appears; TerminateOnNaN stops training; softmax and the crossentropies
// stay finite and equal Keras's formulas (evaluated here in double) for logits of 1e30, -1e30 and past
// float's exp overflow (88.7).
#include "framework/keras/activations.hpp"
#include "framework/engine/check_numerics.hpp"
#include "framework/training/losses.hpp"
#include "framework/training/model.hpp"
#include "support/checks.hpp"

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>

using namespace xk;
using test::message_contains;
namespace tt = boost::test_tools;

namespace
{
    struct NumericsChecking
    {
        explicit NumericsChecking(bool on) { set_check_numerics(on); }
        ~NumericsChecking() { set_check_numerics(false); }
    };

    void fill(Tensor<float>& t, float value)
    {
        std::fill(t.begin(), t.end(), value);
    }

    /// Dense(4) -> Dense(4, named "overflowing") -> Dense(2): the middle layer's kernel of 1e30 turns inputs
    /// of about 1e10 into Inf.
    Sequential overflowing_model()
    {
        Sequential model;
        model.set_input({-1, 3});
        model.add(make_layer("Dense", {{"units", 4}, {"name", "first"}, {"kernel_initializer", "ones"}}));
        model.add(make_layer("Dense", {{"units", 4}, {"name", "overflowing"}, {"activation", "relu"}}));
        model.add(make_layer("Dense", {{"units", 2}, {"name", "last"}, {"activation", "softmax"}}));
        fill(model.layer("overflowing").weights()[0]->variable.value(), 1e30f);
        return model;
    }
}

BOOST_AUTO_TEST_CASE(check_numerics_names_the_layer_whose_output_is_first_non_finite)
{
    Sequential model = overflowing_model();
    Tensor<float> x({2, 3}, 1e10f);
    {
        NumericsChecking off(false);
        Tensor<float> y = model.predict(x);
        BOOST_TEST(!std::isfinite(y(0, 0)), "without checking the NaN flows through silently");
    }
    NumericsChecking on(true);
    BOOST_CHECK_EXCEPTION(model.predict(x), value_error,
                          message_contains({"Inf in the pre-activation output of Dense layer 'overflowing'",
                                            "first at flat index 0 of shape (2, 4)"}));
    // Finite inputs pass through the checks unchanged.
    Tensor<float> small({2, 3}, 1e-3f);
    Tensor<float> checked = model.predict(small);
    NumericsChecking off(false);
    BOOST_TEST((checked == model.predict(small)));
}

BOOST_AUTO_TEST_CASE(check_numerics_names_the_layer_and_weight_whose_gradient_is_first_non_finite)
{
    // Dense(1) of kernel 0.1 on x = 1e20: output 1e19 and MSE loss 1e38 are finite, but dL/dkernel =
    // x * 2 * 1e19 = 2e39 overflows float.
    Sequential model;
    model.set_input({-1, 1});
    model.add(make_layer("Dense", {{"units", 1}, {"name", "steep"}}));
    fill(model.layer("steep").weights()[0]->variable.value(), 0.1f);
    model.compile("sgd", "mse");
    Tensor<float> x({1, 1}, 1e20f), y({1, 1}, 0.f);
    NumericsChecking on(true);
    BOOST_CHECK_EXCEPTION(model.train_on_batch(x, y), value_error,
                          message_contains("Inf in the gradient of weight 'kernel' of Dense layer 'steep'"));

    // The loss is checked too, before the backward pass.
    fill(model.layer("steep").weights()[0]->variable.value(), 1e30f);
    BOOST_CHECK_EXCEPTION(model.train_on_batch(x, y), value_error,
                          message_contains({"Inf in the output of Dense layer 'steep'"}));
    fill(model.layer("steep").weights()[0]->variable.value(), 1e15f);
    Tensor<float> moderate({1, 1}, 1e10f);
    BOOST_CHECK_EXCEPTION(model.train_on_batch(moderate, y), value_error,
                          message_contains({"Inf in the loss 'mse' of Sequential"}));
}

BOOST_AUTO_TEST_CASE(terminate_on_nan_stops_at_the_first_non_finite_batch_loss)
{
    Sequential model = overflowing_model();
    model.compile("sgd", "categorical_crossentropy");
    Tensor<float> x({8, 3}, 1e10f), y({8, 2}, 0.f);
    for (std::size_t i = 0; i < 8; ++i)
        y(i, i % 2) = 1.f;
    FitOptions options;
    options.epochs = 5;
    options.batch_size = 2;
    options.verbose = 0;
    options.callbacks = {std::make_shared<TerminateOnNaN>()};
    History h = model.fit(x, y, options);
    BOOST_TEST(model.stop_training);
    BOOST_REQUIRE_EQUAL(h.history.at("loss").size(), 1u); // stopped in the first epoch
    BOOST_TEST(!std::isfinite(h.history.at("loss")[0]));

    // The same run with numerics checking names the layer instead (on a fresh model: the step that
    // produced the NaN loss already wrote NaN into every weight, as it does in Keras).
    BOOST_TEST(!std::isfinite(model.layer("first").weights()[0]->variable.value()(0, 0)));
    model = overflowing_model();
    model.compile("sgd", "categorical_crossentropy");
    NumericsChecking on(true);
    options.callbacks.clear();
    BOOST_CHECK_EXCEPTION(model.fit(x, y, options), value_error, message_contains("Dense layer 'overflowing'"));
}

namespace
{
    /// Keras's softmax, in double: exp(z - max) / sum.
    std::vector<double> softmax_double(const std::vector<double>& z)
    {
        double top = *std::max_element(z.begin(), z.end()), sum = 0;
        std::vector<double> out;
        for (double v : z)
            sum += std::exp(v - top);
        for (double v : z)
            out.push_back(std::exp(v - top) / sum);
        return out;
    }

    /// log-sum-exp(z) - z[label], as softmax_cross_entropy_with_logits evaluates it: shifted by the max first
    /// (top + log(sum) - z[label] would lose log(sum) next to 1e30 even in double).
    double crossentropy_from_logits_double(const std::vector<double>& z, std::size_t label)
    {
        double top = *std::max_element(z.begin(), z.end()), sum = 0;
        for (double v : z)
            sum += std::exp(v - top);
        return std::log(sum) - (z[label] - top);
    }

    const std::vector<std::vector<double>> extreme_rows = {
        {1e30, -1e30, 0.0},
        {-1e30, -1e30, -1e30},
        {88.8, 89.5, 100.0},
        {-100.0, -88.8, -87.0},
        {1e30, 1e30, 3.0},
    };

    Tensor<float> as_float(const std::vector<std::vector<double>>& rows)
    {
        Tensor<float> t({rows.size(), rows[0].size()}, 0.f);
        for (std::size_t r = 0; r < rows.size(); ++r)
            for (std::size_t c = 0; c < rows[r].size(); ++c)
                t(r, c) = float(rows[r][c]);
        return t;
    }

    double loss_value(const Loss& loss, const Tensor<float>& y_true, const Tensor<float>& y_pred)
    {
        BasicTape<float> tape;
        return double(loss(tape, y_true, BasicVariable<float>(y_pred)).value()());
    }
}

BOOST_AUTO_TEST_CASE(softmax_of_huge_logits_is_finite_and_exact)
{
    Tensor<float> z = as_float(extreme_rows);
    Tensor<float> p = Activation::softmax().forward(z);
    for (std::size_t r = 0; r < extreme_rows.size(); ++r)
    {
        // The float logits, widened: the reference sees exactly what the layer saw.
        std::vector<double> row;
        for (std::size_t c = 0; c < 3; ++c)
            row.push_back(double(z(r, c)));
        auto expected = softmax_double(row);
        for (std::size_t c = 0; c < 3; ++c)
        {
            BOOST_TEST_CONTEXT("row " << r << " column " << c)
            {
                BOOST_TEST(std::isfinite(p(r, c)));
                BOOST_TEST(double(p(r, c)) == expected[c], tt::tolerance(1e-6));
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(crossentropies_of_huge_logits_are_finite_and_exact)
{
    Tensor<float> z = as_float(extreme_rows);
    const std::size_t rows = extreme_rows.size();
    for (std::size_t label = 0; label < 3; ++label)
    {
        Tensor<float> one_hot({rows, 3}, 0.f), sparse({rows}, float(label));
        double expected = 0;
        for (std::size_t r = 0; r < rows; ++r)
        {
            one_hot(r, label) = 1.f;
            std::vector<double> row;
            for (std::size_t c = 0; c < 3; ++c)
                row.push_back(double(z(r, c)));
            expected += crossentropy_from_logits_double(row, label) / double(rows);
        }
        BOOST_TEST_CONTEXT("label " << label)
        {
            Loss categorical(Loss::Kind::CategoricalCrossentropy, {{"from_logits", true}});
            Loss sparse_categorical(Loss::Kind::SparseCategoricalCrossentropy, {{"from_logits", true}});
            double got = loss_value(categorical, one_hot, z), got_sparse = loss_value(sparse_categorical, sparse, z);
            BOOST_TEST(std::isfinite(got));
            BOOST_TEST(got == expected, tt::tolerance(1e-6));
            BOOST_TEST(got_sparse == expected, tt::tolerance(1e-6));

            // On probabilities (softmax first, as a model ending in softmax does): Keras clips to
            // [1e-7, 1 - 1e-7] after normalising, so a zero probability costs -log(1e-7), never Inf.
            Tensor<float> p = Activation::softmax().forward(z);
            double expected_clipped = 0;
            for (std::size_t r = 0; r < rows; ++r)
            {
                double sum = 0;
                for (std::size_t c = 0; c < 3; ++c)
                    sum += double(p(r, c));
                double q = std::clamp(double(p(r, label)) / sum, 1e-7, 1 - 1e-7);
                expected_clipped += -std::log(q) / double(rows);
            }
            double clipped = loss_value(Loss::function("categorical_crossentropy"), one_hot, p);
            BOOST_TEST(std::isfinite(clipped));
            BOOST_TEST(clipped == expected_clipped, tt::tolerance(1e-5));
        }
    }
}

BOOST_AUTO_TEST_CASE(binary_crossentropy_of_huge_logits_is_finite_and_exact)
{
    const std::vector<double> logits = {1e30, -1e30, 88.8, -88.8, 100.0, -100.0, 0.0};
    Tensor<float> x = Tensor<float>::from_shape({1, logits.size()});
    for (std::size_t i = 0; i < logits.size(); ++i)
        x(0, i) = float(logits[i]);
    for (float label : {0.f, 1.f})
    {
        Tensor<float> t({1, logits.size()}, label);
        // Keras: max(x, 0) - x t + log(1 + exp(-|x|)), averaged over the last axis.
        double expected = 0;
        for (std::size_t i = 0; i < logits.size(); ++i)
        {
            double v = double(x(0, i));
            expected += (std::max(v, 0.0) - v * label + std::log1p(std::exp(-std::abs(v)))) / double(logits.size());
        }
        double got = loss_value(Loss(Loss::Kind::BinaryCrossentropy, {{"from_logits", true}}), t, x);
        BOOST_TEST(std::isfinite(got));
        BOOST_TEST(got == expected, tt::tolerance(1e-6));

        // On probabilities of exactly 0 and 1: clip to [1e-7, 1 - 1e-7], then log(p + 1e-7), as Keras does.
        // Keras's bounds are float32 constants (1 - 1e-7 rounds to 1 - 2^-23), so the reference uses them.
        const double eps = double(1e-7f), high = double(1.f - 1e-7f);
        Tensor<float> p = {{0.f, 1.f}};
        Tensor<float> t2({1, 2}, label);
        double expected_p = 0;
        for (double q : {0.0, 1.0})
        {
            double c = std::clamp(q, eps, high);
            expected_p += -(label * std::log(c + eps) + (1 - label) * std::log(1 - c + eps)) / 2.0;
        }
        double got_p = loss_value(Loss::function("binary_crossentropy"), t2, p);
        BOOST_TEST(std::isfinite(got_p));
        BOOST_TEST(got_p == expected_p, tt::tolerance(1e-5));
    }
}
