// BatchNormalization: training and inference values, the moving-statistics update (tf.keras 2.x's fused
// kernel Bessel-corrects the variance it averages, the non-fused path does not), gradients in both modes,
// multi-axis parameters, configs and errors.
#include "support/checks.hpp"
#include "support/gradcheck.hpp"
#include "support/layer_harness.hpp"

#include "layers/batch_normalization.hpp"

#include <boost/test/unit_test.hpp>

#include <cmath>

using namespace xk;
using xk::test::message_contains;
namespace tt = boost::test_tools;

namespace
{
    Tensor<double> values(const Shape& shape, std::vector<double> v)
    {
        Tensor<double> t = Tensor<double>::from_shape(shape);
        BOOST_REQUIRE(v.size() == t.size());
        std::copy(v.begin(), v.end(), t.data());
        return t;
    }

    template <class T>
    Tensor<T> train_call(BasicLayer<T>& layer, const Tensor<T>& x)
    {
        BasicTape<T> tape;
        return layer.call(tape, BasicVariable<T>(x), true).value();
    }

    template <class T>
    Weight<T>& weight(BasicLayer<T>& layer, const std::string& name)
    {
        for (auto* w : layer.weights())
            if (w->name == name)
                return *w;
        throw std::runtime_error("no weight " + name);
    }

    /// Training-mode batch normalization from its definition: features are the multi-indices over `axes`
    /// (in axis order), statistics reduce over every other axis. Returns y; mean and biased var per feature.
    Tensor<double> reference_bn(const Tensor<double>& x, std::vector<std::size_t> axes, const Tensor<double>& gamma,
                                const Tensor<double>& beta, double epsilon, std::vector<double>* mean_out = nullptr,
                                std::vector<double>* var_out = nullptr)
    {
        std::sort(axes.begin(), axes.end());
        const Shape shape = shape_of(x);
        std::size_t features = 1;
        for (auto a : axes)
            features *= shape[a];
        auto feature_of = [&](std::size_t flat) {
            std::vector<std::size_t> index(shape.size());
            for (std::size_t d = shape.size(); d-- > 0;)
            {
                index[d] = flat % shape[d];
                flat /= shape[d];
            }
            std::size_t f = 0;
            for (auto a : axes)
                f = f * shape[a] + index[a];
            return f;
        };
        std::vector<double> sum(features, 0.0), sq(features, 0.0), count(features, 0.0);
        for (std::size_t i = 0; i < x.size(); ++i)
        {
            sum[feature_of(i)] += x.data()[i];
            count[feature_of(i)] += 1;
        }
        for (std::size_t f = 0; f < features; ++f)
            sum[f] /= count[f];
        for (std::size_t i = 0; i < x.size(); ++i)
            sq[feature_of(i)] += (x.data()[i] - sum[feature_of(i)]) * (x.data()[i] - sum[feature_of(i)]);
        for (std::size_t f = 0; f < features; ++f)
            sq[f] /= count[f];
        Tensor<double> y = Tensor<double>::from_shape(shape);
        for (std::size_t i = 0; i < x.size(); ++i)
        {
            const std::size_t f = feature_of(i);
            y.data()[i] = gamma.data()[f] * (x.data()[i] - sum[f]) / std::sqrt(sq[f] + epsilon) + beta.data()[f];
        }
        if (mean_out)
            *mean_out = sum;
        if (var_out)
            *var_out = sq;
        return y;
    }

    const json random_stats = {
        {"gamma_initializer", {{"class_name", "RandomNormal"}, {"config", {{"mean", 1.0}, {"stddev", 0.3}, {"seed", 1}}}}},
        {"beta_initializer", {{"class_name", "RandomNormal"}, {"config", {{"mean", 0.0}, {"stddev", 0.3}, {"seed", 2}}}}},
        {"moving_mean_initializer",
         {{"class_name", "RandomUniform"}, {"config", {{"minval", -0.5}, {"maxval", 0.5}, {"seed", 3}}}}},
        {"moving_variance_initializer",
         {{"class_name", "RandomUniform"}, {"config", {{"minval", 0.5}, {"maxval", 1.5}, {"seed", 4}}}}}};

    struct BnCase
    {
        Shape input;
        json axis; // the resolved list, as tf.keras writes it after build
        bool center, scale;
        Shape param;
    };

