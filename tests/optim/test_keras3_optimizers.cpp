// Optimizers under Keras 3's rules (keras/src/optimizers, v3.15.1): each update against Keras 3's
// update_step written out here in double (three steps on a three-element weight with fixed gradients),
// where it differs from the legacy kernels (RMSprop's and Adagrad's epsilon inside the square root); and
// BaseOptimizer.apply's options: loss_scale_factor, gradient accumulation, clipping, decoupled weight decay,
// EMA with overwrite and finalize_variable_values; configs, errors and the state in Keras 3's order.
#include "optim/adadelta.hpp"
#include "optim/adagrad.hpp"
#include "optim/adam.hpp"
#include "optim/rmsprop.hpp"
#include "optim/sgd.hpp"
#include "support/checks.hpp"

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <functional>

using namespace xk;
using test::message_contains;

namespace
{
    using Vec = std::vector<double>;

    const Vec w0{1.0, -2.0, 0.5};
    const std::vector<Vec> grads{{0.5, -1.0, 2.0}, {-0.25, 0.75, 1.5}, {1.0, 0.5, -0.5}};

    /// Keras 3's configs always carry the new keys; this one selects its rules.
    json keras3(json config)
    {
        config["use_ema"] = false;
        return config;
    }

    Tensor<float> tensor(const Vec& v)
    {
        Tensor<float> t = Tensor<float>::from_shape({v.size()});
        for (std::size_t i = 0; i < v.size(); ++i)
            t(i) = static_cast<float>(v[i]);
        return t;
    }

    Weight<float> make_weight(const Vec& v, const std::string& name = "kernel")
    {
        return Weight<float>{name, Variable(tensor(v), true, name), std::nullopt, std::nullopt, true};
    }

    void set_grad(Weight<float>& w, const Vec& g)
    {
        w.variable.zero_grad();
        w.variable.accumulate_grad(tensor(g));
    }

    void expect_close(const Tensor<float>& got, const Vec& want, double tol, const std::string& what)
    {
        Tensor<double> w = Tensor<double>::from_shape({want.size()});
        for (std::size_t i = 0; i < want.size(); ++i)
            w(i) = want[i];
        std::string why;
        BOOST_TEST(test::close_to_scale(got, w, tol, &why), what << ": " << why);
    }

    using Reference = std::function<void(Vec& w, const Vec& g, int t)>;

    void run_three_steps(Optimizer& opt, Reference reference, const std::string& what, double tol = 2e-6)
    {
        BOOST_TEST_REQUIRE((opt.rules() == UpdateRules::keras3), what);
        Weight<float> w = make_weight(w0);
        Vec expected = w0;
        for (int t = 1; t <= 3; ++t)
        {
            set_grad(w, grads[t - 1]);
            opt.apply_gradients({&w});
            reference(expected, grads[t - 1], t);
            expect_close(w.variable.value(), expected, tol, what + " step " + std::to_string(t));
        }
        BOOST_TEST(opt.iterations() == 3);
    }
}

BOOST_AUTO_TEST_SUITE(keras3_updates)

BOOST_AUTO_TEST_CASE(rmsprop_epsilon_inside_the_root)
{
    // A large epsilon makes its place visible; legacy RMSprop without momentum adds it after the root.
    const double lr = 0.05, rho = 0.9, eps = 0.1;
    for (bool centered : {false, true})
        for (double momentum : {0.0, 0.5})
        {
            RMSprop opt(keras3({{"learning_rate", lr}, {"rho", rho}, {"epsilon", eps}, {"momentum", momentum},
                                {"centered", centered}}));
            Vec v(3, 0.0), a(3, 0.0), mom(3, 0.0);
            run_three_steps(
                opt,
                [&](Vec& w, const Vec& g, int) {
                    for (std::size_t i = 0; i < 3; ++i)
                    {
                        v[i] = rho * v[i] + (1 - rho) * g[i] * g[i];
                        double denominator = v[i] + eps;
                        if (centered)
                        {
                            a[i] = rho * a[i] + (1 - rho) * g[i];
                            denominator = v[i] - a[i] * a[i] + eps;
                        }
                        const double increment = lr * g[i] / std::sqrt(denominator);
                        if (momentum > 0)
                        {
                            mom[i] = momentum * mom[i] + increment;
                            w[i] -= mom[i];
                        }
                        else
                            w[i] -= increment;
                    }
                },
                "RMSprop centered=" + std::to_string(centered) + " momentum=" + std::to_string(momentum));
        }
}

