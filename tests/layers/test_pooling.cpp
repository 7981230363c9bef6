// MaxPooling1D/2D/3D and AveragePooling1D/2D/3D: values against a direct definition, TF's padding split and
// divisors, tie handling, gradients over a grid, configs and errors.
#include "support/checks.hpp"
#include "support/gradcheck.hpp"
#include "support/layer_harness.hpp"

#include <boost/test/unit_test.hpp>

#include <cmath>

using namespace xk;
using xk::test::message_contains;

namespace
{
    /// Output extent by Keras's rule, spelled independently of the library.
    long expected_extent(long n, long k, long s, const std::string& padding)
    {
        if (padding == "valid")
            return n >= k ? (n - k) / s + 1 : 0;
        return (n + s - 1) / s;
    }

    /// Pooling straight from its definition on channels_last data: TF's "same" puts the smaller half of
    /// the padding first, padded positions are skipped (max) or not counted (average).
    Tensor<double> reference_pool(const Tensor<double>& x, std::size_t rank, const std::vector<long>& k,
                                  const std::vector<long>& s, const std::string& padding, bool max)
    {
        const std::size_t N = x.shape()[0], C = x.shape()[rank + 1];
        std::vector<long> in(rank), out(rank), before(rank);
        Shape y_shape{N};
        for (std::size_t a = 0; a < rank; ++a)
        {
            in[a] = long(x.shape()[1 + a]);
            out[a] = expected_extent(in[a], k[a], s[a], padding);
            before[a] = padding == "same" ? std::max((out[a] - 1) * s[a] + k[a] - in[a], 0L) / 2 : 0;
            y_shape.push_back(std::size_t(out[a]));
        }
        y_shape.push_back(C);
        Tensor<double> y(y_shape, 0.0);
        const std::size_t out_pixels = shape_size(Shape(y_shape.begin() + 1, y_shape.end() - 1));
        const std::size_t taps = shape_size(Shape(k.begin(), k.end()));
        std::vector<long> o(rank), t(rank);
        for (std::size_t n = 0; n < N; ++n)
            for (std::size_t p = 0; p < out_pixels; ++p)
            {
                for (long a = long(rank) - 1, r = long(p); a >= 0; --a)
                {
                    o[a] = r % out[a];
                    r /= out[a];
                }
                for (std::size_t c = 0; c < C; ++c)
                {
                    double acc = max ? -INFINITY : 0.0;
                    std::size_t count = 0;
                    for (std::size_t tap = 0; tap < taps; ++tap)
                    {
                        for (long a = long(rank) - 1, r = long(tap); a >= 0; --a)
                        {
                            t[a] = r % k[a];
                            r /= k[a];
                        }
                        std::size_t offset = n;
                        bool inside = true;
                        for (std::size_t a = 0; a < rank; ++a)
                        {
                            long i = o[a] * s[a] - before[a] + t[a];
                            inside = inside && i >= 0 && i < in[a];
                            offset = offset * std::size_t(in[a]) + std::size_t(std::max(i, 0L));
                        }
                        if (!inside)
                            continue;
                        const double v = x.data()[offset * C + c];
                        acc = max ? std::max(acc, v) : acc + v;
                        ++count;
                    }
                    y.data()[(n * out_pixels + p) * C + c] = max ? acc : acc / double(count);
                }
            }
        return y;
    }

    struct PoolCase
    {
        std::size_t rank;
        Shape input; // channels_last
        std::vector<long> pool, strides;
        std::string padding;
    };

    std::vector<PoolCase> grid()
    {
        return {
            {1, {2, 9, 3}, {2}, {2}, "valid"},
            {1, {2, 9, 3}, {3}, {1}, "same"},
            {1, {2, 8, 2}, {3}, {2}, "same"},
            {1, {1, 7, 2}, {4}, {3}, "valid"},
            {2, {2, 6, 7, 3}, {2, 2}, {2, 2}, "valid"},
            {2, {2, 5, 7, 2}, {3, 2}, {1, 2}, "same"},
            {2, {1, 7, 6, 2}, {3, 3}, {2, 2}, "same"},
            {2, {2, 5, 5, 1}, {2, 3}, {3, 1}, "valid"},
            {3, {1, 4, 5, 6, 2}, {2, 2, 2}, {2, 2, 2}, "valid"},
            {3, {2, 5, 4, 3, 2}, {3, 2, 2}, {2, 1, 2}, "same"},
        };
    }

