// Flatten, Reshape, Activation and Dropout: values (Flatten's channels_first order, Dropout's mask statistics,
// scaling, seeding and inference identity), gradients, configs and errors.
#include "support/checks.hpp"
#include "support/gradcheck.hpp"
#include "support/layer_harness.hpp"

#include "framework/engine/random.hpp"

#include <boost/test/unit_test.hpp>

#include <cmath>

using namespace xk;
using xk::test::message_contains;

namespace
{
    Tensor<double> arange_tensor(const Shape& shape)
    {
        Tensor<double> t = Tensor<double>::from_shape(shape);
        for (std::size_t i = 0; i < t.size(); ++i)
            t.data()[i] = double(i);
        return t;
    }

    /// One training-mode call (no gradient recorded).
    template <class T>
    Tensor<T> train_call(BasicLayer<T>& layer, const Tensor<T>& x)
    {
        BasicTape<T> tape;
        return layer.call(tape, BasicVariable<T>(x), true).value();
    }
}

BOOST_AUTO_TEST_SUITE(flatten)

BOOST_AUTO_TEST_CASE(shapes_and_gradients)
{
    struct Case
    {
        Shape input;
        const char* format;
        PartialShape out;
    };
    const std::vector<Case> cases = {
        {{2, 3, 4}, "channels_last", {2, 12}},        {{2, 3, 4}, "channels_first", {2, 12}},
        {{2, 3, 4, 5}, "channels_first", {2, 60}},    {{1, 2, 3, 2, 2}, "channels_first", {1, 24}},
        {{3, 5}, "channels_first", {3, 5}},           {{4}, "channels_last", {4, 1}},
    };
    for (const auto& c : cases)
        test::run_layer_test("Flatten", {{"data_format", c.format}}, c.input, {c.out, 0});
    BOOST_TEST(make_layer("Flatten")->compute_output_shape({-1, 3, -1}) == PartialShape({-1, -1}));
}

BOOST_AUTO_TEST_CASE(channels_first_flattens_in_channels_last_order)
{
    // x[0, c, h, w] = c*6 + h*3 + w, two channels of 2x3: tf.keras 2.x moves channels last first, so the
    // output walks (h, w, c).
    Tensor<double> x = arange_tensor({1, 2, 2, 3});
    Tensor<double> y = make_layer<double>("Flatten", {{"data_format", "channels_first"}})->predict(x);
    BOOST_TEST(y == Tensor<double>({{0, 6, 1, 7, 2, 8, 3, 9, 4, 10, 5, 11}}));
    // channels_last keeps the memory order.
    Tensor<double> z = make_layer<double>("Flatten", {{"data_format", "channels_last"}})->predict(x);
    BOOST_TEST(z == Tensor<double>({{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}}));

    // The gradient goes back to the positions it came from.
    auto layer = make_layer<double>("Flatten", {{"data_format", "channels_first"}});
    BasicTape<double> tape;
    BasicVariable<double> input(x, true);
    auto out = layer->call(tape, input);
    tape.backward(out, Tensor<double>({{0, 6, 1, 7, 2, 8, 3, 9, 4, 10, 5, 11}}));
    BOOST_TEST(input.grad() == x);
}

