// Optimizers: updates against tf.keras 2.x's formulas computed here in double (three steps on a
// three-element weight with fixed gradients), clipping, constraints, decay, configs, registry, and the
// state round trip through get_weights / set_weights.
#include "framework/training/losses.hpp"
#include "framework/models/sequential.hpp"
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

    /// One reference step: updates w (and its own state) from g at step t (1-based).
    using Reference = std::function<void(Vec& w, const Vec& g, int t)>;

    /// Runs the optimizer and the reference for three steps, comparing the weight after each step.
    void run_three_steps(Optimizer& opt, Reference reference, const std::string& what, double tol = 2e-6)
    {
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

BOOST_AUTO_TEST_SUITE(optimizer_updates)

BOOST_AUTO_TEST_CASE(sgd_plain_momentum_nesterov)
{
    SGD plain(json{{"learning_rate", 0.1}});
    run_three_steps(
        plain,
        [](Vec& w, const Vec& g, int) {
            for (std::size_t i = 0; i < 3; ++i)
                w[i] -= 0.1 * g[i];
        },
        "SGD");

    for (bool nesterov : {false, true})
    {
        SGD opt(json{{"learning_rate", 0.1}, {"momentum", 0.9}, {"nesterov", nesterov}});
        Vec velocity(3, 0.0);
        run_three_steps(
            opt,
            [&](Vec& w, const Vec& g, int) {
                for (std::size_t i = 0; i < 3; ++i)
                {
                    velocity[i] = 0.9 * velocity[i] - 0.1 * g[i];
                    w[i] += nesterov ? 0.9 * velocity[i] - 0.1 * g[i] : velocity[i];
                }
            },
            nesterov ? "SGD nesterov" : "SGD momentum");
    }
}

BOOST_AUTO_TEST_CASE(rmsprop_all_variants)
{
    // A large epsilon makes its place visible: after sqrt without momentum, inside it with momentum.
    const double lr = 0.05, rho = 0.9, eps = 0.1;
    for (bool centered : {false, true})
        for (double momentum : {0.0, 0.5})
        {
            RMSprop opt(json{
                {"learning_rate", lr}, {"rho", rho}, {"epsilon", eps}, {"momentum", momentum}, {"centered", centered}});
            Vec ms(3, 0.0), mg(3, 0.0), mom(3, 0.0);
            run_three_steps(
                opt,
                [&](Vec& w, const Vec& g, int) {
                    for (std::size_t i = 0; i < 3; ++i)
                    {
                        ms[i] = rho * ms[i] + (1 - rho) * g[i] * g[i];
                        mg[i] = rho * mg[i] + (1 - rho) * g[i];
                        const double second = centered ? ms[i] - mg[i] * mg[i] : ms[i];
                        if (momentum > 0)
                        {
                            mom[i] = momentum * mom[i] + lr * g[i] / std::sqrt(second + eps);
                            w[i] -= mom[i];
                        }
                        else
                            w[i] -= lr * g[i] / (std::sqrt(second) + eps);
                    }
                },
                "RMSprop centered=" + std::to_string(centered) + " momentum=" + std::to_string(momentum));
        }
}

BOOST_AUTO_TEST_CASE(adam_and_amsgrad)
{
    for (bool amsgrad : {false, true})
    {
        // beta_2 = 0.5 lets v shrink at step 3, so vhat differs from v.
        const double lr = 0.1, b1 = 0.9, b2 = amsgrad ? 0.5 : 0.999, eps = 1e-7;
        Adam opt(json{{"learning_rate", lr}, {"beta_2", b2}, {"amsgrad", amsgrad}});
        Vec m(3, 0.0), v(3, 0.0), vhat(3, 0.0);
        run_three_steps(
            opt,
            [&](Vec& w, const Vec& g, int t) {
                for (std::size_t i = 0; i < 3; ++i)
                {
                    m[i] = b1 * m[i] + (1 - b1) * g[i];
                    v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
                    vhat[i] = std::max(vhat[i], v[i]);
                    const double lr_t = lr * std::sqrt(1 - std::pow(b2, t)) / (1 - std::pow(b1, t));
                    w[i] -= lr_t * m[i] / (std::sqrt(amsgrad ? vhat[i] : v[i]) + eps);
                }
            },
            amsgrad ? "Adam amsgrad" : "Adam");
        BOOST_TEST(opt.slot_names() ==
                       (amsgrad ? std::vector<std::string>{"m", "v", "vhat"} : std::vector<std::string>{"m", "v"}),
                   boost::test_tools::per_element());
    }
    // The docstring examples: Adam's first step is -learning_rate * sign(grad); RMSprop gives 9.683772.
    RMSprop rms(json{{"learning_rate", 0.1}});
    Weight<float> r = make_weight({10.0});
    set_grad(r, {10.0});
    rms.apply_gradients({&r});
    BOOST_TEST(r.variable.value()(0) == 9.683772f, boost::test_tools::tolerance(1e-6f));
    Adam opt(json{{"learning_rate", 0.1}});
    Weight<float> w = make_weight({10.0});
    set_grad(w, {10.0});
    opt.apply_gradients({&w});
    BOOST_TEST(w.variable.value()(0) == 9.9f, boost::test_tools::tolerance(1e-6f));
}

BOOST_AUTO_TEST_CASE(adamax_nadam)
{
    {
        const double lr = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-7;
        Adamax opt(json{{"learning_rate", lr}});
        Vec m(3, 0.0), u(3, 0.0);
        run_three_steps(
            opt,
            [&](Vec& w, const Vec& g, int t) {
                for (std::size_t i = 0; i < 3; ++i)
                {
                    m[i] = b1 * m[i] + (1 - b1) * g[i];
                    u[i] = std::max(b2 * u[i], std::abs(g[i]));
                    w[i] -= lr / (1 - std::pow(b1, t)) * m[i] / (u[i] + eps);
                }
            },
            "Adamax");
    }
    {
        // Dozat's Nadam with Keras's momentum schedule mu_t = beta_1 (1 - 0.5 * 0.96^(0.004 t)).
        const double lr = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-7, decay = 0.004;
        Nadam opt(json{{"learning_rate", lr}});
        Vec m(3, 0.0), v(3, 0.0);
        double mu_product = 1.0;
        run_three_steps(
            opt,
            [&](Vec& w, const Vec& g, int t) {
                const double mu_t = b1 * (1 - 0.5 * std::pow(0.96, decay * t));
                const double mu_next = b1 * (1 - 0.5 * std::pow(0.96, decay * (t + 1)));
                mu_product *= mu_t;
                for (std::size_t i = 0; i < 3; ++i)
                {
                    const double g_hat = g[i] / (1 - mu_product);
                    m[i] = b1 * m[i] + (1 - b1) * g[i];
                    const double m_hat = m[i] / (1 - mu_product * mu_next);
                    v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
                    const double v_hat = v[i] / (1 - std::pow(b2, t));
                    const double m_bar = (1 - mu_t) * g_hat + mu_next * m_hat;
                    w[i] -= lr * m_bar / (std::sqrt(v_hat) + eps);
                }
            },
            "Nadam");
        BOOST_TEST(opt.get_weights()[1].first == "Nadam/momentum_cache:0");
        BOOST_TEST(opt.get_weights()[1].second() == mu_product, boost::test_tools::tolerance(1e-6));
    }
}

BOOST_AUTO_TEST_CASE(adagrad_adadelta)
{
    {
        const double lr = 0.1, eps = 1e-7;
        Adagrad opt(json{{"learning_rate", lr}});
        Vec acc(3, 0.1); // initial_accumulator_value
        run_three_steps(
            opt,
            [&](Vec& w, const Vec& g, int) {
                for (std::size_t i = 0; i < 3; ++i)
                {
                    acc[i] += g[i] * g[i];
                    w[i] -= lr * g[i] / (std::sqrt(acc[i]) + eps);
                }
            },
            "Adagrad");
    }
    {
        const double lr = 1.0, rho = 0.95, eps = 1e-7;
        Adadelta opt(json{{"learning_rate", lr}});
        Vec eg(3, 0.0), edx(3, 0.0);
        run_three_steps(
            opt,
            [&](Vec& w, const Vec& g, int) {
                for (std::size_t i = 0; i < 3; ++i)
                {
                    eg[i] = rho * eg[i] + (1 - rho) * g[i] * g[i];
                    const double dx = std::sqrt(edx[i] + eps) / std::sqrt(eg[i] + eps) * g[i];
                    w[i] -= lr * dx;
                    edx[i] = rho * edx[i] + (1 - rho) * dx * dx;
                }
            },
            "Adadelta", 1e-5);
    }
}

BOOST_AUTO_TEST_CASE(legacy_decay_and_schedule)
{
    // lr / (1 + decay * iterations), iterations counted before the step.
    SGD decayed(json{{"learning_rate", 0.1}, {"decay", 0.5}});
    BOOST_TEST(decayed.learning_rate() == 0.1f);
    run_three_steps(
        decayed,
        [](Vec& w, const Vec& g, int t) {
            for (std::size_t i = 0; i < 3; ++i)
                w[i] -= 0.1 / (1 + 0.5 * (t - 1)) * g[i];
        },
        "SGD decay");
    BOOST_TEST(decayed.learning_rate() == float(0.1 / 2.5), boost::test_tools::tolerance(1e-6f));

    // A schedule evaluated at iterations, then the legacy decay on top of it.
    SGD scheduled(json{{"learning_rate",
                        {{"class_name", "ExponentialDecay"},
                         {"config", {{"initial_learning_rate", 0.1}, {"decay_steps", 1}, {"decay_rate", 0.5}}}}},
                       {"decay", 1.0}});
    run_three_steps(
        scheduled,
        [](Vec& w, const Vec& g, int t) {
            const double lr = 0.1 * std::pow(0.5, t - 1) / (1 + (t - 1));
            for (std::size_t i = 0; i < 3; ++i)
                w[i] -= lr * g[i];
        },
        "SGD schedule");

    // Nadam's decay is its momentum-schedule decay: the learning rate is not decayed.
    Nadam nadam(json{{"learning_rate", 0.01}});
    nadam.set_iterations(100);
    BOOST_TEST(nadam.learning_rate() == 0.01f);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(optimizer_gradients)

BOOST_AUTO_TEST_CASE(clipping)
{
    {
        SGD opt(json{{"learning_rate", 1.0}, {"clipvalue", 0.5}});
        Weight<float> w = make_weight({0.0, 0.0, 0.0});
        set_grad(w, {2.0, -0.25, -3.0});
        opt.apply_gradients({&w});
        expect_close(w.variable.value(), {-0.5, 0.25, 0.5}, 1e-7, "clipvalue");
    }
    {
        // Per tensor: the first gradient has norm 5 and is scaled to norm 1, the second is left alone.
        SGD opt(json{{"learning_rate", 1.0}, {"clipnorm", 1.0}});
        Weight<float> a = make_weight({0.0, 0.0, 0.0}, "a"), b = make_weight({0.0, 0.0}, "b");
        set_grad(a, {3.0, 4.0, 0.0});
        set_grad(b, {0.3, 0.4});
        opt.apply_gradients({&a, &b});
        expect_close(a.variable.value(), {-0.6, -0.8, 0.0}, 1e-7, "clipnorm a");
        expect_close(b.variable.value(), {-0.3, -0.4}, 1e-7, "clipnorm b");
    }
    {
        // Over all tensors: global norm 5, everything scaled by 1/5.
        SGD opt(json{{"learning_rate", 1.0}, {"global_clipnorm", 1.0}});
        Weight<float> a = make_weight({0.0, 0.0}, "a"), b = make_weight({0.0}, "b");
        set_grad(a, {3.0, 0.0});
        set_grad(b, {4.0});
        opt.apply_gradients({&a, &b});
        expect_close(a.variable.value(), {-0.6, 0.0}, 1e-7, "global_clipnorm a");
        expect_close(b.variable.value(), {-0.8}, 1e-7, "global_clipnorm b");
    }
    {
        // clipvalue first, then clipnorm: (3, 4) -> (2, 2) -> (2, 2) / sqrt(8).
        SGD opt(json{{"learning_rate", 1.0}, {"clipvalue", 2.0}, {"clipnorm", 1.0}});
        Weight<float> w = make_weight({0.0, 0.0});
        set_grad(w, {3.0, 4.0});
        opt.apply_gradients({&w});
        expect_close(w.variable.value(), {-1 / std::sqrt(2.0), -1 / std::sqrt(2.0)}, 1e-7, "clipvalue then clipnorm");
    }
    BOOST_CHECK_EXCEPTION(SGD(json{{"clipnorm", 1.0}, {"global_clipnorm", 1.0}}), value_error,
                          message_contains("Cannot accept both `clipnorm` and `global_clipnorm`"));
    BOOST_CHECK_EXCEPTION(SGD(json{{"clipvalue", -1.0}}), value_error, message_contains("Expected clipvalue >= 0"));
}

BOOST_AUTO_TEST_CASE(constraints_after_the_update)
{
    SGD opt(json{{"learning_rate", 1.0}});
    Weight<float> w = make_weight({1.0, 0.5, -1.0});
    w.constraint = Constraint::non_neg();
    set_grad(w, {2.0, -1.0, 0.5});
    opt.apply_gradients({&w});
    // 1 - 2 = -1 -> 0; 0.5 + 1 = 1.5; -1 - 0.5 = -1.5 -> 0
    expect_close(w.variable.value(), {0.0, 1.5, 0.0}, 0, "non_neg");

    // MaxNorm(2) over axis 0 of a vector: rescaled to norm 2 (Keras: w * clip(norm, 0, 2) / (eps + norm)).
    Weight<float> v = make_weight({0.0, 0.0});
    v.constraint = Constraint::max_norm(2.0);
    set_grad(v, {-3.0, -4.0});
    opt.apply_gradients({&v});
    expect_close(v.variable.value(), {3.0 * 2 / (5 + 1e-7), 4.0 * 2 / (5 + 1e-7)}, 1e-6, "max_norm");
}

BOOST_AUTO_TEST_CASE(weights_without_gradients)
{
    Adam opt;
    Weight<float> a = make_weight({1.0, 2.0, 3.0}, "a"), b = make_weight({4.0}, "b");
    opt.apply_gradients({});
    BOOST_TEST(opt.iterations() == 0); // an empty list is a no-op, as in Keras

    BOOST_CHECK_EXCEPTION(opt.apply_gradients({&a, &b}), value_error,
                          message_contains({"No gradients provided for any variable", "'a'", "'b'"}));

    set_grad(a, {1.0, 1.0, 1.0});
    opt.apply_gradients({&a, &b});
    BOOST_TEST(opt.iterations() == 1);
    BOOST_TEST(b.variable.value()(0) == 4.0f);
    BOOST_CHECK_EXCEPTION(opt.get_slot(b.variable, "m"), value_error, message_contains("no state"));
    BOOST_TEST(opt.get_slot(a.variable, "m")(0) == 0.1f, boost::test_tools::tolerance(1e-6f));
    // The gradient is left for the caller to clear.
    BOOST_TEST(a.variable.has_grad());
    Optimizer::zero_grad({&a, &b});
    BOOST_TEST(!a.variable.has_grad());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(optimizer_configs)

BOOST_AUTO_TEST_CASE(default_configs_are_keras)
{
    BOOST_TEST(
        SGD().get_config() ==
        json(json{{"name", "SGD"}, {"learning_rate", 0.01}, {"decay", 0.0}, {"momentum", 0.0}, {"nesterov", false}}));
    BOOST_TEST(RMSprop().get_config() == json(json{{"name", "RMSprop"},
                                                   {"learning_rate", 0.001},
                                                   {"decay", 0.0},
                                                   {"rho", 0.9},
                                                   {"momentum", 0.0},
                                                   {"epsilon", 1e-7},
                                                   {"centered", false}}));
    BOOST_TEST(Adam().get_config() == json(json{{"name", "Adam"},
                                                {"learning_rate", 0.001},
                                                {"decay", 0.0},
                                                {"beta_1", 0.9},
                                                {"beta_2", 0.999},
                                                {"epsilon", 1e-7},
                                                {"amsgrad", false}}));
    BOOST_TEST(Adamax().get_config() == json(json{{"name", "Adamax"},
                                                  {"learning_rate", 0.001},
                                                  {"decay", 0.0},
                                                  {"beta_1", 0.9},
                                                  {"beta_2", 0.999},
                                                  {"epsilon", 1e-7}}));
    BOOST_TEST(Nadam().get_config() == json(json{{"name", "Nadam"},
                                                 {"learning_rate", 0.001},
                                                 {"decay", 0.004},
                                                 {"beta_1", 0.9},
                                                 {"beta_2", 0.999},
                                                 {"epsilon", 1e-7}}));
    BOOST_TEST(Adagrad().get_config() == json(json{{"name", "Adagrad"},
                                                   {"learning_rate", 0.001},
                                                   {"decay", 0.0},
                                                   {"initial_accumulator_value", 0.1},
                                                   {"epsilon", 1e-7}}));
    BOOST_TEST(
        Adadelta().get_config() ==
        json(json{{"name", "Adadelta"}, {"learning_rate", 0.001}, {"decay", 0.0}, {"rho", 0.95}, {"epsilon", 1e-7}}));
    // Clipping keys only when set, as OptimizerV2.get_config.
    json clipped = SGD(json{{"clipnorm", 1.5}, {"clipvalue", 0.5}}).get_config();
    BOOST_TEST(clipped["clipnorm"] == 1.5);
    BOOST_TEST(clipped["clipvalue"] == 0.5);
    BOOST_TEST(!clipped.contains("global_clipnorm"));
}

BOOST_AUTO_TEST_CASE(round_trips_and_registry)
{
    const std::vector<json> configs{
        {{"class_name", "SGD"}, {"config", {{"learning_rate", 0.1}, {"momentum", 0.9}, {"nesterov", true}}}},
        {{"class_name", "RMSprop"}, {"config", {{"centered", true}, {"momentum", 0.3}, {"global_clipnorm", 2.0}}}},
        {{"class_name", "Adam"}, {"config", {{"amsgrad", true}, {"name", "my_adam"}, {"decay", 0.01}}}},
        {{"class_name", "Adamax"}, {"config", {{"beta_1", 0.8}}}},
        {{"class_name", "Nadam"}, {"config", {{"epsilon", 1e-5}}}},
        {{"class_name", "Adagrad"}, {"config", {{"initial_accumulator_value", 0.5}}}},
        {{"class_name", "Adadelta"}, {"config", {{"rho", 0.9}, {"clipvalue", 1.0}}}},
        {{"class_name", "SGD"},
         {"config",
          {{"learning_rate",
            {{"class_name", "PiecewiseConstantDecay"},
             {"config", {{"boundaries", {10, 20}}, {"values", {0.1, 0.05, 0.01}}, {"name", nullptr}}}}}}}}};
    for (const auto& c : configs)
    {
        OptimizerPtr a = get_optimizer(c);
        OptimizerPtr b = get_optimizer(serialize(*a));
        BOOST_TEST(a->class_name() == c["class_name"].get<std::string>());
        BOOST_TEST(b->get_config() == a->get_config(), c.dump());
        for (auto it = c["config"].begin(); it != c["config"].end(); ++it)
            BOOST_TEST(a->get_config()[it.key()] == it.value(), it.key());
    }
    for (std::string name :
         {"sgd", "SGD", "rmsprop", "RMSprop", "RMSProp", "adam", "ADAM", "adamax", "nadam", "adagrad", "adadelta",
         "adamw", "AdamW"})
        BOOST_TEST(get_optimizer(name)->iterations() == 0);
    BOOST_TEST(get_optimizer("rmsprop")->class_name() == "RMSprop");
    BOOST_CHECK_EXCEPTION(get_optimizer("adamq"), value_error, message_contains({"Unknown optimizer", "'adamq'"}));
    BOOST_CHECK_EXCEPTION(get_optimizer(42), value_error, message_contains("Could not interpret optimizer"));
}

BOOST_AUTO_TEST_CASE(configs_from_files)
{
    // tf.keras 2.x with float32-rounded values, as model.save wrote them after training.
    OptimizerPtr rms = get_optimizer(json::parse(
        R"({"class_name": "RMSprop", "config": {"name": "RMSprop", "learning_rate": 0.001, "decay": 0.0,
            "rho": 0.9, "momentum": 0.0, "epsilon": 1e-07, "centered": false}})"));
    BOOST_TEST(rms->get_config()["rho"] == 0.9);
    // Keras 2.1 (Keras 1 optimizers): `lr` and no name.
    OptimizerPtr adam = get_optimizer(json::parse(
        R"({"class_name": "Adam", "config": {"lr": 0.0010000000474974513, "beta_1": 0.8999999761581421,
            "beta_2": 0.9990000128746033, "decay": 0.0, "epsilon": 1e-07, "amsgrad": false}})"));
    BOOST_TEST(adam->name() == "Adam");
    BOOST_TEST(adam->learning_rate() == 0.001f);
    // Keras >= 2.11 marks its legacy optimizers; the new ones, and Keras 3's configs, take Keras 3's rules
    // (tests/optim/test_keras3_optimizers.cpp checks their updates).
    OptimizerPtr legacy = get_optimizer(json{{"class_name", "SGD"}, {"config", {{"is_legacy_optimizer", true}}}});
    BOOST_TEST(legacy->name() == "SGD");
    BOOST_TEST((legacy->rules() == UpdateRules::legacy));
    BOOST_TEST((get_optimizer(json{{"class_name", "Adam"}, {"config", {{"is_legacy_optimizer", false}}}})->rules() ==
                UpdateRules::keras3));
    OptimizerPtr keras3 = get_optimizer(json::parse(R"({"class_name": "Adam", "config": {"name": "adam",
        "learning_rate": 0.001, "weight_decay": null, "use_ema": false}})"));
    BOOST_TEST((keras3->rules() == UpdateRules::keras3));
    // An OptimizerV2-only key in a Keras 3 config is refused as Keras 3 refuses it.
    BOOST_CHECK_EXCEPTION(get_optimizer(json::parse(R"({"class_name": "Adam", "config": {"lr": 0.001,
        "use_ema": false}})")),
                          value_error, message_contains({"Argument(s) not recognized", "\"lr\""}));
}

