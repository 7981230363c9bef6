// GlobalMaxPooling1D/2D/3D and GlobalAveragePooling1D/2D/3D: values, keepdims shapes, the shared gradient of
// tied maxima, gradients over a grid, configs and errors.
#include "support/checks.hpp"
#include "support/gradcheck.hpp"
#include "support/layer_harness.hpp"

#include <boost/test/unit_test.hpp>

using namespace xk;
using xk::test::message_contains;

namespace
{
    std::string class_of(bool max, std::size_t rank)
    {
        return (max ? "GlobalMaxPooling" : "GlobalAveragePooling") + std::to_string(rank) + "D";
    }

    Tensor<double> values(const Shape& shape, std::vector<double> v)
    {
        Tensor<double> t = Tensor<double>::from_shape(shape);
        BOOST_REQUIRE(v.size() == t.size());
        std::copy(v.begin(), v.end(), t.data());
        return t;
    }

    Tensor<double> input_gradient(BasicLayer<double>& layer, const Tensor<double>& x, const Tensor<double>& upstream)
    {
        BasicTape<double> tape;
        BasicVariable<double> input(x, true);
        auto y = layer.call(tape, input);
        tape.backward(y, upstream);
        return input.grad();
    }
}

BOOST_AUTO_TEST_SUITE(global_pooling)

BOOST_AUTO_TEST_CASE(shapes_gradients_and_configs_over_the_grid)
{
    const std::vector<Shape> inputs = {{2, 5, 3}, {2, 4, 3, 2}, {1, 3, 2, 4, 2}}; // (batch, spatial..., channels)
    std::uint64_t seed = 0;
    for (bool max : {true, false})
        for (std::size_t rank : {1u, 2u, 3u})
            for (const std::string format : {"channels_last", "channels_first"})
                for (bool keepdims : {false, true})
                {
                    const Shape& cl = inputs[rank - 1];
                    const long batch = long(cl[0]), channels = long(cl.back());
                    Shape input = cl;
                    if (format == "channels_first")
                    {
                        input = {cl[0], cl.back()};
                        input.insert(input.end(), cl.begin() + 1, cl.end() - 1);
                    }
                    PartialShape out{batch, channels};
                    if (keepdims)
                    {
                        out = {batch};
                        if (format == "channels_first")
                            out.push_back(channels);
                        out.insert(out.end(), rank, 1);
                        if (format == "channels_last")
                            out.push_back(channels);
                    }
                    test::run_layer_test(class_of(max, rank),
                                         {{"data_format", format}, {"keepdims", keepdims}}, input, {out, 0}, ++seed);
                }
}

BOOST_AUTO_TEST_CASE(values_are_the_maximum_and_the_mean_per_channel)
{
    // (1, 2, 3) channels_last: steps 0..1, channels 0..2.
    Tensor<double> x = values({1, 2, 3}, {1, -4, 3,  //
                                          5, -2, -1});
    BOOST_TEST(make_layer<double>("GlobalMaxPooling1D")->predict(x) == values({1, 3}, {5, -2, 3}));
    BOOST_TEST(make_layer<double>("GlobalAveragePooling1D")->predict(x) == values({1, 3}, {3, -3, 1}));
    // The same data read channels_first: 2 channels of 3 steps.
    BOOST_TEST(make_layer<double>("GlobalMaxPooling1D", {{"data_format", "channels_first"}})->predict(x) ==
               values({1, 2}, {3, 5}));
    BOOST_TEST(make_layer<double>("GlobalAveragePooling1D", {{"data_format", "channels_first"}, {"keepdims", true}})
                   ->predict(x) == values({1, 2, 1}, {0, 2.0 / 3.0}));

    // 2-D against a direct loop.
    Tensor<double> x2 = test::random_tensor({2, 3, 4, 5}, 2);
    Tensor<double> y_max = make_layer<double>("GlobalMaxPooling2D", {{"data_format", "channels_last"}})->predict(x2);
    Tensor<double> y_avg = make_layer<double>("GlobalAveragePooling2D", {{"data_format", "channels_last"}})->predict(x2);
    for (std::size_t n = 0; n < 2; ++n)
        for (std::size_t c = 0; c < 5; ++c)
        {
            double m = -1e9, s = 0;
            for (std::size_t i = 0; i < 3; ++i)
                for (std::size_t j = 0; j < 4; ++j)
                {
                    m = std::max(m, x2(n, i, j, c));
                    s += x2(n, i, j, c);
                }
            BOOST_TEST(y_max(n, c) == m);
            BOOST_TEST(y_avg(n, c) == s / 12.0, boost::test_tools::tolerance(1e-14));
        }
}