    Shape in_format(const Shape& channels_last, const std::string& data_format)
    {
        if (data_format == "channels_last")
            return channels_last;
        Shape s{channels_last[0], channels_last.back()};
        s.insert(s.end(), channels_last.begin() + 1, channels_last.end() - 1);
        return s;
    }

    std::string class_of(bool max, std::size_t rank)
    {
        return (max ? "MaxPooling" : "AveragePooling") + std::to_string(rank) + "D";
    }

    json config_of(const PoolCase& c, const std::string& data_format)
    {
        return {{"pool_size", c.pool}, {"strides", c.strides}, {"padding", c.padding}, {"data_format", data_format}};
    }

    /// Input gradient of sum(y * upstream) through the tape.
    Tensor<double> input_gradient(BasicLayer<double>& layer, const Tensor<double>& x, const Tensor<double>& upstream)
    {
        BasicTape<double> tape;
        BasicVariable<double> input(x, true);
        auto y = layer.call(tape, input);
        tape.backward(y, upstream);
        return input.grad();
    }

    Tensor<double> values(const Shape& shape, std::vector<double> v)
    {
        Tensor<double> t = Tensor<double>::from_shape(shape);
        BOOST_REQUIRE(v.size() == t.size());
        std::copy(v.begin(), v.end(), t.data());
        return t;
    }
}

BOOST_AUTO_TEST_SUITE(pooling)

BOOST_AUTO_TEST_CASE(forward_matches_the_definition)
{
    for (bool max : {true, false})
        for (const auto& c : grid())
            BOOST_TEST_CONTEXT(class_of(max, c.rank) << " " << config_of(c, "channels_last").dump())
            {
                auto layer = make_layer<double>(class_of(max, c.rank), config_of(c, "channels_last"));
                Tensor<double> x = test::random_tensor(c.input, 5);
                std::string why;
                BOOST_TEST(test::close_to_scale(layer->predict(x),
                                                reference_pool(x, c.rank, c.pool, c.strides, c.padding, max), 1e-14,
                                                &why),
                           why);
            }
}

BOOST_AUTO_TEST_CASE(gradients_shapes_and_configs_over_the_grid)
{
    std::uint64_t seed = 0;
    for (bool max : {true, false})
        for (const auto& c : grid())
            for (const std::string format : {"channels_last", "channels_first"})
            {
                PartialShape out{long(c.input[0])};
                if (format == "channels_first")
                    out.push_back(long(c.input.back()));
                for (std::size_t a = 0; a < c.rank; ++a)
                    out.push_back(expected_extent(long(c.input[1 + a]), c.pool[a], c.strides[a], c.padding));
                if (format == "channels_last")
                    out.push_back(long(c.input.back()));
                test::run_layer_test(class_of(max, c.rank), config_of(c, format), in_format(c.input, format),
                                     {out, 0}, ++seed);
            }
}

BOOST_AUTO_TEST_CASE(channels_first_equals_channels_last_transposed)
{
    for (bool max : {true, false})
    {
        const json config = {{"pool_size", {3, 2}}, {"strides", {2, 1}}, {"padding", "same"}};
        auto last = make_layer<double>(class_of(max, 2), config);
        json first_config = config;
        first_config["data_format"] = "channels_first";
        auto first = make_layer<double>(class_of(max, 2), first_config);
        Tensor<double> x = test::random_tensor({2, 5, 6, 3}, 9);
        Tensor<double> y_first = first->predict(Tensor<double>(xt::transpose(x, {0, 3, 1, 2})));
        std::string why;
        BOOST_TEST(test::close_to_scale(Tensor<double>(xt::transpose(y_first, {0, 2, 3, 1})), last->predict(x), 1e-15,
                                        &why),
                   why);
    }
}

