// Dense: values on rank 2 and rank > 2 inputs, gradients, weights, configs (tf.keras 2.x and Keras 3 files)
// and errors.
#include "support/checks.hpp"
#include "support/gradcheck.hpp"
#include "support/layer_harness.hpp"

#include "framework/io/keras_h5.hpp"

#include <boost/test/unit_test.hpp>

using namespace xk;
using xk::test::message_contains;

namespace
{
    /// x . kernel + bias over the last axis, by loops.
    Tensor<double> reference_dense(const Tensor<double>& x, const Tensor<double>& kernel, const Tensor<double>* bias)
    {
        const std::size_t in = kernel.shape()[0], units = kernel.shape()[1], rows = x.size() / in;
        Shape shape = shape_of(x);
        shape.back() = units;
        Tensor<double> y(shape, 0.0);
        for (std::size_t r = 0; r < rows; ++r)
            for (std::size_t u = 0; u < units; ++u)
            {
                double acc = bias ? bias->data()[u] : 0.0;
                for (std::size_t i = 0; i < in; ++i)
                    acc += x.data()[r * in + i] * kernel(i, u);
                y.data()[r * units + u] = acc;
            }
        return y;
    }

    Tensor<double> vector_of(std::vector<double> v)
    {
        Tensor<double> t = Tensor<double>::from_shape(Shape{v.size()});
        std::copy(v.begin(), v.end(), t.data());
        return t;
    }
}

BOOST_AUTO_TEST_SUITE(dense)

BOOST_AUTO_TEST_CASE(gradients_shapes_and_configs)
{
    struct Case
    {
        Shape input;
        long units;
        bool use_bias;
        const char* activation;
    };
    const std::vector<Case> cases = {
        {{3, 4}, 5, true, "linear"},       {{1, 7}, 1, false, "relu"},         {{2, 3, 4}, 6, true, "tanh"},
        {{2, 3, 2, 5}, 3, true, "softmax"}, {{4, 2, 1, 2, 3}, 2, false, "gelu"}, {{300, 3}, 4, true, "sigmoid"},
    };
    std::uint64_t seed = 0;
    for (const auto& c : cases)
    {
        PartialShape out(c.input.begin(), c.input.end());
        out.back() = c.units;
        json config = {{"units", c.units}, {"use_bias", c.use_bias}, {"activation", c.activation},
                       {"bias_initializer", "random_normal"}};
        test::run_layer_test("Dense", config, c.input, {out, c.use_bias ? 2u : 1u}, ++seed);
    }
    // Weight and activity penalties enter the checked objective.
    const json l1 = {{"class_name", "L1"}, {"config", {{"l1", 0.5}}}};
    test::run_layer_test("Dense",
                         {{"units", 3}, {"kernel_regularizer", "l2"}, {"bias_regularizer", l1},
                          {"activity_regularizer", "l1_l2"}, {"bias_initializer", "ones"}},
                         {2, 4}, {{2, 3}, 2});
}

BOOST_AUTO_TEST_CASE(values_are_the_product_over_the_last_axis)
{
    for (const Shape& shape : {Shape{4, 3}, Shape{2, 5, 3}, Shape{2, 2, 3, 3}})
        BOOST_TEST_CONTEXT(shape_str(shape))
        {
            auto layer = make_layer<double>("Dense", {{"units", 4}, {"bias_initializer", "random_uniform"}});
            Tensor<double> x = test::random_tensor(shape, 7);
            Tensor<double> y = layer->predict(x);
            auto w = layer->weights();
            std::string why;
            BOOST_TEST(test::close_to_scale(y, reference_dense(x, w[0]->variable.value(), &w[1]->variable.value()),
                                            1e-14, &why),
                       why);
        }

    // Hand-computed: [1, 2] . [[1, 2, 3], [4, 5, 6]] + [0.5, 0, -1] = [9.5, 12, 14].
    auto layer = make_layer<double>("Dense", {{"units", 3}});
    layer->build({-1, 2});
    auto w = layer->weights();
    w[0]->variable.value() = Tensor<double>({{1, 2, 3}, {4, 5, 6}});
    w[1]->variable.value() = vector_of({0.5, 0, -1});
    BOOST_TEST(layer->predict(Tensor<double>({{1, 2}})) == Tensor<double>({{9.5, 12, 14}}));
}