BOOST_AUTO_TEST_CASE(adagrad_adadelta_adam_adamax_sgd)
{
    const double eps = 0.1;
    {
        Adagrad opt(keras3({{"learning_rate", 0.1}, {"epsilon", eps}, {"initial_accumulator_value", 0.2}}));
        Vec acc(3, 0.2);
        run_three_steps(
            opt,
            [&](Vec& w, const Vec& g, int) {
                for (std::size_t i = 0; i < 3; ++i)
                {
                    acc[i] += g[i] * g[i];
                    w[i] -= 0.1 * g[i] / std::sqrt(acc[i] + eps);
                }
            },
            "Adagrad");
    }
    {
        const double rho = 0.8;
        Adadelta opt(keras3({{"learning_rate", 1.0}, {"rho", rho}, {"epsilon", eps}}));
        Vec eg(3, 0.0), edx(3, 0.0);
        run_three_steps(
            opt,
            [&](Vec& w, const Vec& g, int) {
                for (std::size_t i = 0; i < 3; ++i)
                {
                    eg[i] = rho * eg[i] + (1 - rho) * g[i] * g[i];
                    const double delta = -std::sqrt(edx[i] + eps) * g[i] / std::sqrt(eg[i] + eps);
                    edx[i] = rho * edx[i] + (1 - rho) * delta * delta;
                    w[i] += delta;
                }
            },
            "Adadelta");
    }
    for (bool amsgrad : {false, true})
    {
        const double lr = 0.1, b1 = 0.8, b2 = 0.9;
        Adam opt(keras3({{"learning_rate", lr}, {"beta_1", b1}, {"beta_2", b2}, {"epsilon", eps},
                         {"amsgrad", amsgrad}}));
        Vec m(3, 0.0), v(3, 0.0), vhat(3, 0.0);
        run_three_steps(
            opt,
            [&](Vec& w, const Vec& g, int t) {
                const double alpha = lr * std::sqrt(1 - std::pow(b2, t)) / (1 - std::pow(b1, t));
                for (std::size_t i = 0; i < 3; ++i)
                {
                    m[i] += (g[i] - m[i]) * (1 - b1);
                    v[i] += (g[i] * g[i] - v[i]) * (1 - b2);
                    vhat[i] = std::max(vhat[i], v[i]);
                    w[i] -= m[i] * alpha / (std::sqrt(amsgrad ? vhat[i] : v[i]) + eps);
                }
            },
            amsgrad ? "Adam amsgrad" : "Adam");
    }
    {
        const double lr = 0.1, b1 = 0.8, b2 = 0.9;
        Adamax opt(keras3({{"learning_rate", lr}, {"beta_1", b1}, {"beta_2", b2}, {"epsilon", eps}}));
        Vec m(3, 0.0), u(3, 0.0);
        run_three_steps(
            opt,
            [&](Vec& w, const Vec& g, int t) {
                for (std::size_t i = 0; i < 3; ++i)
                {
                    m[i] += (g[i] - m[i]) * (1 - b1);
                    u[i] = std::max(b2 * u[i], std::abs(g[i]));
                    w[i] -= lr * m[i] / ((1 - std::pow(b1, t)) * (u[i] + eps));
                }
            },
            "Adamax");
    }
    {
        SGD opt(keras3({{"learning_rate", 0.1}, {"momentum", 0.9}, {"nesterov", true}}));
        Vec m(3, 0.0);
        run_three_steps(
            opt,
            [&](Vec& w, const Vec& g, int) {
                for (std::size_t i = 0; i < 3; ++i)
                {
                    m[i] = 0.9 * m[i] - 0.1 * g[i];
                    w[i] += 0.9 * m[i] - 0.1 * g[i];
                }
            },
            "SGD nesterov");
    }
}