    std::vector<BnCase> grid()
    {
        return {
            {{4, 3}, {1}, true, true, {3}},
            {{1, 5}, {1}, true, false, {5}},
            {{3, 4, 2}, {2}, false, true, {2}},
            {{2, 3, 4, 5}, {3}, true, true, {5}},
            {{2, 3, 4, 2}, {1}, false, false, {3}},
            {{2, 3, 2, 4}, {2}, true, true, {2}},
            {{2, 3, 4, 5}, {1, 3}, true, true, {1, 3, 1, 5}},
            {{2, 3, 4, 2}, {3, 1}, true, false, {1, 3, 1, 2}},
            {{3, 2, 3, 4}, {2, 3}, false, true, {1, 1, 3, 4}},
            {{2, 2, 3, 2, 3}, {4}, true, true, {3}},
            {{2, 3, 2, 2, 2}, {1}, true, true, {3}},
        };
    }

    json config_of(const BnCase& c)
    {
        json config = random_stats;
        config["axis"] = c.axis;
        config["center"] = c.center;
        config["scale"] = c.scale;
        return config;
    }
}

BOOST_AUTO_TEST_SUITE(batch_normalization)

BOOST_AUTO_TEST_CASE(inference_gradients_shapes_and_configs_over_the_grid)
{
    std::uint64_t seed = 0;
    for (const auto& c : grid())
    {
        const std::size_t count = 2 + c.center + c.scale;
        test::run_layer_test("BatchNormalization", config_of(c), c.input,
                             {PartialShape(c.input.begin(), c.input.end()), count}, ++seed);
        auto layer = make_layer("BatchNormalization", config_of(c));
        layer->build(PartialShape(c.input.begin(), c.input.end()));
        for (const auto* w : layer->weights())
            BOOST_TEST(w->variable.shape() == c.param, w->name << " " << shape_str(w->variable.shape()));
    }
    // Weight penalties enter the checked objective.
    json regularized = random_stats;
    regularized["gamma_regularizer"] = "l2";
    regularized["beta_regularizer"] = "l1";
    regularized["axis"] = {1}; // -1 would become [1] at build, as in tf.keras, which the harness flags
    test::run_layer_test("BatchNormalization", regularized, {3, 4}, {{3, 4}, 4});
}

BOOST_AUTO_TEST_CASE(training_gradients_flow_through_the_batch_statistics)
{
    std::uint64_t seed = 100;
    for (const auto& c : grid())
        BOOST_TEST_CONTEXT(config_of(c)["axis"].dump() << " on " << shape_str(c.input))
        {
            auto layer = make_layer<double>("BatchNormalization", config_of(c));
            // The moving statistics change at every training call the checker makes; the objective depends
            // only on the batch statistics, so the check must still pass.
            ++seed;
            auto report = test::check_layer_gradients(*layer, test::random_tensor(c.input, seed), seed, true);
            BOOST_TEST(report.ok, report.summary());
        }
    json regularized = random_stats;
    regularized["gamma_regularizer"] = "l1_l2";
    regularized["activity_regularizer"] = "l2";
    auto layer = make_layer<double>("BatchNormalization", regularized);
    auto report = test::check_layer_gradients(*layer, test::random_tensor({5, 3}, 1), 7, true);
    BOOST_TEST(report.ok, report.summary());
}

BOOST_AUTO_TEST_CASE(training_normalizes_with_the_batch_statistics)
{
    for (const auto& c : grid())
        BOOST_TEST_CONTEXT(config_of(c)["axis"].dump() << " on " << shape_str(c.input))
        {
            auto layer = make_layer<double>("BatchNormalization", config_of(c));
            Tensor<double> x = test::random_tensor(c.input, 21);
            layer->build(PartialShape(c.input.begin(), c.input.end()));
            const Tensor<double> ones(c.param, 1.0), zero(c.param, 0.0);
            const Tensor<double>& gamma = c.scale ? weight(*layer, "gamma").variable.value() : ones;
            const Tensor<double>& beta = c.center ? weight(*layer, "beta").variable.value() : zero;
            std::vector<std::size_t> axes;
            for (const auto& a : c.axis)
                axes.push_back(a.get<std::size_t>());
            const Tensor<double> expected = reference_bn(x, axes, gamma, beta, 1e-3);
            std::string why;
            BOOST_TEST(test::close_to_scale(train_call(*layer, x), expected, 1e-13, &why), why);
            // The float layer agrees.
            auto single = make_layer<float>("BatchNormalization", layer->get_config());
            single->build(PartialShape(c.input.begin(), c.input.end()));
            for (std::size_t i = 0; i < single->weights().size(); ++i)
                single->weights()[i]->variable.value() = tensor_cast<float>(layer->weights()[i]->variable.value());
            BOOST_TEST(test::close_to_scale(train_call(*single, tensor_cast<float>(x)), expected, 1e-5, &why), why);
        }
}