BOOST_AUTO_TEST_CASE(gradients_are_the_transposed_products)
{
    auto layer = make_layer<double>("Dense", {{"units", 2}});
    layer->build({-1, 2});
    auto w = layer->weights();
    w[0]->variable.value() = Tensor<double>({{1, 2}, {3, 4}});
    BasicTape<double> tape;
    BasicVariable<double> x(Tensor<double>({{1, -1}, {2, 0.5}}), true);
    auto y = layer->call(tape, x);
    tape.backward(y, Tensor<double>({{1, 0}, {0, 2}}));
    // dx = dy . kernel^T, dkernel = x^T . dy, dbias = sum over rows of dy.
    BOOST_TEST(x.grad() == Tensor<double>({{1, 3}, {4, 8}}));
    BOOST_TEST(w[0]->variable.grad() == Tensor<double>({{1, 4}, {-1, 1}}));
    BOOST_TEST(w[1]->variable.grad() == vector_of({1, 2}));
}

BOOST_AUTO_TEST_CASE(weights_have_keras_names_shapes_and_order)
{
    auto layer = make_layer("Dense", {{"units", 6}, {"name", "d"}});
    layer->build({-1, 5, 4});
    auto w = layer->weights();
    BOOST_REQUIRE(w.size() == 2u);
    BOOST_TEST(w[0]->name == "kernel");
    BOOST_TEST(w[0]->variable.shape() == Shape({4, 6}));
    BOOST_TEST(w[1]->name == "bias");
    BOOST_TEST(w[1]->variable.shape() == Shape({6}));
    BOOST_TEST(layer->weight_path(*w[0]) == "d/kernel:0");
    BOOST_TEST(layer->count_params() == 4u * 6 + 6);
    BOOST_TEST(xt::all(xt::equal(w[1]->variable.value(), 0.f)));
    // glorot_uniform: |w| <= sqrt(6 / (fan_in + fan_out)).
    BOOST_TEST(xt::amax(xt::abs(w[0]->variable.value()))() <= std::sqrt(6.0 / 10.0));
    auto no_bias = make_layer("Dense", {{"units", 2}, {"use_bias", false}});
    no_bias->build({-1, 3});
    BOOST_TEST(no_bias->weights().size() == 1u);
    BOOST_TEST(no_bias->count_params() == 6u);
}

BOOST_AUTO_TEST_CASE(keras_defaults_and_config_keys)
{
    json c = make_layer("Dense", {{"units", 8}})->get_config();
    BOOST_TEST(c["units"] == 8);
    BOOST_TEST(c["activation"] == "linear");
    BOOST_TEST(c["use_bias"] == true);
    BOOST_TEST(c["kernel_initializer"]["class_name"] == "GlorotUniform");
    BOOST_TEST(c["bias_initializer"]["class_name"] == "Zeros");
    for (const char* key : {"name", "trainable", "dtype", "units", "activation", "use_bias", "kernel_initializer",
                            "bias_initializer", "kernel_regularizer", "bias_regularizer", "activity_regularizer",
                            "kernel_constraint", "bias_constraint"})
        BOOST_TEST(c.contains(key), key);
    BOOST_TEST(c.size() == 13u);

    // tf.keras 2.7 (knmlprz decoder.h5) writes exactly this; it survives the round trip.
    const json saved = json::parse(R"({"name": "dense_7", "trainable": true, "dtype": "float32", "units": 12544,
        "activation": "relu", "use_bias": true, "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": null}},
        "bias_initializer": {"class_name": "Zeros", "config": {}}, "kernel_regularizer": null, "bias_regularizer": null,
        "activity_regularizer": null, "kernel_constraint": null, "bias_constraint": null})");
    BOOST_TEST(make_layer("Dense", saved)->get_config() == saved);

    // Keras 3.14 (shreyanshgupta28 model.h5): DTypePolicy, module/registered_name, quantization_config.
    const json keras3 = json::parse(R"({"name": "dense_3", "trainable": true, "dtype": {"module": "keras",
        "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}, "units": 10,
        "activation": "softmax", "use_bias": true, "kernel_initializer": {"module": "keras.initializers",
        "class_name": "GlorotUniform", "config": {"seed": null}, "registered_name": null}, "bias_initializer":
        {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null},
        "kernel_regularizer": null, "bias_regularizer": null, "kernel_constraint": null, "bias_constraint": null,
        "quantization_config": null})");
    auto layer = make_layer("Dense", keras3);
    BOOST_TEST(layer->name() == "dense_3");
    BOOST_TEST(layer->activation().name() == "softmax");

    // Constraints and regularizers round trip in Keras's serialized form.
    json full = make_layer("Dense", {{"units", 2}, {"kernel_constraint", "max_norm"}, {"bias_regularizer", "l2"}})->get_config();
    BOOST_TEST(full["kernel_constraint"]["class_name"] == "MaxNorm");
    BOOST_TEST(full["bias_regularizer"]["class_name"] == "L2");
    BOOST_TEST(make_layer("Dense", full)->get_config() == full);
}