BOOST_AUTO_TEST_CASE(tied_maxima_share_the_gradient)
{
    // TF differentiates reduce_max by splitting the gradient equally among the elements equal to the max.
    auto layer = make_layer<double>("GlobalMaxPooling1D");
    Tensor<double> x = values({1, 4, 2}, {3, 1,  //
                                          1, 1,  //
                                          3, 0,  //
                                          3, 1});
    BOOST_TEST(input_gradient(*layer, x, values({1, 2}, {6, 9})) == values({1, 4, 2}, {2, 3,  //
                                                                                       0, 3,  //
                                                                                       2, 0,  //
                                                                                       2, 3}));
    auto avg = make_layer<double>("GlobalAveragePooling2D", {{"data_format", "channels_first"}});
    BOOST_TEST(input_gradient(*avg, Tensor<double>({1, 1, 2, 2}, 7.0), values({1, 1}, {8})) ==
               Tensor<double>({1, 1, 2, 2}, 2.0));
}

BOOST_AUTO_TEST_CASE(keras_defaults_and_config_keys)
{
    for (bool max : {true, false})
        for (std::size_t rank : {1u, 2u, 3u})
        {
            json c = make_layer(class_of(max, rank))->get_config();
            BOOST_TEST(c["data_format"] == (rank == 1 ? std::string("channels_last") : image_data_format()));
            BOOST_TEST(c["keepdims"] == false);
            BOOST_TEST(c.size() == 5u); // name, trainable, dtype, data_format, keepdims
        }
    // Keras before 2.6 wrote no keepdims.
    const json old = {{"name", "gap"}, {"trainable", true}, {"dtype", "float32"}, {"data_format", "channels_last"}};
    json expected = old;
    expected["keepdims"] = false;
    BOOST_TEST(make_layer("GlobalAveragePooling2D", old)->get_config() == expected);
    BOOST_TEST(make_layer("GlobalAvgPool1D")->class_name() == "GlobalAveragePooling1D");
    BOOST_TEST(make_layer("GlobalMaxPool3D")->class_name() == "GlobalMaxPooling3D");
}

BOOST_AUTO_TEST_CASE(rejects_what_keras_rejects)
{
    BOOST_CHECK_EXCEPTION(make_layer("GlobalMaxPooling2D", {{"data_format", "last"}}), value_error,
                          message_contains({"GlobalMaxPooling2D layer", "data_format", "last"}));
    BOOST_CHECK_EXCEPTION(make_layer("GlobalMaxPooling2D", {{"pool_size", 2}}), value_error,
                          message_contains({"keyword argument not understood", "pool_size"}));
    BOOST_CHECK_EXCEPTION(make_layer("GlobalMaxPooling2D", {{"keepdims", "yes"}}), value_error,
                          message_contains("keepdims"));
    auto layer = make_layer("GlobalAveragePooling3D", {{"name", "gap"}});
    BOOST_CHECK_EXCEPTION(layer->predict(Tensor<float>({1, 2, 2, 2}, 0.f)), shape_error,
                          message_contains({"gap", "expected ndim=5", "found ndim=4"}));
    auto empty = make_layer("GlobalMaxPooling1D", {{"name", "g1"}});
    BOOST_CHECK_EXCEPTION(empty->predict(Tensor<float>({1, 0, 3}, 0.f)), value_error,
                          message_contains({"g1", "dimension 0 at reduction axis 1"}));
}

BOOST_AUTO_TEST_SUITE_END()