BOOST_AUTO_TEST_CASE(one_step_by_hand)
{
    // Four values 1..4 in one feature: batch mean 2.5, biased variance 1.25, unbiased 5/3.
    const double epsilon = 1e-3;
    auto layer = make_layer<double>("BatchNormalization");
    Tensor<double> x = values({4, 1}, {1, 2, 3, 4});
    // Before any training: moving mean 0, moving variance 1.
    std::string why;
    BOOST_TEST(test::close_to_scale(layer->predict(x), Tensor<double>(x / std::sqrt(1.0 + epsilon)), 1e-15, &why), why);

    Tensor<double> y = train_call(*layer, x);
    const double s = std::sqrt(1.25 + epsilon);
    BOOST_TEST(y(0, 0) == -1.5 / s, tt::tolerance(1e-12));
    BOOST_TEST(y(1, 0) == -0.5 / s, tt::tolerance(1e-12));
    BOOST_TEST(y(3, 0) == 1.5 / s, tt::tolerance(1e-12));
    // A 2-D input takes the non-fused path: the biased variance is averaged.
    BOOST_TEST(!static_cast<BatchNormalization<double>&>(*layer).fused());
    BOOST_TEST(weight(*layer, "moving_mean").variable.value()(0) == 0.025, tt::tolerance(1e-12));
    BOOST_TEST(weight(*layer, "moving_variance").variable.value()(0) == 0.99 + 0.01 * 1.25, tt::tolerance(1e-12));
    // Inference now uses the moved statistics.
    BOOST_TEST(layer->predict(x)(3, 0) == (4 - 0.025) / std::sqrt(1.0025 + epsilon), tt::tolerance(1e-12));
    // A second step moves them again from there.
    train_call(*layer, x);
    BOOST_TEST(weight(*layer, "moving_mean").variable.value()(0) == 0.025 * 0.99 + 0.025, tt::tolerance(1e-12));

    // gamma and beta scale and shift; momentum is the fraction kept.
    const json two = {{"class_name", "Constant"}, {"config", {{"value", 2.0}}}};
    auto affine = make_layer<double>("BatchNormalization", {{"momentum", 0.5}, {"epsilon", 0.25},
                                                            {"gamma_initializer", two}, {"beta_initializer", "ones"}});
    Tensor<double> y2 = train_call(*affine, values({2, 1}, {1, 3}));
    BOOST_TEST(test::close_to_scale(y2, values({2, 1}, {-2 / std::sqrt(1.25) + 1, 2 / std::sqrt(1.25) + 1}), 1e-15, &why),
               why);
    BOOST_TEST(weight(*affine, "moving_mean").variable.value()(0) == 1.0);
    BOOST_TEST(weight(*affine, "moving_variance").variable.value()(0) == 0.5 + 0.5 * 1.0);
}