BOOST_AUTO_TEST_CASE(config)
{
    json c = make_layer("Flatten")->get_config();
    BOOST_TEST(c["data_format"] == image_data_format());
    BOOST_TEST(c.size() == 4u);
    // Keras 3.14 writes a DTypePolicy dict.
    const json keras3 = json::parse(R"({"name": "flatten", "trainable": true, "dtype": {"module": "keras",
        "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}, "data_format": "channels_last"})");
    BOOST_TEST(make_layer("Flatten", keras3)->get_config()["data_format"] == "channels_last");
    BOOST_CHECK_EXCEPTION(make_layer("Flatten", {{"data_format", "NCHW"}}), value_error,
                          message_contains({"Flatten layer", "data_format", "NCHW"}));
    BOOST_CHECK_EXCEPTION(make_layer("Flatten", {{"axis", 1}}), value_error,
                          message_contains({"keyword argument not understood", "axis"}));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(reshape)

BOOST_AUTO_TEST_CASE(shapes_values_and_gradients)
{
    test::run_layer_test("Reshape", {{"target_shape", {3, 4}}}, {2, 12}, {{2, 3, 4}, 0});
    test::run_layer_test("Reshape", {{"target_shape", {-1}}}, {2, 3, 4}, {{2, 12}, 0});
    test::run_layer_test("Reshape", {{"target_shape", {2, -1, 3}}}, {2, 6, 2}, {{2, 2, 2, 3}, 0});
    Tensor<double> x = arange_tensor({2, 6});
    Tensor<double> y = make_layer<double>("Reshape", {{"target_shape", {3, 2}}})->predict(x);
    BOOST_TEST(shape_of(y) == Shape({2, 3, 2}));
    BOOST_TEST(std::equal(x.begin(), x.end(), y.begin()));
    // A partially unknown input leaves the inferred dimension unknown.
    BOOST_TEST(make_layer("Reshape", {{"target_shape", {-1, 2}}})->compute_output_shape({-1, -1, 4}) ==
               PartialShape({-1, -1, 2}));
    BOOST_TEST(make_layer("Reshape", {{"target_shape", {-1, 2}}})->compute_output_shape({-1, 3, 4}) ==
               PartialShape({-1, 6, 2}));
}

BOOST_AUTO_TEST_CASE(config_and_errors)
{
    // tf.keras 2.7 (knmlprz decoder.h5).
    const json saved = {{"name", "reshape_1"}, {"trainable", true}, {"dtype", "float32"}, {"target_shape", {14, 14, 64}}};
    BOOST_TEST(make_layer("Reshape", saved)->get_config() == saved);
    BOOST_TEST(make_layer("Reshape", {{"target_shape", {-1, 2}}})->get_config()["target_shape"] == json({-1, 2}));

    BOOST_CHECK_EXCEPTION(make_layer("Reshape", {{"name", "r"}}), value_error,
                          message_contains({"Reshape layer 'r'", "target_shape", "null"}));
    BOOST_CHECK_EXCEPTION(make_layer("Reshape", {{"target_shape", 3}}), value_error, message_contains("target_shape=3"));
    BOOST_CHECK_EXCEPTION(make_layer("Reshape", {{"target_shape", {-1, -1}}}), value_error,
                          message_contains({"at most one unknown dimension", "[-1, -1]"}));
    BOOST_CHECK_EXCEPTION(make_layer("Reshape", {{"target_shape", {0, 2}}}), value_error,
                          message_contains("target_shape=[0,2]"));
    auto r = make_layer("Reshape", {{"target_shape", {4, 2}}, {"name", "r2"}});
    BOOST_CHECK_EXCEPTION(r->predict(Tensor<float>({1, 2, 3}, 0.f)), value_error,
                          message_contains({"r2", "total size of new array must be unchanged, input_shape = [2, 3], "
                                                  "output_shape = [4, 2]"}));
    auto inferred = make_layer("Reshape", {{"target_shape", {-1, 2}}});
    BOOST_CHECK_EXCEPTION(inferred->predict(Tensor<float>({1, 5}, 0.f)), value_error,
                          message_contains("output_shape = [-1, 2]"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(activation_layer)

BOOST_AUTO_TEST_CASE(values_gradients_and_config)
{
    std::uint64_t seed = 0;
    for (const char* name : {"relu", "tanh", "softmax", "elu", "selu", "sigmoid", "linear"})
        test::run_layer_test("Activation", {{"activation", name}}, {2, 3, 4}, {{2, 3, 4}, 0}, ++seed);
    Tensor<double> x = test::random_tensor({3, 4}, 1);
    BOOST_TEST(make_layer<double>("Activation", {{"activation", "relu"}})->predict(x) == Tensor<double>(xt::maximum(x, 0.0)));

    json c = make_layer("Activation", {{"activation", "softmax"}})->get_config();
    BOOST_TEST(c["activation"] == "softmax");
    BOOST_TEST(c.size() == 4u);
    BOOST_TEST(make_layer("Activation", c)->get_config() == c);
    BOOST_CHECK_EXCEPTION(make_layer("Activation", {{"name", "a"}}), value_error,
                          message_contains({"Activation layer 'a'", "activation"}));
    BOOST_CHECK_EXCEPTION(make_layer("Activation", {{"activation", "relu9"}}), value_error, message_contains("relu9"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(dropout)

BOOST_AUTO_TEST_CASE(inference_is_the_identity)
{
    auto layer = make_layer<double>("Dropout", {{"rate", 0.5}});
    Tensor<double> x = test::random_tensor({4, 5}, 3);
    BOOST_TEST(layer->predict(x) == x);
    test::run_layer_test("Dropout", {{"rate", 0.4}, {"seed", 3}}, {3, 4, 2}, {{3, 4, 2}, 0});
}

BOOST_AUTO_TEST_CASE(training_drops_a_rate_fraction_and_scales_the_rest)
{
    for (double rate : {0.1, 0.3, 0.75})
        BOOST_TEST_CONTEXT("rate " << rate)
        {
            auto layer = make_layer<float>("Dropout", {{"rate", rate}});
            Tensor<float> x({200, 500}, 1.0f);
            Tensor<float> y = train_call(*layer, x);
            const float kept = float(1.0 / (1.0 - rate));
            std::size_t zeros = 0, scaled = 0;
            for (float v : y)
            {
                zeros += v == 0.0f;
                scaled += v == kept;
            }
            BOOST_TEST(zeros + scaled == y.size()); // every unit is dropped or scaled by 1 / (1 - rate)
            const double fraction = double(zeros) / double(y.size());
            BOOST_TEST(std::abs(fraction - rate) < 0.01, "dropped fraction " << fraction); // 7 standard deviations
            BOOST_TEST(std::abs(double(xt::mean(y)()) - 1.0) < 0.05);                     // the sum is kept on average
        }
    // rate 0 drops nothing, even in training.
    Tensor<double> x = test::random_tensor({3, 3}, 1);
    BOOST_TEST(train_call(*make_layer<double>("Dropout", {{"rate", 0}}), x) == x);
}

BOOST_AUTO_TEST_CASE(masks_follow_the_seed)
{
    Tensor<double> x({50, 40}, 1.0);
    auto seeded = make_layer<double>("Dropout", {{"rate", 0.5}, {"seed", 42}});
    const Tensor<double> first = train_call(*seeded, x);
    const Tensor<double> second = train_call(*seeded, x);
    BOOST_TEST(!(second == first)); // a seeded layer moves along its seed stream, as tf.keras
    auto twin = make_layer<double>("Dropout", {{"rate", 0.5}, {"seed", 42}});
    BOOST_TEST(train_call(*twin, x) == first); // ... and the same seed gives the same sequence
    BOOST_TEST(train_call(*twin, x) == second);
    BOOST_TEST(!(train_call(*make_layer<double>("Dropout", {{"rate", 0.5}, {"seed", 43}}), x) == first));
    // float and double draw the same mask.
    Tensor<float> single = train_call(*make_layer<float>("Dropout", {{"rate", 0.5}, {"seed", 42}}), tensor_cast<float>(x));
    BOOST_TEST(tensor_cast<double>(single) == first);

    // Unseeded: a new mask at every call, reproducible from set_random_seed.
    auto unseeded = make_layer<double>("Dropout", {{"rate", 0.5}});
    set_random_seed(7);
    const Tensor<double> a = train_call(*unseeded, x);
    const Tensor<double> b = train_call(*unseeded, x);
    BOOST_TEST(!(a == b));
    set_random_seed(7);
    BOOST_TEST(train_call(*unseeded, x) == a);
    BOOST_TEST(train_call(*unseeded, x) == b);
}

BOOST_AUTO_TEST_CASE(noise_shape_shares_the_mask_along_its_unit_axes)
{
    auto layer = make_layer<double>("Dropout", {{"rate", 0.5}, {"noise_shape", {nullptr, 1, 5}}, {"seed", 1}});
    Tensor<double> y = train_call(*layer, Tensor<double>({4, 6, 5}, 1.0));
    std::size_t dropped = 0;
    for (std::size_t n = 0; n < 4; ++n)
        for (std::size_t c = 0; c < 5; ++c)
        {
            for (std::size_t t = 1; t < 6; ++t)
                BOOST_TEST(y(n, t, c) == y(n, 0, c));
            dropped += y(n, 0, c) == 0.0;
        }
    BOOST_TEST(dropped > 0u);
    BOOST_TEST(dropped < 20u);
    // Checked when a mask is drawn: inference ignores noise_shape, as in Keras.
    auto bad = make_layer("Dropout", {{"rate", 0.5}, {"noise_shape", {2, 3}}, {"name", "drop"}});
    BOOST_TEST(bad->predict(Tensor<float>({4, 6}, 1.f)) == Tensor<float>({4, 6}, 1.f));
    BOOST_CHECK_EXCEPTION(train_call(*bad, Tensor<float>({4, 6}, 1.f)), shape_error,
                          message_contains({"drop", "noise_shape", "(2, 3)", "(4, 6)"}));
}

BOOST_AUTO_TEST_CASE(training_gradients_use_the_forward_mask)
{
    // Every training call draws a new mask, so finite differences cannot probe one: the gradient is checked
    // exactly instead. dx = dy * mask / (1 - rate): with x = 1 the scaled mask is the output itself.
    for (const json& config : {json{{"rate", 0.4}, {"seed", 5}},
                               json{{"rate", 0.25}, {"seed", 6}, {"noise_shape", {1, nullptr, 3}}}})
        BOOST_TEST_CONTEXT(config.dump())
        {
            auto layer = make_layer<double>("Dropout", config);
            BasicTape<double> tape;
            BasicVariable<double> x(Tensor<double>({3, 4, 3}, 1.0), true);
            auto y = layer->call(tape, x, true);
            const Tensor<double> upstream = test::random_tensor({3, 4, 3}, 8);
            tape.backward(y, upstream);
            BOOST_TEST(x.grad() == Tensor<double>(upstream * y.value()));
        }
    auto layer = make_layer<double>("Dropout", {{"rate", 0.5}, {"seed", 11}});
    BasicTape<double> tape;
    BasicVariable<double> x(Tensor<double>({6, 7}, 1.0), true);
    auto y = layer->call(tape, x, true);
    const Tensor<double> upstream = test::random_tensor({6, 7}, 4);
    tape.backward(y, upstream);
    BOOST_TEST(x.grad() == Tensor<double>(upstream * y.value()));
}

BOOST_AUTO_TEST_CASE(config_and_errors)
{
    json c = make_layer("Dropout", {{"rate", 0.3}})->get_config();
    BOOST_TEST(c["rate"] == 0.3);
    BOOST_TEST(c["noise_shape"].is_null());
    BOOST_TEST(c["seed"].is_null());
    BOOST_TEST(c.size() == 6u);
    const json full = {{"name", "d"}, {"trainable", true}, {"dtype", "float32"}, {"rate", 0.5},
                       {"noise_shape", {nullptr, 1, 4}}, {"seed", 9}};
    BOOST_TEST(make_layer("Dropout", full)->get_config() == full);
    // Keras 2.2.4 (nnom densenet) wrote no dtype.
    BOOST_TEST(make_layer("Dropout", {{"name", "dropout_1"}, {"trainable", true}, {"rate", 0.3}, {"noise_shape", nullptr},
                                      {"seed", nullptr}})
                   ->get_config()["rate"] == 0.3);

    BOOST_CHECK_EXCEPTION(make_layer("Dropout", {{"rate", 1.5}, {"name", "d"}}), value_error,
                          message_contains({"Dropout layer 'd'", "invalid value 1.5", "between 0 and 1"}));
    BOOST_CHECK_EXCEPTION(make_layer("Dropout"), value_error, message_contains({"rate", "null"}));
    BOOST_CHECK_EXCEPTION(make_layer("Dropout", {{"rate", 0.5}, {"noise_shape", 3}}), value_error,
                          message_contains("noise_shape=3"));
    BOOST_CHECK_EXCEPTION(make_layer("Dropout", {{"rate", 0.5}, {"seed", "x"}}), value_error, message_contains("seed"));
    // rate 1 is accepted as in Keras, but cannot drop in training (TF refuses rate >= 1 there).
    auto all = make_layer("Dropout", {{"rate", 1}});
    BOOST_TEST(all->predict(Tensor<float>({2, 2}, 3.f)) == Tensor<float>({2, 2}, 3.f));
    BOOST_CHECK_EXCEPTION(train_call(*all, Tensor<float>({2, 2}, 3.f)), value_error, message_contains("[0, 1)"));
}

BOOST_AUTO_TEST_SUITE_END()
