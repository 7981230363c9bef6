// ReLU, LeakyReLU, PReLU, ELU, Softmax and ThresholdedReLU: the generic layer test over a grid of configurations
// for each; values and gradients against loops written here (ReLU's graph paths and their boundaries, PReLU's
// shared alpha and its gradient summed over the shared axes, Softmax along one axis and jointly over several);
// Keras's defaults, config keys, float32 arguments and layer names; every error with its message.
#include "support/checks.hpp"
#include "support/gradcheck.hpp"
#include "support/layer_harness.hpp"

#include "framework/engine/parallel.hpp"

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>
#include <tuple>

using namespace xk;
using xk::test::message_contains;

namespace
{
    /// The float32 value Keras keeps of a float argument (backend.cast_to_floatx).
    double f32(double v) { return double(float(v)); }

    /// A (1, n) tensor of `values`.
    Tensor<double> row(const std::vector<double>& values)
    {
        Tensor<double> t = Tensor<double>::from_shape({1, values.size()});
        std::copy(values.begin(), values.end(), t.data());
        return t;
    }

    /// One recorded call: the output and the input gradient of sum(y * upstream), the gradient buffer
    /// pre-filled with `prefill` so that a backward that overwrites instead of adding is caught.
    struct Pass
    {
        Tensor<double> y, dx;
    };

    Pass run(BasicLayer<double>& layer, const Tensor<double>& x, const Tensor<double>& upstream, double prefill = 0.25)
    {
        BasicTape<double> tape;
        BasicVariable<double> input(x, true);
        input.accumulate_grad(Tensor<double>(x.shape(), prefill));
        auto y = layer.call(tape, input);
        tape.backward(y, upstream);
        return {y.value(), input.grad()};
    }

    /// upstream[i] = 1 + i / 10.
    Tensor<double> ramp(const Shape& shape)
    {
        Tensor<double> t = Tensor<double>::from_shape(shape);
        for (std::size_t i = 0; i < t.size(); ++i)
            t.data()[i] = 1.0 + 0.1 * double(i);
        return t;
    }

    /// Element-wise layers: y = f(x) and dx = prefill + upstream * f'(x) for each value of `xs`.
    template <class F, class D>
    void check_elementwise(BasicLayer<double>& layer, const std::vector<double>& xs, F f, D d)
    {
        const Tensor<double> x = row(xs), upstream = ramp(shape_of(x));
        const Pass pass = run(layer, x, upstream);
        for (std::size_t i = 0; i < xs.size(); ++i)
            BOOST_TEST_CONTEXT(layer.get_config().dump() << " at x = " << xs[i])
            {
                BOOST_TEST(pass.y.data()[i] == f(xs[i]), boost::test_tools::tolerance(1e-12));
                BOOST_TEST(pass.dx.data()[i] == 0.25 + upstream.data()[i] * d(xs[i]), boost::test_tools::tolerance(1e-12));
            }
    }

    void check_close(const Tensor<double>& got, const Tensor<double>& want, double tolerance = 1e-12)
    {
        std::string why;
        BOOST_TEST(test::close_to_scale(got, want, tolerance, &why), why);
    }

    /// The base keys every one of these layers writes, with the layer's own added.
    json base_config(const std::string& name, const json& own)
    {
        json config = {{"name", name}, {"trainable", true}, {"dtype", "float32"}};
        config.update(own);
        return config;
    }

    void throws(const std::string& class_name, const json& config, std::initializer_list<std::string> fragments)
    {
        BOOST_CHECK_EXCEPTION(make_layer(class_name, config), value_error, message_contains(fragments));
    }
}

BOOST_AUTO_TEST_SUITE(relu)

BOOST_AUTO_TEST_CASE(generic_layer_test_over_the_configurations)
{
    const std::vector<json> configs = {
        json::object(),
        {{"max_value", 6}},
        {{"max_value", 0.5}},
        {{"max_value", 0}},
        {{"negative_slope", 0.2}},
        {{"threshold", 0.3}},
        {{"max_value", 0.6}, {"negative_slope", 0.1}},
        {{"negative_slope", 0.3}, {"threshold", 0.4}},
        {{"max_value", 6.0}, {"negative_slope", 0.5}},
        {{"max_value", 0.7}, {"negative_slope", 0.25}, {"threshold", 0.2}},
    };
    const std::vector<Shape> shapes = {{3, 5}, {2, 3, 4}, {2, 2, 3, 2}};
    std::uint64_t seed = 0;
    for (const auto& config : configs)
    {
        const Shape& shape = shapes[seed % shapes.size()];
        test::run_layer_test("ReLU", config, shape, {PartialShape(shape.begin(), shape.end()), 0}, ++seed);
    }
}