BOOST_AUTO_TEST_CASE(moving_variance_follows_the_kernel_tf_keras_picks)
{
    // The values 1..4 in one feature: biased variance 1.25; the fused kernel averages 1.25 * 4/3 instead.
    const double biased = 0.99 + 0.01 * 1.25, bessel = 0.99 + 0.01 * 1.25 * 4.0 / 3.0;
    struct Case
    {
        Shape shape;
        json config;
        bool fused;
    };
    const std::vector<Case> cases = {
        {{1, 2, 2, 1}, json::object(), true},                              // NHWC, axis -1
        {{4, 1, 1, 1}, {{"axis", 3}}, true},                               // NHWC, axis 3
        {{2, 1, 2, 1}, {{"axis", 1}}, true},                               // NCHW
        {{2, 1, 2, 1}, {{"axis", -3}}, true},                              // NCHW
        {{1, 2, 1, 2, 1}, json::object(), true},                           // NDHWC
        {{2, 1, 1, 2, 1}, {{"axis", 1}}, true},                            // NCDHW
        {{1, 2, 2, 1}, {{"axis", {3}}}, true},                             // a one-element list
        {{4, 1}, json::object(), false},                                   // 2-D
        {{1, 4, 1}, json::object(), false},                                // 3-D
        {{4, 1, 1, 1}, {{"axis", 2}}, false},                              // 4-D, a middle axis
        {{4, 1, 1, 1, 1}, {{"axis", 3}}, false},                           // 5-D, a middle axis
        {{4, 1, 1, 1, 1}, {{"axis", -4}}, true},                           // 5-D, -4 is 1
        {{1, 2, 2, 1}, {{"fused", false}}, false},                         // fused=False
        {{1, 2, 2, 1}, {{"synchronized", true}}, false},                   // synchronized forces non-fused
        {{1, 2, 2, 1}, {{"dtype", "float64"}}, false},                     // the fused kernel has no float64
    };
    for (const auto& c : cases)
        BOOST_TEST_CONTEXT(c.config.dump() << " on " << shape_str(c.shape))
        {
            auto layer = make_layer<double>("BatchNormalization", c.config);
            train_call(*layer, values(c.shape, {1, 2, 3, 4}));
            BOOST_TEST(static_cast<BatchNormalization<double>&>(*layer).fused() == c.fused);
            BOOST_TEST(weight(*layer, "moving_variance").variable.value()(0) == (c.fused ? bessel : biased),
                       tt::tolerance(1e-12));
            BOOST_TEST(weight(*layer, "moving_mean").variable.value()(0) == 0.025, tt::tolerance(1e-12));
        }
    // Several axes never fuse: (2, 2, 1, 1) over axes 1 and 2 holds two features {1, 3} and {2, 4}.
    auto multi = make_layer<double>("BatchNormalization", {{"axis", {1, 2}}});
    train_call(*multi, values({2, 2, 1, 1}, {1, 2, 3, 4}));
    BOOST_TEST(!static_cast<BatchNormalization<double>&>(*multi).fused());
    std::string why;
    BOOST_TEST(test::close_to_scale(weight(*multi, "moving_variance").variable.value(),
                                    Tensor<double>({1, 2, 1, 1}, 0.99 + 0.01 * 1.0), 1e-14, &why),
               why);
    // One element per feature: TF's kernel skips the correction (m / max(m - 1, 1) = 1).
    auto single = make_layer<double>("BatchNormalization");
    train_call(*single, values({1, 1, 1, 2}, {3, -5}));
    BOOST_TEST(static_cast<BatchNormalization<double>&>(*single).fused());
    BOOST_TEST(weight(*single, "moving_variance").variable.value() == Tensor<double>({2}, 0.99));
    BOOST_TEST(test::close_to_scale(weight(*single, "moving_mean").variable.value(), values({2}, {0.03, -0.05}), 1e-14,
                                    &why),
               why);
}