BOOST_AUTO_TEST_CASE(rejects_what_keras_rejects)
{
    auto throws = [](const json& config, std::initializer_list<std::string> fragments) {
        BOOST_CHECK_EXCEPTION(make_layer("Dense", config), value_error, message_contains(fragments));
    };
    throws({{"name", "d"}}, {"Dense layer 'd'", "`units`", "positive integer", "units=null"});
    throws({{"units", -1}}, {"`units`", "units=-1"});
    throws({{"units", 0}}, {"`units`", "units=0"});
    throws({{"units", "3"}}, {"`units`", "units=\"3\""});
    throws({{"units", 3}, {"activation", "swishy"}}, {"activation", "swishy"});
    throws({{"units", 3}, {"kernel_initializer", "glorot"}}, {"initializer", "glorot"});
    throws({{"units", 3}, {"filters", 3}}, {"keyword argument not understood", "filters"});
    throws({{"units", 3}, {"lora_rank", -4}}, {"lora_rank", "positive integer", "lora_rank=-4"}); // LoRA: test_lora.cpp
    throws({{"units", 3}, {"quantization_config", {{"mode", "int8"}}}}, {"quantization_config", "not supported"});

    auto layer = make_layer("Dense", {{"units", 2}, {"name", "fc"}});
    BOOST_CHECK_EXCEPTION(layer->predict(Tensor<float>({3}, 0.f)), shape_error,
                          message_contains({"fc", "expected min_ndim=2", "found ndim=1"}));
    layer->predict(Tensor<float>({1, 4}, 0.f));
    BOOST_CHECK_EXCEPTION(layer->predict(Tensor<float>({1, 5}, 0.f)), shape_error,
                          message_contains({"fc", "axis -1", "value 4", "(1, 5)"}));
    auto unbuilt = make_layer("Dense", {{"units", 2}, {"name", "late"}});
    BOOST_CHECK_EXCEPTION(unbuilt->build({-1, -1}), value_error, message_contains({"late", "last dimension", "None"}));
}

BOOST_AUTO_TEST_CASE(real_keras_files_with_dense_layers_load_and_run)
{
    const std::string dir = std::string(XKERAS_TEST_DATA_DIR) + "/keras_files/files/";
    // Keras 3.14 model.save("x.h5"): Flatten and four Dense layers, the last a softmax over 10 classes.
    auto mnist = load_model<float>(dir + "shreyanshgupta28__keras3.14_legacy_model.h5");
    BOOST_TEST(mnist->layers().at(0)->class_name() == "Flatten");
    const Tensor<float> probabilities = mnist->predict(Tensor<float>({2, 28, 28}, 0.5f));
    BOOST_REQUIRE(shape_of(probabilities) == Shape({2, 10}));
    for (std::size_t n = 0; n < 2; ++n)
        BOOST_TEST(double(xt::sum(xt::view(probabilities, n))()) == 1.0, boost::test_tools::tolerance(1e-5));
    // tf.keras 2.7 functional decoder: InputLayer -> Dense -> Reshape((14, 14, 64)) -> Conv2DTranspose.
    auto decoder = load_model<float>(dir + "knmlprz-MNIST_VAE__decoder_Conv2DTranspose_s2_keras2.7.h5");
    BOOST_TEST(decoder->layers().at(1)->class_name() == "Dense");
    BOOST_TEST(decoder->layers().at(2)->class_name() == "Reshape");
    const PartialShape in = decoder->input_shapes().at(0);
    Shape x_shape{1};
    x_shape.insert(x_shape.end(), in.begin() + 1, in.end());
    const Tensor<float> image = decoder->predict(Tensor<float>(x_shape, 0.1f));
    const PartialShape out = decoder->output_shapes().at(0);
    BOOST_TEST(shape_of(image) == Shape({1, std::size_t(out[1]), std::size_t(out[2]), std::size_t(out[3])}));
}

BOOST_AUTO_TEST_SUITE_END()