BOOST_AUTO_TEST_CASE(argument_errors)
{
    BOOST_CHECK_EXCEPTION(SGD(json{{"momentum", 1.5}}), value_error,
                          message_contains("`momentum` must be between [0, 1]. Received: momentum=1.5"));
    BOOST_CHECK_EXCEPTION(RMSprop(json{{"momentum", -0.1}}), value_error,
                          message_contains("`momentum` must be between"));
    BOOST_CHECK_EXCEPTION(Adam(json{{"decay", -1}}), value_error,
                          message_contains("Expected decay >= 0, received: -1"));
    BOOST_CHECK_EXCEPTION(Adam(json{{"lr", -0.1}}), value_error, message_contains("Expected lr >= 0"));
    BOOST_CHECK_EXCEPTION(Adagrad(json{{"initial_accumulator_value", -1.0}}), value_error,
                          message_contains("initial_accumulator_value must be non-negative"));
    BOOST_CHECK_EXCEPTION(Adam(json{{"beta1", 0.9}}), value_error, message_contains({"Unexpected keyword", "beta1"}));
    BOOST_CHECK_EXCEPTION(Adam(json{{"amsgrad", "yes"}}), value_error, message_contains("amsgrad"));
    BOOST_CHECK_EXCEPTION(
        Nadam(json{{"learning_rate",
                    {{"class_name", "ExponentialDecay"},
                     {"config", {{"initial_learning_rate", 0.1}, {"decay_steps", 1}, {"decay_rate", 0.5}}}}}}),
        value_error, message_contains("does not support"));
    Nadam nadam;
    BOOST_CHECK_EXCEPTION(nadam.set_learning_rate(std::make_shared<ExponentialDecay>(0.1, 1, 0.5)), value_error,
                          message_contains("does not support"));
    // Keras: `epsilon or backend.epsilon()`; `lr` wins over `learning_rate`; Nadam's decay is schedule_decay.
    BOOST_TEST(Adam(json{{"epsilon", 0.0}}).get_config()["epsilon"] == 1e-7);
    BOOST_TEST(Adam(json{{"lr", 0.5}, {"learning_rate", 0.1}}).learning_rate_value() == 0.5);
    BOOST_TEST(Nadam(json{{"decay", 0.1}}).decay() == 0.004);
    BOOST_TEST(Nadam(json{{"schedule_decay", 0.01}}).decay() == 0.01);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(optimizer_state)

BOOST_AUTO_TEST_CASE(names_and_order_are_keras)
{
    Weight<float> k = make_weight({1.0, 2.0, 3.0}), b = make_weight({0.5}, "bias");
    set_grad(k, {0.1, 0.2, 0.3});
    set_grad(b, {1.0});
    Adam adam;
    adam.apply_gradients({&k, &b}, {"dense/kernel", "dense/bias"});
    std::vector<std::string> names;
    for (const auto& [name, value] : adam.get_weights())
        names.push_back(name);
    const std::vector<std::string> want{"Adam/iter:0", "Adam/dense/kernel/m:0", "Adam/dense/bias/m:0",
                                        "Adam/dense/kernel/v:0", "Adam/dense/bias/v:0"};
    BOOST_TEST(names == want, boost::test_tools::per_element());
    BOOST_TEST(adam.get_weights()[0].second.dimension() == 0u);
    BOOST_TEST(adam.get_weights()[0].second() == 1.0f);

    SGD plain;
    plain.apply_gradients({&k}, {"dense/kernel"});
    BOOST_TEST(plain.get_weights().size() == 1u); // no momentum: no slot

    RMSprop rms(json{{"momentum", 0.5}, {"centered", true}, {"name", "opt"}});
    rms.apply_gradients({&k}, {"dense/kernel"});
    names.clear();
    for (const auto& [name, value] : rms.get_weights())
        names.push_back(name);
    const std::vector<std::string> want_rms{"opt/iter:0", "opt/dense/kernel/rms:0", "opt/dense/kernel/momentum:0",
                                            "opt/dense/kernel/mg:0"};
    BOOST_TEST(names == want_rms, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(set_weights_restores_and_continues_identically)
{
    Weight<float> a1 = make_weight(w0), a2 = make_weight(w0);
    Weight<float> c1 = make_weight({0.25}, "bias"), c2 = make_weight({0.25}, "bias");
    Adam first(json{{"learning_rate", 0.1}, {"amsgrad", true}});
    for (int t = 0; t < 2; ++t)
    {
        set_grad(a1, grads[t]);
        set_grad(c1, {double(t) - 0.5});
        first.apply_gradients({&a1, &c1});
    }
    // A second optimizer takes the saved state and the saved weights.
    a2.variable.value() = a1.variable.value();
    c2.variable.value() = c1.variable.value();
    Adam second(json{{"learning_rate", 0.1}, {"amsgrad", true}});
    BOOST_CHECK_EXCEPTION(second.set_weights(first.get_weights()), value_error,
                          message_contains({"length 7", "expecting 1", "build("}));
    second.build({&a2, &c2});
    second.set_weights(first.get_weights());
    BOOST_TEST(second.iterations() == 2);
    set_grad(a1, grads[2]);
    set_grad(a2, grads[2]);
    set_grad(c1, {0.3});
    set_grad(c2, {0.3});
    first.apply_gradients({&a1, &c1});
    second.apply_gradients({&a2, &c2});
    BOOST_TEST(a1.variable.value() == a2.variable.value());
    BOOST_TEST(c1.variable.value() == c2.variable.value());
    const auto w1 = first.get_weights(), w2 = second.get_weights();
    for (std::size_t i = 0; i < w1.size(); ++i)
        BOOST_TEST(w1[i].second == w2[i].second, w1[i].first);
}

BOOST_AUTO_TEST_CASE(set_weights_errors_and_legacy_lists)
{
    Weight<float> k = make_weight({1.0, 2.0, 3.0});
    Adam adam;
    adam.build({&k}, {"dense/kernel"});
    auto saved = adam.get_weights();
    BOOST_TEST(saved.size() == 3u);

    auto wrong_shape = saved;
    wrong_shape[2].second = Tensor<float>({4}, 0.0f);
    BOOST_CHECK_EXCEPTION(
        adam.set_weights(wrong_shape), value_error,
        message_contains(
            {"Optimizer weight shape (3,) not compatible with provided weight shape (4,)", "Adam/dense/kernel/v:0"}));
    auto fractional = saved;
    fractional[0].second() = 2.5f;
    BOOST_CHECK_EXCEPTION(adam.set_weights(fractional), value_error, message_contains("non-negative integer"));
    auto too_few = saved;
    too_few.pop_back();
    BOOST_CHECK_EXCEPTION(adam.set_weights(too_few), value_error,
                          message_contains({"weight list of length 2", "expecting 3"}));
    // Nothing was assigned by the failed calls.
    BOOST_TEST(adam.iterations() == 0);

    // Keras 1's Adam lists carry vhat slots too (3n + 1): the extra ones are dropped.
    auto keras1 = saved;
    keras1.emplace_back("training/Adam/Variable_2:0", Tensor<float>({3}, 9.0f));
    keras1[0].second() = 7.0f;
    adam.set_weights(keras1);
    BOOST_TEST(adam.iterations() == 7);

    // Keras 1's RMSprop lists have no iteration count: it becomes 0.
    RMSprop rms;
    rms.build({&k}, {"dense/kernel"});
    rms.set_iterations(5);
    rms.set_weights({{"rms", Tensor<float>({3}, 0.5f)}});
    BOOST_TEST(rms.iterations() == 0);
    BOOST_TEST(rms.get_slot(k.variable, "rms")(1) == 0.5f);

    Adagrad adagrad;
    adagrad.build({&k});
    BOOST_TEST(adagrad.get_weights()[1].first == "Adagrad/kernel/accumulator:0"); // the variable's own name
    BOOST_TEST(adagrad.get_slot(k.variable, "accumulator")(0) == 0.1f);
}

BOOST_AUTO_TEST_CASE(trains_a_model_end_to_end)
{
    reset_layer_names();
    BasicSequential<float> model;
    model.set_input({-1, 4, 4, 1});
    model.add(make_layer("Conv2D", {{"filters", 2}, {"kernel_size", 3}, {"padding", "same"}}));
    model.add(make_layer("Conv2D", {{"filters", 1}, {"kernel_size", 1}}));
    Tensor<float> x = Tensor<float>::from_shape({2, 4, 4, 1});
    for (std::size_t i = 0; i < x.size(); ++i)
        x.data()[i] = float(i % 7) / 7.0f - 0.4f;
    Tensor<float> y = Tensor<float>({2, 4, 4, 1}, 0.25f);

    SGD opt(json{{"learning_rate", 0.05}, {"momentum", 0.9}});
    double first = 0, last = 0;
    for (int step = 0; step < 20; ++step)
    {
        Optimizer::zero_grad(model.trainable_weights());
        Tape tape;
        Variable loss = losses::mean_squared_error(tape, y, model.call(tape, Variable(x)));
        tape.backward(loss);
        opt.apply_gradients(model.trainable_weights(), model.trainable_weight_paths());
        (step == 0 ? first : last) = loss.value()();
    }
    BOOST_TEST(last < first * 0.5, "loss " << first << " -> " << last);
    std::vector<std::string> names;
    for (const auto& [name, value] : opt.get_weights())
        names.push_back(name);
    const std::vector<std::string> want{"SGD/iter:0", "SGD/conv2d/kernel/momentum:0", "SGD/conv2d/bias/momentum:0",
                                        "SGD/conv2d_1/kernel/momentum:0", "SGD/conv2d_1/bias/momentum:0"};
    BOOST_TEST(names == want, boost::test_tools::per_element());
    BOOST_TEST(opt.iterations() == 20);
}

BOOST_AUTO_TEST_SUITE_END()