BOOST_AUTO_TEST_CASE(the_fused_kernel_raises_small_epsilons)
{
    // tf.nn.fused_batch_norm clamps epsilon to 1.001e-5; tf.nn.batch_normalization (non-fused) does not.
    const json config = {{"epsilon", 1e-5}, {"moving_variance_initializer", "zeros"}};
    auto fused = make_layer<double>("BatchNormalization", config);
    auto plain = make_layer<double>("BatchNormalization", config);
    BOOST_TEST(fused->predict(Tensor<double>({1, 1, 1, 1}, 1.0))(0, 0, 0, 0) == 1 / std::sqrt(1.001e-5),
               tt::tolerance(1e-12));
    BOOST_TEST(plain->predict(Tensor<double>({1, 1}, 1.0))(0, 0) == 1 / std::sqrt(1e-5), tt::tolerance(1e-12));
    BOOST_TEST(fused->get_config()["epsilon"] == 1e-5);
    // In training too, and epsilon 0 is accepted as Keras accepts it.
    auto zero = make_layer<double>("BatchNormalization", {{"epsilon", 0}});
    Tensor<double> y = train_call(*zero, values({1, 2, 2, 1}, {1, 2, 3, 4}));
    BOOST_TEST(y(0, 1, 1, 0) == 1.5 / std::sqrt(1.25 + 1.001e-5), tt::tolerance(1e-12));
    // Larger epsilons pass through.
    auto usual = make_layer<double>("BatchNormalization", {{"moving_variance_initializer", "zeros"}});
    BOOST_TEST(usual->predict(Tensor<double>({1, 1, 1, 1}, 1.0))(0, 0, 0, 0) == 1 / std::sqrt(1e-3),
               tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(inference_and_frozen_layers_leave_the_moving_statistics_alone)
{
    json config = random_stats;
    auto layer = make_layer<double>("BatchNormalization", config);
    Tensor<double> x = test::random_tensor({6, 3}, 5);
    layer->build({-1, 3});
    const Tensor<double> mean = weight(*layer, "moving_mean").variable.value();
    const Tensor<double> var = weight(*layer, "moving_variance").variable.value();
    const Tensor<double> gamma = weight(*layer, "gamma").variable.value();
    const Tensor<double> beta = weight(*layer, "beta").variable.value();
    Tensor<double> expected = (x - mean) / xt::sqrt(var + 1e-3) * gamma + beta;
    std::string why;
    BOOST_TEST(test::close_to_scale(layer->predict(x), expected, 1e-14, &why), why);
    BOOST_TEST(weight(*layer, "moving_mean").variable.value() == mean);

    // tf.keras 2.x: trainable=False runs in inference mode even when called with training=True.
    layer->set_trainable(false);
    BOOST_TEST(test::close_to_scale(train_call(*layer, x), expected, 1e-14, &why), why);
    BOOST_TEST(weight(*layer, "moving_mean").variable.value() == mean);
    BOOST_TEST(weight(*layer, "moving_variance").variable.value() == var);
    auto report = test::check_layer_gradients(*layer, x, 3, true); // the affine map's input gradient
    BOOST_TEST(report.ok, report.summary());
    layer->set_trainable(true);
    train_call(*layer, x);
    BOOST_TEST(!(weight(*layer, "moving_mean").variable.value() == mean));
}

BOOST_AUTO_TEST_CASE(weights_have_keras_names_order_and_trainability)
{
    auto layer = make_layer("BatchNormalization", {{"name", "bn"}});
    layer->build({-1, 4, 4, 8});
    auto w = layer->weights();
    BOOST_REQUIRE(w.size() == 4u);
    const std::vector<std::string> names = {"gamma", "beta", "moving_mean", "moving_variance"};
    for (std::size_t i = 0; i < 4; ++i)
    {
        BOOST_TEST(w[i]->name == names[i]);
        BOOST_TEST(w[i]->variable.shape() == Shape({8}));
        BOOST_TEST(w[i]->trainable == (i < 2));
        BOOST_TEST(w[i]->variable.requires_grad() == (i < 2));
    }
    BOOST_TEST(layer->weight_path(*w[2]) == "bn/moving_mean:0");
    BOOST_TEST(layer->trainable_weights().size() == 2u);
    BOOST_TEST(xt::all(xt::equal(w[0]->variable.value(), 1.f)));
    BOOST_TEST(xt::all(xt::equal(w[1]->variable.value(), 0.f)));
    BOOST_TEST(xt::all(xt::equal(w[2]->variable.value(), 0.f)));
    BOOST_TEST(xt::all(xt::equal(w[3]->variable.value(), 1.f)));

    auto plain = make_layer("BatchNormalization", {{"center", false}, {"scale", false}});
    plain->build({-1, 3});
    BOOST_TEST(plain->weights().size() == 2u);
    BOOST_TEST(plain->weights()[0]->name == "moving_mean");
    BOOST_TEST(plain->trainable_weights().empty());
}

BOOST_AUTO_TEST_CASE(keras_defaults_and_config_keys)
{
    auto layer = make_layer("BatchNormalization");
    json c = layer->get_config();
    BOOST_TEST(c["axis"] == -1);
    BOOST_TEST(c["momentum"] == 0.99);
    BOOST_TEST(c["epsilon"] == 0.001);
    BOOST_TEST(c["center"] == true);
    BOOST_TEST(c["scale"] == true);
    BOOST_TEST(c["beta_initializer"]["class_name"] == "Zeros");
    BOOST_TEST(c["gamma_initializer"]["class_name"] == "Ones");
    BOOST_TEST(c["moving_mean_initializer"]["class_name"] == "Zeros");
    BOOST_TEST(c["moving_variance_initializer"]["class_name"] == "Ones");
    for (const char* key : {"name", "trainable", "dtype", "axis", "momentum", "epsilon", "center", "scale",
                            "beta_initializer", "gamma_initializer", "moving_mean_initializer",
                            "moving_variance_initializer", "beta_regularizer", "gamma_regularizer", "beta_constraint",
                            "gamma_constraint"})
        BOOST_TEST(c.contains(key), key);
    BOOST_TEST(c.size() == 16u);

    // After build tf.keras 2.x writes the resolved axes.
    layer->build({-1, 5, 5, 3});
    BOOST_TEST(layer->get_config()["axis"] == json({3}));
    auto listed = make_layer("BatchNormalization", {{"axis", {-1, 1}}});
    BOOST_TEST(listed->get_config()["axis"] == json({-1, 1}));
    listed->build({-1, 2, 3, 4});
    BOOST_TEST(listed->get_config()["axis"] == json({3, 1}));
    BOOST_TEST(listed->weights()[0]->variable.shape() == Shape({1, 2, 1, 4}));

    // A tf.keras 2.x saved config survives unchanged.
    const json saved = json::parse(R"({"name": "batch_normalization", "trainable": true, "dtype": "float32",
        "axis": [3], "momentum": 0.05, "epsilon": 1e-05, "center": true, "scale": true,
        "beta_initializer": {"class_name": "Zeros", "config": {}}, "gamma_initializer": {"class_name": "Ones", "config": {}},
        "moving_mean_initializer": {"class_name": "Zeros", "config": {}},
        "moving_variance_initializer": {"class_name": "Ones", "config": {}}, "beta_regularizer": null,
        "gamma_regularizer": null, "beta_constraint": null, "gamma_constraint": null})");
    auto loaded = make_layer("BatchNormalization", saved);
    BOOST_TEST(loaded->get_config() == saved);
    loaded->build({-1, 4, 4, 6});
    BOOST_TEST(loaded->get_config() == saved);
    // TensorFlow-only arguments at their defaults are accepted and, as in Keras, not written back.
    auto quiet = make_layer("BatchNormalization", {{"renorm", false}, {"virtual_batch_size", nullptr}, {"fused", nullptr},
                                                   {"synchronized", false}, {"renorm_momentum", 0.99}});
    BOOST_TEST(quiet->get_config().size() == 16u);
}

BOOST_AUTO_TEST_CASE(rejects_what_keras_rejects)
{
    auto throws = [](const json& config, std::initializer_list<std::string> fragments) {
        BOOST_CHECK_EXCEPTION(make_layer("BatchNormalization", config), value_error, message_contains(fragments));
    };
    throws({{"name", "bn"}, {"axis", "x"}}, {"BatchNormalization layer 'bn'", "'axis'", "\"x\""});
    throws({{"axis", {1, 1.5}}}, {"'axis'"});
    throws({{"renorm", true}}, {"renorm"});
    throws({{"virtual_batch_size", 2}}, {"virtual_batch_size", "2"});
    throws({{"adjustment", "f"}}, {"adjustment"});
    throws({{"fused", true}, {"axis", 2}}, {"fused=True", "axis"});
    throws({{"fused", true}, {"synchronized", true}}, {"synchronized"});
    throws({{"momentum", "high"}}, {"momentum"});
    throws({{"beta_initializer", "nothing"}}, {"initializer", "nothing"});
    throws({{"groups", 2}}, {"keyword argument not understood", "groups"});

    auto build_throws = [](const json& config, const PartialShape& shape, std::initializer_list<std::string> fragments) {
        auto layer = make_layer("BatchNormalization", config);
        BOOST_CHECK_EXCEPTION(layer->build(shape), value_error, message_contains(fragments));
    };
    build_throws({{"axis", 4}}, {-1, 2, 3, 4}, {"axis", "inputs.rank=4", "(4,)"});
    build_throws({{"axis", -5}}, {-1, 2, 3, 4}, {"axis", "(-1,)"});
    build_throws({{"axis", {1, -3}}}, {-1, 2, 3, 4}, {"duplicate axis", "(1, 1)"});
    build_throws({{"axis", -4}}, {-1, 2, 3, 4}, {"unsupported axis", "(0,)"});
    build_throws({{"axis", 0}}, {-1, 3}, {"undefined `axis` dimension", "(None, 3)"});
    build_throws({{"axis", 1}, {"fused", true}}, {-1, 3}, {"`fused=True` only support 4D or 5D"});

    auto layer = make_layer("BatchNormalization", {{"name", "norm"}});
    layer->predict(Tensor<float>({1, 2, 2, 5}, 1.f));
    BOOST_CHECK_EXCEPTION(layer->predict(Tensor<float>({1, 2, 2, 4}, 1.f)), shape_error,
                          message_contains({"norm", "expected axis 3 of input shape to have value 5", "(1, 2, 2, 4)"}));
    BOOST_CHECK_EXCEPTION(layer->predict(Tensor<float>({1, 5}, 1.f)), shape_error,
                          message_contains({"norm", "expected ndim=4", "found ndim=2"}));
}

BOOST_AUTO_TEST_SUITE_END()