BOOST_AUTO_TEST_CASE(keras_docstring_examples)
{
    // keras/layers/activation/relu.py's usage examples, in float32.
    auto on = [](const json& config, const std::vector<float>& xs) {
        Tensor<float> x = Tensor<float>::from_shape({1, xs.size()});
        std::copy(xs.begin(), xs.end(), x.data());
        Tensor<float> y = make_layer<float>("ReLU", config)->predict(x);
        return std::vector<float>(y.data(), y.data() + y.size());
    };
    using V = std::vector<float>;
    BOOST_TEST(on(json::object(), {-3, -1, 0, 2}) == V({0, 0, 0, 2}), boost::test_tools::per_element());
    BOOST_TEST(on({{"max_value", 1.0}}, {-3, -1, 0, 2}) == V({0, 0, 0, 1}), boost::test_tools::per_element());
    BOOST_TEST(on({{"negative_slope", 1.0}}, {-3, -1, 0, 2}) == V({-3, -1, 0, 2}), boost::test_tools::per_element());
    BOOST_TEST(on({{"threshold", 1.5}}, {-3, -1, 1, 2}) == V({0, 0, 0, 2}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(all_three_arguments_with_their_boundaries)
{
    // ReLU(max_value=6, negative_slope=0.1, threshold=0.5): x * (x > 0.5), clipped to [0, 6], minus
    // 0.1 * relu(0.5 - x). Gradient 1 on (0.5, 6] (clip_by_value passes ties at 6 to x), 0 at the threshold
    // and above 6, the slope below the threshold.
    auto layer = make_layer<double>("ReLU", {{"max_value", 6}, {"negative_slope", 0.1}, {"threshold", 0.5}});
    const double a = f32(0.1), t = 0.5, m = 6.0;
    check_elementwise(
        *layer, {-2, -0.5, 0, 0.25, 0.5, 0.5001, 1, 5.5, 6, 6.5, 100},
        [&](double x) { return (x > t ? std::min(x, m) : 0.0) - a * std::max(t - x, 0.0); },
        [&](double x) { return x < t ? a : (x > t && x <= m ? 1.0 : 0.0); });
}

BOOST_AUTO_TEST_CASE(each_graph_path_has_tensorflows_gradient_at_its_kinks)
{
    // max_value == 6 without threshold runs tf.nn.relu6: no gradient at 0 nor at 6.
    check_elementwise(*make_layer<double>("ReLU", {{"max_value", 6}}), {-1, 0, 3, 6, 7},
                      [](double x) { return std::clamp(x, 0.0, 6.0); },
                      [](double x) { return x > 0 && x < 6 ? 1.0 : 0.0; });
    // Any other max_value runs relu then clip_by_value: the tie at max_value passes the gradient.
    check_elementwise(*make_layer<double>("ReLU", {{"max_value", 1.0}}), {-1, 0, 0.5, 1, 2},
                      [](double x) { return std::clamp(x, 0.0, 1.0); },
                      [](double x) { return x > 0 && x <= 1 ? 1.0 : 0.0; });
    // max_value 0: everything clipped; the tie x == 0 has relu's zero gradient.
    check_elementwise(*make_layer<double>("ReLU", {{"max_value", 0}}), {-1, 0, 2}, [](double) { return 0.0; },
                      [](double) { return 0.0; });
    // The slope alone is tf.nn.leaky_relu: the slope's gradient at 0.
    check_elementwise(*make_layer<double>("ReLU", {{"negative_slope", 0.5}}), {-1, 0, 1},
                      [](double x) { return x > 0 ? x : 0.5 * x; }, [](double x) { return x > 0 ? 1.0 : 0.5; });
    // The slope with max_value is relu - slope * relu(-x): no gradient at 0.
    check_elementwise(*make_layer<double>("ReLU", {{"negative_slope", 0.5}, {"max_value", 2}}), {-1, 0, 1, 2, 3},
                      [](double x) { return std::clamp(x, 0.0, 2.0) - 0.5 * std::max(-x, 0.0); },
                      [](double x) { return x < 0 ? 0.5 : (x > 0 && x <= 2 ? 1.0 : 0.0); });
    // A threshold is x * (x > threshold): no gradient at the threshold, none below without a slope.
    check_elementwise(*make_layer<double>("ReLU", {{"threshold", 0.5}}), {-1, 0.5, 0.7},
                      [](double x) { return x > 0.5 ? x : 0.0; }, [](double x) { return x > 0.5 ? 1.0 : 0.0; });
}

BOOST_AUTO_TEST_CASE(keras_defaults_and_config_keys)
{
    auto layer = make_layer("ReLU", {{"name", "r"}});
    BOOST_TEST(layer->get_config() ==
               base_config("r", {{"max_value", nullptr}, {"negative_slope", 0.0}, {"threshold", 0.0}}));
    BOOST_TEST(layer->get_config()["negative_slope"].is_number_float());

    // tf.keras 2.10 (JohnnysGithubAccount__resnet.h5) writes exactly this; it survives the round trip.
    const json saved = json::parse(R"({"name": "re_lu_10", "trainable": true, "dtype": "float32",
        "max_value": null, "negative_slope": 0.0, "threshold": 0.0})");
    BOOST_TEST(make_layer("ReLU", saved)->get_config() == saved);

    // The arguments are kept as float32 values, and written as such (6 as 6.0).
    const json c = make_layer("ReLU", {{"max_value", 6}, {"negative_slope", 0.1}, {"threshold", 0.3}})->get_config();
    BOOST_TEST(c["max_value"].is_number_float());
    BOOST_TEST(c["max_value"] == 6.0);
    BOOST_TEST(c["negative_slope"] == 0.10000000149011612);
    BOOST_TEST(c["threshold"] == f32(0.3));
    BOOST_TEST(make_layer("ReLU", c)->get_config() == c);
}

BOOST_AUTO_TEST_CASE(rejects_what_keras_rejects)
{
    throws("ReLU", {{"name", "r"}, {"max_value", -1}},
           {"ReLU layer 'r': max_value of a ReLU layer cannot be a negative value. Received: -1"});
    throws("ReLU", {{"name", "r"}, {"max_value", -0.5}}, {"ReLU layer 'r':", "Received: -0.5"});
    throws("ReLU", {{"name", "r"}, {"negative_slope", -0.1}},
           {"ReLU layer 'r': negative_slope of a ReLU layer cannot be a negative value. Received: -0.1"});
    throws("ReLU", {{"name", "r"}, {"negative_slope", nullptr}}, {"negative_slope of a ReLU layer", "Received: None"});
    throws("ReLU", {{"name", "r"}, {"threshold", -2.0}},
           {"ReLU layer 'r': threshold of a ReLU layer cannot be a negative value. Received: -2.0"});
    throws("ReLU", {{"name", "r"}, {"threshold", nullptr}}, {"threshold of a ReLU layer", "Received: None"});
    // Keras checks max_value first.
    throws("ReLU", {{"max_value", -1}, {"threshold", -1}}, {"max_value of a ReLU layer"});
    throws("ReLU", {{"name", "r"}, {"max_value", "six"}}, {"ReLU layer 'r'", "`max_value` must be a number", "'six'"});
    throws("ReLU", {{"name", "r"}, {"alpha", 0.1}}, {"ReLU layer 'r'", "keyword argument not understood: 'alpha'"});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(leaky_relu)

BOOST_AUTO_TEST_CASE(generic_layer_test_over_the_configurations)
{
    const std::vector<json> configs = {json::object(), {{"alpha", 0.1}}, {{"alpha", 0}}, {{"alpha", -0.2}}, {{"alpha", 1.5}}};
    const std::vector<Shape> shapes = {{3, 5}, {2, 3, 4}, {2, 2, 3, 2}};
    std::uint64_t seed = 0;
    for (const auto& config : configs)
    {
        const Shape& shape = shapes[seed % shapes.size()];
        test::run_layer_test("LeakyReLU", config, shape, {PartialShape(shape.begin(), shape.end()), 0}, ++seed);
    }
}

BOOST_AUTO_TEST_CASE(values_and_gradients)
{
    // The docstring's example: [-3, -1, 0, 2] -> [-0.9, -0.3, 0, 2], with alpha the float32 0.3.
    const double a = f32(0.3);
    check_elementwise(*make_layer<double>("LeakyReLU"), {-3, -1, 0, 2}, [&](double x) { return x > 0 ? x : a * x; },
                      [&](double x) { return x > 0 ? 1.0 : a; });
    Tensor<float> y = make_layer<float>("LeakyReLU")->predict(Tensor<float>({{-3.f, -1.f, 0.f, 2.f}}));
    check_close(tensor_cast<double>(y), Tensor<double>({{-0.9, -0.3, 0.0, 2.0}}), 1e-7);
    // alpha 0 takes tf.nn.relu: no gradient at 0.
    check_elementwise(*make_layer<double>("LeakyReLU", {{"alpha", 0}}), {-1, 0, 1},
                      [](double x) { return std::max(x, 0.0); }, [](double x) { return x > 0 ? 1.0 : 0.0; });
    // A negative alpha is allowed, as in Keras.
    check_elementwise(*make_layer<double>("LeakyReLU", {{"alpha", -0.5}}), {-2, 3},
                      [](double x) { return x > 0 ? x : -0.5 * x; }, [](double x) { return x > 0 ? 1.0 : -0.5; });
}

BOOST_AUTO_TEST_CASE(keras_defaults_and_config_keys)
{
    // float(cast_to_floatx(0.3)), as every tf.keras 2.x file writes the default.
    BOOST_TEST(make_layer("LeakyReLU", {{"name", "l"}})->get_config() == base_config("l", {{"alpha", 0.30000001192092896}}));
    const json c = make_layer("LeakyReLU", {{"alpha", 0.2}})->get_config();
    BOOST_TEST(c["alpha"] == 0.20000000298023224);
    BOOST_TEST(make_layer("LeakyReLU", c)->get_config() == c);
    // Keras 3 names the argument negative_slope; its files load, and the config is written as tf.keras 2.x's.
    auto keras3 = make_layer("LeakyReLU", {{"name", "l3"}, {"negative_slope", 0.2}});
    BOOST_TEST(keras3->get_config() == base_config("l3", {{"alpha", 0.20000000298023224}}));
}

BOOST_AUTO_TEST_CASE(rejects_what_keras_rejects)
{
    throws("LeakyReLU", {{"name", "l"}, {"alpha", nullptr}},
           {"LeakyReLU layer 'l': The alpha value of a Leaky ReLU layer cannot be None, Expecting a float. Received: None"});
    throws("LeakyReLU", {{"name", "l"}, {"alpha", "big"}}, {"LeakyReLU layer 'l'", "`alpha` must be a number", "'big'"});
    throws("LeakyReLU", {{"name", "l"}, {"max_value", 6}}, {"LeakyReLU layer 'l'", "not understood: 'max_value'"});
    throws("LeakyReLU", {{"name", "l"}, {"negative_slope", -1}},
           {"LeakyReLU layer 'l'", "negative_slope value of a Leaky ReLU layer cannot be None or negative",
            "negative_slope=-1"});
    throws("LeakyReLU", {{"name", "l"}, {"negative_slope", 0.1}, {"alpha", 0.1}},
           {"LeakyReLU layer 'l'", "cannot both be given"});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(prelu)

BOOST_AUTO_TEST_CASE(generic_layer_test_over_the_configurations)
{
    const json uniform = {{"class_name", "RandomUniform"}, {"config", {{"minval", -1.0}, {"maxval", 1.0}, {"seed", 3}}}};
    struct Case
    {
        json config;
        Shape input;
    };
    const std::vector<Case> cases = {
        {json::object(), {2, 3, 4}},
        {{{"alpha_initializer", uniform}}, {3, 5}},
        {{{"shared_axes", {1, 2}}, {"alpha_initializer", uniform}, {"alpha_regularizer", "l2"},
          {"alpha_constraint", "non_neg"}},
         {2, 3, 4, 5}},
        {{{"shared_axes", 1}, {"alpha_initializer", "ones"}}, {3, 4, 2}},
        {{{"shared_axes", {2}}, {"alpha_initializer", uniform}, {"alpha_regularizer", "l1_l2"}}, {2, 3, 4, 5}},
        {{{"shared_axes", {1, 2, 3}}, {"alpha_initializer", uniform}}, {2, 2, 3, 2}},
        {{{"alpha_initializer", "random_normal"}, {"alpha_regularizer", {{"class_name", "L1"}, {"config", {{"l1", 0.5}}}}}},
         {4, 6}},
    };
    std::uint64_t seed = 0;
    for (const auto& c : cases)
        test::run_layer_test("PReLU", c.config, c.input, {PartialShape(c.input.begin(), c.input.end()), 1}, ++seed);
}

BOOST_AUTO_TEST_CASE(shared_alpha_values_and_gradients)
{
    // shared_axes [1, 2] on (batch, 3, 4, 5): one alpha per channel, alpha's gradient summed over the batch,
    // the rows and the columns.
    auto layer = make_layer<double>("PReLU", {{"shared_axes", {1, 2}}});
    layer->build({-1, 3, 4, 5});
    Weight<double>& w = *layer->weights().at(0);
    BOOST_TEST(w.variable.shape() == Shape({1, 1, 5}));
    const std::vector<double> alpha = {0.1, -0.2, 0.3, 0.5, 2.0};
    std::copy(alpha.begin(), alpha.end(), w.variable.value().data());
    w.variable.accumulate_grad(Tensor<double>({1, 1, 5}, 0.75));

    Tensor<double> x = test::random_tensor({2, 3, 4, 5}, 5);
    x.data()[7] = 0.0; // the kink: no gradient for x nor alpha
    const Tensor<double> upstream = test::random_tensor(shape_of(x), 6);
    const Pass pass = run(*layer, x, upstream);

    Tensor<double> y = Tensor<double>::from_shape(x.shape()), dx = Tensor<double>::from_shape(x.shape());
    std::vector<double> dalpha(5, 0.75);
    for (std::size_t i = 0; i < x.size(); ++i)
    {
        const std::size_t c = i % 5;
        const double v = x.data()[i], u = upstream.data()[i];
        y.data()[i] = v >= 0 ? v : alpha[c] * v;
        dx.data()[i] = 0.25 + u * (v > 0 ? 1.0 : (v < 0 ? alpha[c] : 0.0));
        dalpha[c] += u * std::min(v, 0.0);
    }
    check_close(pass.y, y);
    check_close(pass.dx, dx);
    for (std::size_t c = 0; c < 5; ++c)
        BOOST_TEST(w.variable.grad().data()[c] == dalpha[c], boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(unshared_alpha_values_and_gradients)
{
    // Without shared axes alpha has the input's shape without the batch axis: one per element.
    auto layer = make_layer<double>("PReLU", {{"alpha_initializer", "random_uniform"}});
    layer->build({-1, 2, 3});
    Weight<double>& w = *layer->weights().at(0);
    BOOST_TEST(w.variable.shape() == Shape({2, 3}));
    const Tensor<double> alpha = w.variable.value();
    BOOST_TEST(xt::any(xt::not_equal(alpha, 0.0)));
    const Tensor<double> x = test::random_tensor({4, 2, 3}, 8), upstream = test::random_tensor({4, 2, 3}, 9);
    const Pass pass = run(*layer, x, upstream);
    Tensor<double> y = Tensor<double>::from_shape(x.shape());
    Tensor<double> dalpha({2, 3}, 0.0);
    for (std::size_t i = 0; i < x.size(); ++i)
    {
        const double v = x.data()[i], a = alpha.data()[i % 6];
        y.data()[i] = v > 0 ? v : a * v;
        dalpha.data()[i % 6] += upstream.data()[i] * std::min(v, 0.0);
    }
    check_close(pass.y, y);
    check_close(w.variable.grad(), dalpha);
}

BOOST_AUTO_TEST_CASE(large_inputs_split_over_threads_give_the_same_numbers)
{
    // (20, 40, 40, 3): the forward and input gradient run over many tasks, alpha's gradient over 16 partitions
    // summed in a fixed order, so one thread and every thread agree bit for bit.
    auto gradients = [](int threads) {
        set_num_threads(threads);
        auto layer = make_layer<double>("PReLU", {{"shared_axes", {1, 2}}});
        layer->build({-1, 40, 40, 3});
        std::copy_n(std::vector<double>{0.1, -0.3, 0.7}.begin(), 3, layer->weights()[0]->variable.value().data());
        const Tensor<double> x = test::random_tensor({20, 40, 40, 3}, 31);
        const Pass pass = run(*layer, x, test::random_tensor(shape_of(x), 32));
        Tensor<double> dalpha = layer->weights()[0]->variable.grad();
        set_num_threads(0);
        return std::make_tuple(pass.y, pass.dx, dalpha, x);
    };
    const auto [y1, dx1, da1, x] = gradients(1);
    const auto [y, dx, da, x2] = gradients(0);
    BOOST_TEST((y == y1));
    BOOST_TEST((dx == dx1));
    BOOST_TEST((da == da1));
    const std::vector<double> alpha = {0.1, -0.3, 0.7};
    Tensor<double> want = Tensor<double>::from_shape(x.shape());
    for (std::size_t i = 0; i < x.size(); ++i)
        want.data()[i] = x.data()[i] > 0 ? x.data()[i] : alpha[i % 3] * x.data()[i];
    check_close(y, want);

    // The element-wise layers over many tasks: ReLU with all three arguments against its loop.
    const double a = f32(0.1), t = f32(0.2), m = 0.5;
    const Tensor<double> relu = make_layer<double>("ReLU", {{"max_value", m}, {"negative_slope", 0.1}, {"threshold", 0.2}})
                                    ->predict(x);
    for (std::size_t i = 0; i < x.size(); ++i)
    {
        const double v = x.data()[i];
        want.data()[i] = (v > t ? std::min(v, m) : 0.0) - a * std::max(t - v, 0.0);
    }
    check_close(relu, want);
}

BOOST_AUTO_TEST_CASE(weight_name_shape_and_options)
{
    auto layer = make_layer("PReLU", {{"name", "p"}, {"shared_axes", {1, 2}}, {"alpha_regularizer", "l2"},
                                      {"alpha_constraint", "non_neg"}});
    layer->build({-1, 8, 8, 16});
    auto w = layer->weights();
    BOOST_REQUIRE(w.size() == 1u);
    BOOST_TEST(w[0]->name == "alpha");
    BOOST_TEST(layer->weight_path(*w[0]) == "p/alpha:0");
    BOOST_TEST(w[0]->variable.shape() == Shape({1, 1, 16}));
    BOOST_TEST(w[0]->trainable);
    BOOST_TEST(layer->count_params() == 16u);
    BOOST_TEST(xt::all(xt::equal(w[0]->variable.value(), 0.f))); // alpha_initializer defaults to zeros
    BOOST_REQUIRE(w[0]->regularizer.has_value());
    BOOST_TEST(w[0]->regularizer->class_name() == "L2");
    BOOST_REQUIRE(w[0]->constraint.has_value());
    BOOST_TEST(w[0]->constraint->class_name() == "NonNeg");

    // Keras's build indexes param_shape[axis - 1] the Python way: 0 shares the last axis, -1 the one before it.
    auto last = make_layer("PReLU", {{"shared_axes", 0}});
    last->build({-1, 3, 4});
    BOOST_TEST(last->weights()[0]->variable.shape() == Shape({3, 1}));
    auto before_last = make_layer("PReLU", {{"shared_axes", {-1}}});
    before_last->build({-1, 3, 4});
    BOOST_TEST(before_last->weights()[0]->variable.shape() == Shape({1, 4}));

    // A shared axis may be of any size, and need not be known at build.
    auto spatial = make_layer("PReLU", {{"shared_axes", {1, 2}}});
    spatial->build({-1, -1, -1, 3});
    BOOST_TEST(spatial->weights()[0]->variable.shape() == Shape({1, 1, 3}));
    BOOST_TEST(shape_of(spatial->predict(Tensor<float>({2, 5, 7, 3}, -1.f))) == Shape({2, 5, 7, 3}));

    // alpha_initializer None: add_weight's glorot_uniform draws alpha, and the config keeps None.
    auto glorot = make_layer("PReLU", {{"alpha_initializer", nullptr}});
    glorot->build({-1, 10, 10});
    BOOST_TEST(xt::any(xt::not_equal(glorot->weights()[0]->variable.value(), 0.f)));
    BOOST_TEST(glorot->get_config()["alpha_initializer"].is_null());
}

BOOST_AUTO_TEST_CASE(keras_defaults_and_config_keys)
{
    BOOST_TEST(make_layer("PReLU", {{"name", "p"}})->get_config() ==
               base_config("p", {{"alpha_initializer", {{"class_name", "Zeros"}, {"config", json::object()}}},
                                 {"alpha_regularizer", nullptr},
                                 {"alpha_constraint", nullptr},
                                 {"shared_axes", nullptr}}));
    // A single axis is written as a list; regularizers and constraints in Keras's serialized form.
    const json c = make_layer("PReLU", {{"shared_axes", 2}, {"alpha_regularizer", "l1"}, {"alpha_constraint", "max_norm"},
                                        {"alpha_initializer", "ones"}})
                       ->get_config();
    BOOST_TEST(c["shared_axes"] == json::array({2}));
    BOOST_TEST(c["alpha_regularizer"]["class_name"] == "L1");
    BOOST_TEST(c["alpha_constraint"]["class_name"] == "MaxNorm");
    BOOST_TEST(c["alpha_initializer"]["class_name"] == "Ones");
    BOOST_TEST(make_layer("PReLU", c)->get_config() == c);
}

BOOST_AUTO_TEST_CASE(rejects_what_keras_rejects)
{
    throws("PReLU", {{"name", "p"}, {"shared_axes", "rows"}}, {"PReLU layer 'p'", "`shared_axes`", "'rows'"});
    throws("PReLU", {{"name", "p"}, {"shared_axes", {1, 2.5}}}, {"PReLU layer 'p'", "shared_axes=[1, 2.5]"});
    throws("PReLU", {{"name", "p"}, {"alpha_initializer", "nope"}}, {"PReLU layer 'p'", "nope"});
    throws("PReLU", {{"name", "p"}, {"alpha", 0.1}}, {"PReLU layer 'p'", "not understood: 'alpha'"});

    // Build: a shared axis outside the input, a non-shared axis of unknown size.
    auto far = make_layer("PReLU", {{"name", "p"}, {"shared_axes", {3}}});
    BOOST_CHECK_EXCEPTION(far->build({-1, 2, 3}), value_error,
                          message_contains({"PReLU layer 'p'", "shared_axes entry 3 is out of range", "(None, 2, 3)"}));
    auto unknown = make_layer("PReLU", {{"name", "p"}});
    BOOST_CHECK_EXCEPTION(unknown->build({-1, -1, 3}), value_error,
                          message_contains({"PReLU layer 'p'", "axis 1", "(None, None, 3)", "not shared"}));

    // Calls: the input spec's rank and extents.
    auto built = make_layer("PReLU", {{"name", "p"}, {"shared_axes", {1}}});
    built->build({-1, 3, 4});
    BOOST_CHECK_EXCEPTION(built->predict(Tensor<float>({2, 3}, 1.f)), shape_error,
                          message_contains({"Input 0 of PReLU layer 'p'", "expected ndim=3, found ndim=2"}));
    BOOST_CHECK_EXCEPTION(built->predict(Tensor<float>({2, 3, 5}, 1.f)), shape_error,
                          message_contains({"PReLU layer 'p'", "expected axis 2 of input shape to have value 4",
                                            "(2, 3, 5)"}));
    BOOST_TEST(shape_of(built->predict(Tensor<float>({2, 6, 4}, 1.f))) == Shape({2, 6, 4}));
    auto whole = make_layer("PReLU", {{"name", "q"}});
    whole->build({-1, 3, 4});
    BOOST_CHECK_EXCEPTION(whole->predict(Tensor<float>({2, 3, 5}, 1.f)), shape_error,
                          message_contains({"PReLU layer 'q'", "alpha of shape (3, 4) does not broadcast", "(2, 3, 5)"}));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(elu)

BOOST_AUTO_TEST_CASE(generic_layer_test_over_the_configurations)
{
    const std::vector<json> configs = {json::object(), {{"alpha", 0.5}}, {{"alpha", 2}}, {{"alpha", -1.0}}};
    const std::vector<Shape> shapes = {{3, 5}, {2, 3, 4}, {2, 2, 3, 2}};
    std::uint64_t seed = 0;
    for (const auto& config : configs)
    {
        const Shape& shape = shapes[seed % shapes.size()];
        test::run_layer_test("ELU", config, shape, {PartialShape(shape.begin(), shape.end()), 0}, ++seed);
    }
}

BOOST_AUTO_TEST_CASE(values_and_gradients)
{
    // x above 0, alpha * (exp(x) - 1) otherwise; tf.where(x > 0, elu, alpha * elu) gives alpha at 0.
    const double a = f32(0.7);
    check_elementwise(*make_layer<double>("ELU", {{"alpha", 0.7}}), {-5, -1, -1e-3, 0, 1e-3, 2},
                      [&](double x) { return x > 0 ? x : a * (std::exp(x) - 1); },
                      [&](double x) { return x > 0 ? 1.0 : a * std::exp(x); });
    check_elementwise(*make_layer<double>("ELU"), {-2, 0, 3}, [](double x) { return x > 0 ? x : std::exp(x) - 1; },
                      [](double x) { return x > 0 ? 1.0 : std::exp(x); });
}

BOOST_AUTO_TEST_CASE(keras_defaults_and_config_keys)
{
    BOOST_TEST(make_layer("ELU", {{"name", "e"}})->get_config() == base_config("e", {{"alpha", 1.0}}));
    const json c = make_layer("ELU", {{"alpha", 0.1}})->get_config();
    BOOST_TEST(c["alpha"] == f32(0.1));
    BOOST_TEST(make_layer("ELU", c)->get_config() == c);
}

BOOST_AUTO_TEST_CASE(rejects_what_keras_rejects)
{
    throws("ELU", {{"name", "e"}, {"alpha", nullptr}},
           {"ELU layer 'e': Alpha of an ELU layer cannot be None, expecting a float. Received: None"});
    throws("ELU", {{"name", "e"}, {"alpha", {1}}}, {"ELU layer 'e'", "`alpha` must be a number", "alpha=[1]"});
    throws("ELU", {{"name", "e"}, {"theta", 1}}, {"ELU layer 'e'", "not understood: 'theta'"});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(softmax)

BOOST_AUTO_TEST_CASE(generic_layer_test_over_the_configurations)
{
    struct Case
    {
        json config;
        Shape input;
    };
    const std::vector<Case> cases = {
        {json::object(), {3, 5}},           {{{"axis", 1}}, {2, 3, 4}},         {{{"axis", -2}}, {2, 3, 4, 2}},
        {{{"axis", {1}}}, {2, 3, 4}},       {{{"axis", {1, 2}}}, {2, 3, 4}},    {{{"axis", {1, 3}}}, {2, 3, 2, 4}},
        {{{"axis", {-1, 1}}}, {2, 2, 3}},   {{{"axis", {2, -1}}}, {2, 2, 3}},   {{{"axis", 0}}, {4, 3}},
    };
    std::uint64_t seed = 0;
    for (const auto& c : cases)
        test::run_layer_test("Softmax", c.config, c.input, {PartialShape(c.input.begin(), c.input.end()), 0}, ++seed);
}

BOOST_AUTO_TEST_CASE(along_axis_1_of_a_3d_tensor)
{
    const Tensor<double> x = test::random_tensor({2, 3, 4}, 21) * 3.0, upstream = test::random_tensor({2, 3, 4}, 22);
    auto layer = make_layer<double>("Softmax", {{"axis", 1}});
    const Pass pass = run(*layer, x, upstream);
    Tensor<double> y = Tensor<double>::from_shape({2, 3, 4}), dx = Tensor<double>::from_shape({2, 3, 4});
    for (std::size_t b = 0; b < 2; ++b)
        for (std::size_t k = 0; k < 4; ++k)
        {
            double total = 0, dot = 0;
            for (std::size_t i = 0; i < 3; ++i)
                total += std::exp(x(b, i, k));
            for (std::size_t i = 0; i < 3; ++i)
            {
                y(b, i, k) = std::exp(x(b, i, k)) / total;
                dot += upstream(b, i, k) * y(b, i, k);
            }
            for (std::size_t i = 0; i < 3; ++i)
                dx(b, i, k) = 0.25 + y(b, i, k) * (upstream(b, i, k) - dot);
        }
    check_close(pass.y, y);
    check_close(pass.dx, dx);
    // A list of one axis is that axis.
    check_close(make_layer<double>("Softmax", {{"axis", {1}}})->predict(x), y);
    check_close(make_layer<double>("Softmax", {{"axis", -2}})->predict(x), y);
}

BOOST_AUTO_TEST_CASE(jointly_over_several_axes)
{
    // axis [1, 2] of (2, 3, 4): one distribution over the 12 entries of each sample.
    const Tensor<double> x = test::random_tensor({2, 3, 4}, 23) * 3.0, upstream = test::random_tensor({2, 3, 4}, 24);
    auto layer = make_layer<double>("Softmax", {{"axis", {1, 2}}});
    const Pass pass = run(*layer, x, upstream);
    Tensor<double> y = Tensor<double>::from_shape({2, 3, 4}), dx = Tensor<double>::from_shape({2, 3, 4});
    for (std::size_t b = 0; b < 2; ++b)
    {
        double total = 0, dot = 0;
        for (std::size_t j = 0; j < 12; ++j)
            total += std::exp(x.data()[b * 12 + j]);
        for (std::size_t j = 0; j < 12; ++j)
        {
            y.data()[b * 12 + j] = std::exp(x.data()[b * 12 + j]) / total;
            dot += upstream.data()[b * 12 + j] * y.data()[b * 12 + j];
        }
        for (std::size_t j = 0; j < 12; ++j)
            dx.data()[b * 12 + j] = 0.25 + y.data()[b * 12 + j] * (upstream.data()[b * 12 + j] - dot);
    }
    check_close(pass.y, y);
    check_close(pass.dx, dx);

    // Axes 0 and 2 of (2, 3, 2): groups along the middle axis, a repeated axis counted once.
    const Tensor<double> z = test::random_tensor({2, 3, 2}, 25);
    Tensor<double> want = Tensor<double>::from_shape({2, 3, 2});
    for (std::size_t i = 0; i < 3; ++i)
    {
        double total = 0;
        for (std::size_t b = 0; b < 2; ++b)
            for (std::size_t k = 0; k < 2; ++k)
                total += std::exp(z(b, i, k));
        for (std::size_t b = 0; b < 2; ++b)
            for (std::size_t k = 0; k < 2; ++k)
                want(b, i, k) = std::exp(z(b, i, k)) / total;
    }
    check_close(make_layer<double>("Softmax", {{"axis", {0, -1, 2}}})->predict(z), want);
}

BOOST_AUTO_TEST_CASE(large_logits_stay_finite)
{
    // The docstring's example, and logits far beyond exp's range, on both paths.
    Tensor<float> y = make_layer<float>("Softmax")->predict(Tensor<float>({{1.f, 2.f, 1.f}}));
    check_close(tensor_cast<double>(y), Tensor<double>({{0.21194157, 0.5761169, 0.21194157}}), 1e-7);
    const Tensor<float> big({{1000.f, 1000.f, -1000.f}});
    check_close(tensor_cast<double>(make_layer<float>("Softmax")->predict(big)), Tensor<double>({{0.5, 0.5, 0.0}}), 1e-7);
    // Several axes: Keras's exp(x - reduce_logsumexp(x)) holds the log-sum-exp, about 1001 here, in float32, whose
    // spacing there (6e-5) bounds the accuracy: TensorFlow loses the same digits.
    const Tensor<float> big3({{{1000.f, 1000.f}, {-1000.f, 1000.f}}});
    check_close(tensor_cast<double>(make_layer<float>("Softmax", {{"axis", {1, 2}}})->predict(big3)),
                Tensor<double>({{{1.0 / 3, 1.0 / 3}, {0.0, 1.0 / 3}}}), 1e-4);
}

BOOST_AUTO_TEST_CASE(keras_defaults_and_config_keys)
{
    BOOST_TEST(make_layer("Softmax", {{"name", "s"}})->get_config() == base_config("s", {{"axis", -1}}));
    // tf.keras 2.10 (JohnnysGithubAccount__resnet.h5) writes exactly this.
    const json saved = json::parse(R"({"name": "softmax_4", "trainable": true, "dtype": "float32", "axis": -1})");
    BOOST_TEST(make_layer("Softmax", saved)->get_config() == saved);
    // A list stays a list; tf-keras 2.16's robust_masking is written only when set.
    const json listed = make_layer("Softmax", {{"axis", {1, 2}}, {"robust_masking", false}})->get_config();
    BOOST_TEST(listed["axis"] == json::array({1, 2}));
    BOOST_TEST(!listed.contains("robust_masking"));
    const json robust = make_layer("Softmax", {{"robust_masking", true}})->get_config();
    BOOST_TEST(robust["robust_masking"] == true);
    BOOST_TEST(make_layer("Softmax", robust)->get_config() == robust);
}

BOOST_AUTO_TEST_CASE(rejects_what_keras_rejects)
{
    throws("Softmax", {{"name", "s"}, {"axis", "last"}}, {"Softmax layer 's'", "`axis`", "axis='last'"});
    throws("Softmax", {{"name", "s"}, {"axis", json::array()}}, {"Softmax layer 's'", "non-empty list", "axis=[]"});
    throws("Softmax", {{"name", "s"}, {"axis", {1, nullptr}}}, {"Softmax layer 's'", "axis=[1, None]"});
    throws("Softmax", {{"name", "s"}, {"robust_masking", "yes"}}, {"Softmax layer 's'", "robust_masking"});
    throws("Softmax", {{"name", "s"}, {"dim", 1}}, {"Softmax layer 's'", "not understood: 'dim'"});

    // tf.nn.softmax's range check, and the reductions' for several axes.
    BOOST_CHECK_EXCEPTION(make_layer("Softmax", {{"name", "s"}, {"axis", 3}})->predict(Tensor<float>({2, 3, 4}, 0.f)),
                          shape_error,
                          message_contains({"Softmax layer 's': `dim` must be in the range [-3, 3) where 3 is the number "
                                            "of dimensions in the input. Received: dim=3"}));
    BOOST_CHECK_EXCEPTION(make_layer("Softmax", {{"axis", -4}})->predict(Tensor<float>({2, 3, 4}, 0.f)), shape_error,
                          message_contains("Received: dim=-4"));
    BOOST_CHECK_EXCEPTION(
        make_layer("Softmax", {{"name", "s"}, {"axis", {1, 5}}})->predict(Tensor<float>({2, 3, 4}, 0.f)), shape_error,
        message_contains({"Softmax layer 's': Invalid reduction dimension 5 for input with 3 dimensions."}));
    // A built layer checks each call.
    auto built = make_layer("Softmax", {{"name", "s"}, {"axis", 2}});
    built->predict(Tensor<float>({2, 3, 4}, 0.f));
    BOOST_CHECK_EXCEPTION(built->predict(Tensor<float>({2, 3}, 0.f)), shape_error, message_contains("Received: dim=2"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(thresholded_relu)

BOOST_AUTO_TEST_CASE(generic_layer_test_over_the_configurations)
{
    const std::vector<json> configs = {json::object(), {{"theta", 0.3}}, {{"theta", 0}}, {{"theta", 0.05}}};
    const std::vector<Shape> shapes = {{3, 5}, {2, 3, 4}, {2, 2, 3, 2}};
    std::uint64_t seed = 0;
    for (const auto& config : configs)
    {
        const Shape& shape = shapes[seed % shapes.size()];
        test::run_layer_test("ThresholdedReLU", config, shape, {PartialShape(shape.begin(), shape.end()), 0}, ++seed);
    }
}

BOOST_AUTO_TEST_CASE(values_and_gradients)
{
    // x * (x > theta): nothing at theta itself, no gradient there.
    check_elementwise(*make_layer<double>("ThresholdedReLU"), {-2, 0, 0.5, 1, 1.0001, 3},
                      [](double x) { return x > 1 ? x : 0.0; }, [](double x) { return x > 1 ? 1.0 : 0.0; });
    check_elementwise(*make_layer<double>("ThresholdedReLU", {{"theta", 0}}), {-1, 0, 0.5},
                      [](double x) { return x > 0 ? x : 0.0; }, [](double x) { return x > 0 ? 1.0 : 0.0; });
    // The product with the mask, as in TensorFlow: -inf below the threshold gives NaN.
    Tensor<float> y = make_layer<float>("ThresholdedReLU")->predict(
        Tensor<float>({{-std::numeric_limits<float>::infinity(), std::numeric_limits<float>::infinity()}}));
    BOOST_TEST(std::isnan(y(0, 0)));
    BOOST_TEST(std::isinf(y(0, 1)));
}

BOOST_AUTO_TEST_CASE(keras_defaults_and_config_keys)
{
    BOOST_TEST(make_layer("ThresholdedReLU", {{"name", "t"}})->get_config() == base_config("t", {{"theta", 1.0}}));
    const json c = make_layer("ThresholdedReLU", {{"theta", 0.7}})->get_config();
    BOOST_TEST(c["theta"] == f32(0.7));
    BOOST_TEST(make_layer("ThresholdedReLU", c)->get_config() == c);
}

BOOST_AUTO_TEST_CASE(rejects_what_keras_rejects)
{
    throws("ThresholdedReLU", {{"name", "t"}, {"theta", nullptr}},
           {"ThresholdedReLU layer 't': Theta of a Thresholded ReLU layer cannot be None, expecting a float. "
            "Received: None"});
    throws("ThresholdedReLU", {{"name", "t"}, {"theta", -1}},
           {"ThresholdedReLU layer 't': The theta value of a Thresholded ReLU layer should be >=0. Received: -1"});
    throws("ThresholdedReLU", {{"name", "t"}, {"theta", true}}, {"ThresholdedReLU layer 't'", "`theta` must be a number"});
    throws("ThresholdedReLU", {{"name", "t"}, {"alpha", 1}}, {"ThresholdedReLU layer 't'", "not understood: 'alpha'"});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(default_names_are_keras_snake_case)
{
    reset_layer_names();
    BOOST_TEST(make_layer("ReLU")->name() == "re_lu");
    BOOST_TEST(make_layer("ReLU")->name() == "re_lu_1");
    BOOST_TEST(make_layer("LeakyReLU")->name() == "leaky_re_lu");
    BOOST_TEST(make_layer("PReLU")->name() == "p_re_lu");
    BOOST_TEST(make_layer("ELU")->name() == "elu");
    BOOST_TEST(make_layer("Softmax")->name() == "softmax");
    BOOST_TEST(make_layer("ThresholdedReLU")->name() == "thresholded_re_lu");
    for (const char* class_name : {"ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax", "ThresholdedReLU"})
        BOOST_TEST(make_layer(class_name)->class_name() == class_name);
    reset_layer_names();
}