BOOST_AUTO_TEST_CASE(weight_decay_before_the_update_and_adamw)
{
    const double lr = 0.1, wd = 0.5;
    SGD opt(keras3({{"learning_rate", lr}, {"weight_decay", wd}}));
    run_three_steps(
        opt,
        [&](Vec& w, const Vec& g, int) {
            for (std::size_t i = 0; i < 3; ++i)
            {
                w[i] -= w[i] * wd * lr; // decoupled, on the value before the step
                w[i] -= lr * g[i];
            }
        },
        "SGD weight_decay");

    // AdamW is Adam with weight_decay 0.004 by default, Keras 3's rules whatever its config says.
    AdamW adamw(json{{"learning_rate", lr}});
    BOOST_TEST(adamw.weight_decay().value() == 0.004);
    BOOST_TEST(adamw.name() == "adam_w");
    Vec m(3, 0.0), v(3, 0.0);
    run_three_steps(
        adamw,
        [&](Vec& w, const Vec& g, int t) {
            const double alpha = lr * std::sqrt(1 - std::pow(0.999, t)) / (1 - std::pow(0.9, t));
            for (std::size_t i = 0; i < 3; ++i)
            {
                w[i] -= w[i] * 0.004 * lr;
                m[i] += (g[i] - m[i]) * 0.1;
                v[i] += (g[i] * g[i] - v[i]) * 0.001;
                w[i] -= m[i] * alpha / (std::sqrt(v[i]) + 1e-7);
            }
        },
        "AdamW");
    BOOST_CHECK_EXCEPTION(AdamW(json{{"weight_decay", nullptr}}), value_error,
                          message_contains("Argument `weight_decay` must be a float. Received: weight_decay=None"));
}

BOOST_AUTO_TEST_CASE(gradient_accumulation_updates_with_the_mean)
{
    // Steps 1 and 2 only accumulate; step 2 (the n-th) applies the mean of both; step 3 accumulates again.
    const double lr = 0.1;
    SGD opt(keras3({{"learning_rate", lr}, {"gradient_accumulation_steps", 2}}));
    Weight<float> w = make_weight(w0);
    Vec expected = w0;
    for (int t = 1; t <= 3; ++t)
    {
        set_grad(w, grads[t - 1]);
        opt.apply_gradients({&w});
        if (t == 2)
            for (std::size_t i = 0; i < 3; ++i)
                expected[i] -= lr * (grads[0][i] + grads[1][i]) / 2;
        expect_close(w.variable.value(), expected, 2e-6, "accumulation step " + std::to_string(t));
    }
    BOOST_TEST(opt.raw_iterations() == 3);
    BOOST_TEST(opt.iterations() == 1); // Keras's public count: raw // steps
    // The state: iteration, learning_rate, the accumulator (holding step 3's gradient).
    const auto state = opt.get_weights();
    BOOST_TEST_REQUIRE(state.size() == 3u);
    BOOST_TEST(state[2].first == "sgd/kernel_gradient_accumulator");
    expect_close(state[2].second, grads[2], 1e-7, "accumulator after step 3");
    BOOST_CHECK_EXCEPTION(SGD(keras3({{"gradient_accumulation_steps", 1}})), value_error,
                          message_contains("`gradient_accumulation_steps` must be an integer >= 2. Received: "
                                           "gradient_accumulation_steps=1"));
}