BOOST_AUTO_TEST_CASE(max_gradient_goes_to_the_first_maximum_of_each_window)
{
    // Ties inside a window: TF's MaxPoolGrad keeps the earliest position in row-major window order.
    auto layer = make_layer<double>("MaxPooling2D", {{"pool_size", 2}, {"data_format", "channels_last"}});
    Tensor<double> x = values({1, 2, 4, 1}, {1, 3, 5, 5,  //
                                             3, 2, 5, 5});
    BOOST_TEST(layer->predict(x) == values({1, 1, 2, 1}, {3, 5}));
    BOOST_TEST(input_gradient(*layer, x, values({1, 1, 2, 1}, {10, 20})) == values({1, 2, 4, 1}, {0, 10, 20, 0,  //
                                                                                                   0, 0, 0, 0}));

    // Overlapping windows (stride 1) each pick their own first maximum; a shared one accumulates.
    auto overlap = make_layer<double>("MaxPooling1D", {{"pool_size", 3}, {"strides", 1}});
    Tensor<double> x1 = values({1, 5, 1}, {2, 7, 7, 1, 7});
    BOOST_TEST(overlap->predict(x1) == values({1, 3, 1}, {7, 7, 7}));
    BOOST_TEST(input_gradient(*overlap, x1, values({1, 3, 1}, {1, 10, 100})) == values({1, 5, 1}, {0, 11, 100, 0, 0}));

    // 3-D: the first maximum in (depth, row, column) order.
    auto cube = make_layer<double>("MaxPooling3D", {{"pool_size", 2}, {"data_format", "channels_last"}});
    Tensor<double> x3 = values({1, 2, 2, 2, 1}, {0, 1, 4, 4, 4, 2, 4, 3});
    BOOST_TEST(input_gradient(*cube, x3, values({1, 1, 1, 1, 1}, {1})) == values({1, 2, 2, 2, 1}, {0, 0, 1, 0, 0, 0, 0, 0}));
}

BOOST_AUTO_TEST_CASE(same_padding_is_split_as_tensorflow_splits_it)
{
    // n=5, pool 2, stride 1: one padded position, after the input (the smaller half, 0, goes first).
    auto max = make_layer<double>("MaxPooling1D", {{"pool_size", 2}, {"strides", 1}, {"padding", "same"}});
    BOOST_TEST(max->predict(values({1, 5, 1}, {1, 5, 2, 4, 3})) == values({1, 5, 1}, {5, 5, 4, 4, 3}));
    // Max pooling pads with -inf: negative inputs are never replaced by a padded 0.
    BOOST_TEST(max->predict(values({1, 5, 1}, {-1, -5, -2, -4, -3})) == values({1, 5, 1}, {-1, -2, -2, -3, -3}));

    // n=5, pool 4, stride 1: three padded positions, one before and two after.
    auto wide = make_layer<double>("MaxPooling1D", {{"pool_size", 4}, {"strides", 1}, {"padding", "same"}});
    BOOST_TEST(wide->predict(values({1, 5, 1}, {9, 1, 2, 3, 8})) == values({1, 5, 1}, {9, 9, 8, 8, 8}));
}

BOOST_AUTO_TEST_CASE(same_average_divides_by_the_valid_elements)
{
    // n=5, pool 3, stride 1: one padded position on each side; the border windows hold two elements.
    auto avg1 = make_layer<double>("AveragePooling1D", {{"pool_size", 3}, {"strides", 1}, {"padding", "same"}});
    Tensor<double> x1 = values({1, 5, 1}, {1, 2, 3, 4, 5});
    BOOST_TEST(avg1->predict(x1) == values({1, 5, 1}, {1.5, 2, 3, 4, 4.5}));
    // Each input gets 1/count from every window that holds it.
    const double third = 1.0 / 3.0;
    std::string why;
    BOOST_TEST(test::close_to_scale(input_gradient(*avg1, x1, Tensor<double>({1, 5, 1}, 1.0)),
                                    values({1, 5, 1}, {0.5 + third, 0.5 + 2 * third, 1, 0.5 + 2 * third, 0.5 + third}),
                                    1e-15, &why),
               why);

    // 3x3 image, pool 2, stride 2: padding only after, windows of 4, 2, 2 and 1 valid elements.
    auto avg2 = make_layer<double>("AveragePooling2D", {{"padding", "same"}, {"data_format", "channels_last"}});
    Tensor<double> x2 = values({1, 3, 3, 1}, {1, 2, 3,  //
                                              4, 5, 6,  //
                                              7, 8, 9});
    BOOST_TEST(avg2->predict(x2) == values({1, 2, 2, 1}, {3, 4.5, 7.5, 9}));
    BOOST_TEST(input_gradient(*avg2, x2, Tensor<double>({1, 2, 2, 1}, 1.0)) ==
               values({1, 3, 3, 1}, {0.25, 0.25, 0.5,  //
                                     0.25, 0.25, 0.5,  //
                                     0.5, 0.5, 1}));
}

BOOST_AUTO_TEST_CASE(float_layers_give_the_same_numbers)
{
    auto layer = make_layer<float>("AveragePooling2D", {{"pool_size", 3}, {"strides", 2}, {"padding", "same"},
                                                        {"data_format", "channels_first"}});
    Tensor<double> x = test::random_tensor({2, 3, 7, 8}, 4);
    auto twin = make_layer<double>("AveragePooling2D", layer->get_config());
    std::string why;
    BOOST_TEST(test::close_to_scale(layer->predict(tensor_cast<float>(x)), twin->predict(x), 1e-6, &why), why);
}

