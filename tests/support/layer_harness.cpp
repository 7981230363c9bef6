#include "support/layer_harness.hpp"
#include "support/checks.hpp"
#include "support/gradcheck.hpp"

#include <boost/test/unit_test.hpp>

namespace xk::test
{
    void run_layer_test(const std::string& class_name, const json& config, const Shape& input_shape,
                        const LayerExpectation& expected, std::uint64_t seed)
    {
        BOOST_TEST_CONTEXT(class_name << " " << config.dump() << " on " << shape_str(input_shape))
        {
            auto layer = make_layer<double>(class_name, config);

            // Config round trip (before and after build).
            const json saved = layer->get_config();
            auto twin = make_layer<double>(class_name, saved);
            BOOST_TEST(twin->get_config() == saved, "config round trip changed " << saved.dump() << " into "
                                                                              << twin->get_config().dump());

            const Tensor<double> x = random_tensor(input_shape, seed + 11);
            PartialShape in(input_shape.begin(), input_shape.end());
            BOOST_TEST(layer->compute_output_shape(in) == expected.output_shape,
                       "compute_output_shape " << shape_str(layer->compute_output_shape(in)) << " expected "
                                               << shape_str(expected.output_shape));
            Tensor<double> y = layer->predict(x);
            Shape want(expected.output_shape.begin(), expected.output_shape.end());
            BOOST_TEST(shape_of(y) == want, "output shape " << shape_str(shape_of(y)) << " expected " << shape_str(want));
            BOOST_TEST(layer->weights().size() == expected.weight_count);
            BOOST_TEST(layer->get_config() == saved, "building changed the config");

            // The float layer with the same weights computes the same numbers.
            auto single = make_layer<float>(class_name, layer->get_config());
            single->build(in);
            auto dw = layer->weights();
            auto fw = single->weights();
            BOOST_REQUIRE(dw.size() == fw.size());
            for (std::size_t i = 0; i < dw.size(); ++i)
            {
                BOOST_TEST(dw[i]->name == fw[i]->name);
                fw[i]->variable.value() = tensor_cast<float>(dw[i]->variable.value());
            }
            std::string why;
            BOOST_TEST(close_to_scale(single->predict(tensor_cast<float>(x)), y, 1e-5, &why), why);

            // Every entry of the input and of each trainable weight is compared: a test that checks nothing
            // (or skips a weight) fails.
            std::size_t entries = x.size();
            for (const auto* w : layer->trainable_weights())
                entries += w->variable.value().size();
            auto report = check_layer_gradients(*layer, x, seed);
            BOOST_TEST(report.ok, report.summary());
            BOOST_TEST(report.checked > 0u, "the gradient check compared nothing");
            BOOST_TEST(report.checked == entries, "the gradient check compared " << report.checked << " entries of the "
                                                                                 << entries << " of the input and the trainable weights");
        }
    }
}