BOOST_AUTO_TEST_CASE(loss_scale_factor_and_one_clip)
{
    const double lr = 0.1, factor = 8.0;
    SGD scaled(keras3({{"learning_rate", lr}, {"loss_scale_factor", factor}}));
    BOOST_TEST(scaled.scale_loss(1.5f) == 12.0f);
    // Gradients of a scaled loss come in scaled; the step divides them back.
    Weight<float> w = make_weight(w0);
    Vec scaled_grad = grads[0];
    for (auto& g : scaled_grad)
        g *= factor;
    set_grad(w, scaled_grad);
    scaled.apply_gradients({&w});
    Vec expected = w0;
    for (std::size_t i = 0; i < 3; ++i)
        expected[i] -= lr * grads[0][i];
    expect_close(w.variable.value(), expected, 2e-6, "loss_scale_factor");

    SGD clipped(keras3({{"learning_rate", lr}, {"clipnorm", 1.0}}));
    run_three_steps(
        clipped,
        [&](Vec& w, const Vec& g, int) {
            double norm = 0;
            for (double x : g)
                norm += x * x;
            norm = std::sqrt(norm);
            for (std::size_t i = 0; i < 3; ++i)
                w[i] -= lr * g[i] * 1.0 / std::max(norm, 1.0);
        },
        "clipnorm");
    BOOST_CHECK_EXCEPTION(SGD(keras3({{"clipnorm", 1.0}, {"clipvalue", 0.5}})), value_error,
                          message_contains({"Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set",
                                            "clipnorm=1.0, clipvalue=0.5, global_clipnorm=None"}));
}