BOOST_AUTO_TEST_CASE(keras_defaults_and_config_keys)
{
    for (bool max : {true, false})
        for (std::size_t rank : {1u, 2u, 3u})
        {
            json c = make_layer(class_of(max, rank))->get_config();
            BOOST_TEST(c["pool_size"] == json(std::vector<long>(rank, 2)));
            BOOST_TEST(c["strides"] == json(std::vector<long>(rank, 2))); // strides=None means pool_size
            BOOST_TEST(c["padding"] == "valid");
            BOOST_TEST(c["data_format"] == (rank == 1 ? std::string("channels_last") : image_data_format()));
            for (const char* key : {"name", "trainable", "dtype", "pool_size", "strides", "padding", "data_format"})
                BOOST_TEST(c.contains(key), key);
            BOOST_TEST(c.size() == 7u);
        }
    BOOST_TEST(make_layer("MaxPooling2D", {{"pool_size", 3}})->get_config()["strides"] == json({3, 3}));
    BOOST_TEST(make_layer("MaxPooling2D", {{"pool_size", 3}, {"strides", nullptr}})->get_config()["strides"] == json({3, 3}));
    BOOST_TEST(make_layer("AveragePooling1D", {{"padding", "SAME"}})->get_config()["padding"] == "same");
    BOOST_TEST(make_layer("MaxPooling1D", {{"data_format", nullptr}})->get_config()["data_format"] == image_data_format());

    // A tf.keras 2.x config (dl4j-tfkeras cnn2d files) survives the round trip unchanged.
    const json saved = {{"name", "max_pooling2d_56"}, {"trainable", true}, {"dtype", "float32"}, {"pool_size", {2, 2}},
                        {"padding", "valid"}, {"strides", {2, 2}}, {"data_format", "channels_last"}};
    BOOST_TEST(make_layer("MaxPooling2D", saved)->get_config() == saved);
    BOOST_TEST(make_layer("MaxPool2D", saved)->class_name() == "MaxPooling2D");
    BOOST_TEST(make_layer("AvgPool3D")->class_name() == "AveragePooling3D");

    reset_layer_names();
    BOOST_TEST(make_layer("MaxPooling2D")->name() == "max_pooling2d");
    BOOST_TEST(make_layer("AveragePooling1D")->name() == "average_pooling1d");
}

BOOST_AUTO_TEST_CASE(rejects_what_keras_rejects)
{
    auto throws = [](const char* cls, const json& config, std::initializer_list<std::string> fragments) {
        BOOST_CHECK_EXCEPTION(make_layer(cls, config), value_error, message_contains(fragments));
    };
    throws("MaxPooling2D", {{"name", "p"}, {"pool_size", 0}}, {"MaxPooling2D layer 'p'", "pool_size", "Received pool_size=0"});
    throws("MaxPooling2D", {{"pool_size", {2, 2, 2}}}, {"pool_size", "tuple of 2"});
    throws("AveragePooling3D", {{"strides", {1, 0, 1}}}, {"strides", "[1,0,1]"});
    throws("AveragePooling1D", {{"padding", "causal"}}, {"padding", "causal"});
    throws("MaxPooling1D", {{"padding", "full"}}, {"padding", "full"});
    throws("MaxPooling2D", {{"data_format", "NHWC"}}, {"data_format", "NHWC"});
    throws("MaxPooling2D", {{"kernel_size", 2}}, {"keyword argument not understood", "kernel_size"});

    auto layer = make_layer("MaxPooling2D", {{"name", "pool"}, {"data_format", "channels_last"}});
    BOOST_CHECK_EXCEPTION(layer->predict(Tensor<float>({1, 4, 4}, 0.f)), shape_error,
                          message_contains({"pool", "expected ndim=4", "found ndim=3"}));
    auto big = make_layer("MaxPooling2D", {{"name", "big"}, {"pool_size", 5}, {"data_format", "channels_last"}});
    BOOST_CHECK_EXCEPTION(big->predict(Tensor<float>({1, 4, 4, 1}, 0.f)), value_error,
                          message_contains({"big", "zero or negative"}));
    // "same" never runs out of input.
    auto same = make_layer("MaxPooling2D", {{"pool_size", 5}, {"padding", "same"}, {"data_format", "channels_last"}});
    BOOST_TEST(shape_of(same->predict(Tensor<float>({1, 4, 4, 1}, 0.f))) == Shape({1, 1, 1, 1}));
}

BOOST_AUTO_TEST_SUITE_END()