BOOST_AUTO_TEST_CASE(ema_averages_overwrites_and_finalizes)
{
    const double lr = 0.1, mom = 0.5;
    SGD opt(json{{"learning_rate", lr}, {"use_ema", true}, {"ema_momentum", mom}, {"ema_overwrite_frequency", 3}});
    Weight<float> w = make_weight(w0);
    Vec expected = w0, average(3, 0.0);
    for (int t = 1; t <= 3; ++t)
    {
        set_grad(w, grads[t - 1]);
        opt.apply_gradients({&w});
        for (std::size_t i = 0; i < 3; ++i)
        {
            expected[i] -= lr * grads[t - 1][i];
            const double m = t == 1 ? 0.0 : mom; // the first step copies the weights
            average[i] = m * average[i] + (1 - m) * expected[i];
        }
        if (t == 3) // (iterations + 1) % 3 == 0 at the third step: the weights take the averages
            expected = average;
        expect_close(w.variable.value(), expected, 2e-6, "EMA step " + std::to_string(t));
    }
    // One more step moves the weights off the average; finalize_variable_values puts it back.
    set_grad(w, grads[0]);
    opt.apply_gradients({&w});
    for (std::size_t i = 0; i < 3; ++i)
    {
        expected[i] -= lr * grads[0][i];
        average[i] = mom * average[i] + (1 - mom) * expected[i];
    }
    expect_close(w.variable.value(), expected, 2e-6, "EMA step 4");
    opt.finalize_variable_values({&w});
    expect_close(w.variable.value(), average, 2e-6, "finalize_variable_values");
    BOOST_CHECK_EXCEPTION(SGD(json{{"use_ema", true}, {"ema_momentum", 1.5}}), value_error,
                          message_contains("`ema_momentum` must be in the range [0, 1]. Received: ema_momentum=1.5"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(keras3_configs_and_state)

BOOST_AUTO_TEST_CASE(config_as_keras3_writes_it)
{
    // A Keras 3.x file's Adam config (keras.optimizers.Adam().get_config()).
    const json file = json::parse(R"({"name": "adam", "learning_rate": 0.0010000000474974513, "weight_decay": null,
        "clipnorm": null, "global_clipnorm": null, "clipvalue": null, "use_ema": false, "ema_momentum": 0.99,
        "ema_overwrite_frequency": null, "loss_scale_factor": null, "gradient_accumulation_steps": null,
        "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": false})");
    Adam adam(file);
    BOOST_TEST((adam.rules() == UpdateRules::keras3));
    BOOST_TEST(adam.get_config() == file, adam.get_config().dump());
    // Keys in Keras's order: the base keys, then the optimizer's own.
    std::vector<std::string> keys;
    for (auto it = file.begin(); it != file.end(); ++it)
        keys.push_back(it.key());
    BOOST_TEST(keys.size() == adam.get_config().size());
    // Default names are Keras 3's snake_case.
    BOOST_TEST(RMSprop(keras3(json::object())).name() == "rm_sprop");
    BOOST_TEST(SGD(keras3(json::object())).name() == "sgd");
    // Keras 3 takes a float learning rate only, and refuses OptimizerV2's `lr`.
    BOOST_CHECK_EXCEPTION(SGD(keras3({{"learning_rate", 1}})), value_error,
                          message_contains({"Argument `learning_rate` should be float", "learning_rate=1"}));
    BOOST_CHECK_EXCEPTION(SGD(keras3({{"lr", 0.1}})), value_error, message_contains("Argument(s) not recognized"));
    // Keras 3's Nadam has no schedule_decay and takes no `decay`.
    BOOST_CHECK_EXCEPTION(Nadam(keras3({{"schedule_decay", 0.004}})), value_error,
                          message_contains("Argument(s) not recognized"));
    BOOST_TEST(!Nadam(keras3(json::object())).get_config().contains("decay"));
}

BOOST_AUTO_TEST_CASE(nadam_without_schedule_decay)
{
    // keras/src/optimizers/nadam.py: the momentum schedule is 0.96^t (tf.keras's legacy one 0.96^(0.004 t)),
    // and u_product is updated before the weights read it.
    const double lr = 0.02, b1 = 0.9, b2 = 0.999, eps = 1e-7;
    Nadam opt(keras3({{"learning_rate", lr}}));
    Vec m(3, 0.0), v(3, 0.0);
    double u_product = 1.0;
    run_three_steps(
        opt,
        [&](Vec& w, const Vec& g, int t) {
            const double u_t = b1 * (1 - 0.5 * std::pow(0.96, t));
            const double u_t1 = b1 * (1 - 0.5 * std::pow(0.96, t + 1));
            u_product *= u_t;
            for (std::size_t i = 0; i < 3; ++i)
            {
                m[i] += (g[i] - m[i]) * (1 - b1);
                v[i] += (g[i] * g[i] - v[i]) * (1 - b2);
                const double m_hat = u_t1 * m[i] / (1 - u_product * u_t1) + (1 - u_t) * g[i] / (1 - u_product);
                const double v_hat = v[i] / (1 - std::pow(b2, t));
                w[i] -= m_hat * lr / (std::sqrt(v_hat) + eps);
            }
        },
        "Nadam");
    // State: iteration, learning_rate, u_product, then momentum and velocity per weight (Keras 3.6's order).
    const auto state = opt.get_weights();
    BOOST_TEST_REQUIRE(state.size() == 5u);
    BOOST_TEST(state[2].first == "nadam/u_product:0");
    BOOST_TEST(state[2].second() == static_cast<float>(u_product), boost::test_tools::tolerance(1e-6f));
    BOOST_TEST(state[3].first == "nadam/kernel_momentum");
    // Keras 3.10+ tracks u_product last: set_weights puts it back in its place.
    std::vector<OptimizerWeight> newer{state[0], state[1], state[3], state[4], state[2]};
    newer[4].second() = 0.5f;
    opt.set_weights(newer);
    BOOST_TEST(opt.get_weights()[2].second() == 0.5f);
    BOOST_TEST(opt.get_weights()[3].second(0) == state[3].second(0));
}

BOOST_AUTO_TEST_CASE(as_keras3_carries_the_state_over)
{
    // A tf.keras Adam after two steps, saved under Keras 3's rules: the same iteration count and moments
    // under Keras 3's names, and the same next step (Adam's update is the same under both rules).
    Adam legacy(json{{"learning_rate", 0.05}});
    Weight<float> a = make_weight(w0), b = make_weight(w0);
    for (int t = 0; t < 2; ++t)
    {
        set_grad(a, grads[t]);
        legacy.apply_gradients({&a}, {"dense/kernel"});
    }
    std::unique_ptr<Optimizer> twin = legacy.as_keras3();
    BOOST_TEST((twin->rules() == UpdateRules::keras3));
    BOOST_TEST(!twin->get_config().contains("decay"));
    BOOST_TEST(twin->raw_iterations() == 2);
    const auto state = twin->get_weights();
    BOOST_TEST_REQUIRE(state.size() == 4u);
    BOOST_TEST(state[2].first == "Adam/dense_kernel_momentum");
    expect_close(state[2].second, {legacy.get_slot(a.variable, "m")(0), legacy.get_slot(a.variable, "m")(1),
                                   legacy.get_slot(a.variable, "m")(2)},
                 0.0, "momentum");
    expect_close(state[3].second, {legacy.get_slot(a.variable, "v")(0), legacy.get_slot(a.variable, "v")(1),
                                   legacy.get_slot(a.variable, "v")(2)},
                 0.0, "velocity");
    // The twin tracks the same variable: its next step continues the legacy one.
    b.variable.value() = a.variable.value();
    Adam continued(json{{"learning_rate", 0.05}});
    continued.build({&b}, {"dense/kernel"});
    continued.set_weights(legacy.get_weights());
    set_grad(b, grads[2]);
    continued.apply_gradients({&b});
    set_grad(a, grads[2]);
    twin->apply_gradients({&a});
    const Tensor<float>& want = b.variable.value();
    expect_close(a.variable.value(), {want(0), want(1), want(2)}, 1e-6, "the step after conversion");

    // Nadam's momentum product carries over as u_product.
    Nadam nadam(json{{"learning_rate", 0.01}});
    Weight<float> c = make_weight(w0);
    set_grad(c, grads[0]);
    nadam.apply_gradients({&c});
    const float cache = nadam.get_weights()[1].second();
    BOOST_TEST(cache != 1.0f);
    BOOST_TEST(nadam.as_keras3()->get_weights()[2].second() == cache);
}

BOOST_AUTO_TEST_CASE(state_in_keras3_order_and_names)
{
    // Adam interleaves its slots per weight; iteration and learning_rate lead (keras3_optimizers.md §5).
    Adam adam(keras3({{"learning_rate", 0.01}}));
    Weight<float> kernel = make_weight({1.0, 2.0}, "kernel");
    Weight<float> bias = make_weight({0.5}, "bias");
    adam.build({&kernel, &bias}, {"dense/kernel", "dense/bias"});
    std::vector<std::string> names;
    for (const auto& [name, value] : adam.get_weights())
        names.push_back(name);
    const std::vector<std::string> want{"adam/iteration",           "adam/learning_rate",
                                        "adam/dense_kernel_momentum", "adam/dense_kernel_velocity",
                                        "adam/dense_bias_momentum",   "adam/dense_bias_velocity"};
    BOOST_TEST(names == want, boost::test_tools::per_element());

    // set_weights restores the count, the learning rate (a variable in Keras 3) and the slots.
    auto state = adam.get_weights();
    state[0].second() = 7.0f;
    state[1].second() = 0.25f;
    state[2].second(0) = 3.0f;
    adam.set_weights(state);
    BOOST_TEST(adam.raw_iterations() == 7);
    BOOST_TEST(adam.learning_rate() == 0.25f);
    BOOST_TEST(adam.get_weights()[2].second(0) == 3.0f);
    state.pop_back();
    BOOST_CHECK_EXCEPTION(adam.set_weights(state), value_error,
                          message_contains({"expecting 6 weights", "the learning rate"}));

    // Adadelta interleaves too; RMSprop keeps one kind per block.
    Adadelta adadelta(keras3(json::object()));
    adadelta.build({&kernel, &bias}, {"k", "b"});
    BOOST_TEST(adadelta.get_weights()[2].first == "adadelta/k_accumulated_grad");
    BOOST_TEST(adadelta.get_weights()[3].first == "adadelta/k_accumulated_delta_var");
    RMSprop rms(keras3({{"momentum", 0.5}}));
    rms.build({&kernel, &bias}, {"k", "b"});
    BOOST_TEST(rms.get_weights()[3].first == "rm_sprop/b_velocity");
    BOOST_TEST(rms.get_weights()[4].first == "rm_sprop/k_momentum");
}

BOOST_AUTO_TEST_SUITE_END()
