// Weight constraints against hand-computed Keras formulas (norms over `axis`, epsilon 1e-7), their configs
// and identifier forms.
#include "framework/keras/constraints.hpp"
#include "support/checks.hpp"

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <map>

namespace
{
    using xk::Constraint;
    using xk::json;
    using xk::Tensor;

    const double eps = 1e-7;

    json spec(const std::string& name, json config)
    {
        return {{"class_name", name}, {"config", std::move(config)}};
    }

    template <class T>
    void check_close(const Tensor<T>& got, const Tensor<double>& expected, double tolerance)
    {
        std::string why;
        BOOST_TEST(xk::test::close_to_scale(got, expected, tolerance, &why), why);
    }
}

BOOST_AUTO_TEST_SUITE(constraints)

BOOST_AUTO_TEST_CASE(max_norm_rescales_columns_above_the_limit)
{
    // Column norms 5 and sqrt(0.05): only the first exceeds 2.
    Tensor<double> w{{3.0, 0.1}, {4.0, 0.2}};
    Constraint::max_norm(2.0).apply(w);
    const double small = std::sqrt(0.05), keep = small / (eps + small);
    check_close(w, Tensor<double>{{3 * 2 / (eps + 5), 0.1 * keep}, {4 * 2 / (eps + 5), 0.2 * keep}}, 1e-14);
}

BOOST_AUTO_TEST_CASE(max_norm_along_rows)
{
    Tensor<double> w{{3.0, 4.0}, {0.6, 0.8}};
    Constraint::max_norm(2.0, {1}).apply(w);
    check_close(w, Tensor<double>{{3 * 2 / (eps + 5), 4 * 2 / (eps + 5)}, {0.6 / (eps + 1), 0.8 / (eps + 1)}}, 1e-14);
}

BOOST_AUTO_TEST_CASE(max_norm_in_float)
{
    Tensor<float> w{{3.0f, 0.5f}, {4.0f, 0.0f}};
    Constraint::max_norm(1.0).apply(w);
    BOOST_TEST(w(0, 0) == 0.6f, boost::test_tools::tolerance(1e-6f));
    BOOST_TEST(w(1, 0) == 0.8f, boost::test_tools::tolerance(1e-6f));
    BOOST_TEST(w(0, 1) == 0.5f, boost::test_tools::tolerance(1e-6f));
    BOOST_TEST(w(1, 1) == 0.0f);
}

BOOST_AUTO_TEST_CASE(unit_norm_with_negative_axis)
{
    // axis -1 of a matrix is its rows; an all-zero row stays zero thanks to epsilon.
    Tensor<double> w{{3.0, 4.0}, {0.0, 0.0}, {-1.0, 0.0}};
    Constraint::unit_norm({-1}).apply(w);
    check_close(w, Tensor<double>{{3 / (eps + 5), 4 / (eps + 5)}, {0.0, 0.0}, {-1 / (eps + 1), 0.0}}, 1e-14);
}

BOOST_AUTO_TEST_CASE(min_max_norm_moves_norms_into_range_at_rate)
{
    // Column norms 0.5, 1.5, 5 with range [1, 2] and rate 0.5: desired 0.75, 1.5, 3.5.
    Tensor<double> w{{0.3, 0.9, 3.0}, {0.4, 1.2, 4.0}};
    Constraint::min_max_norm(1.0, 2.0, 0.5).apply(w);
    const double f0 = 0.75 / (eps + 0.5), f1 = 1.5 / (eps + 1.5), f2 = 3.5 / (eps + 5);
    check_close(w, Tensor<double>{{0.3 * f0, 0.9 * f1, 3 * f2}, {0.4 * f0, 1.2 * f1, 4 * f2}}, 1e-14);

    // Keras's clip raises a max below the min to the min: range [1, 0.5] acts as [1, 1].
    Tensor<double> v{0.3, 0.4};
    Constraint::min_max_norm(1.0, 0.5, 1.0).apply(v);
    check_close(v, Tensor<double>{0.3 / (eps + 0.5), 0.4 / (eps + 0.5)}, 1e-14);
}

BOOST_AUTO_TEST_CASE(non_neg_zeroes_negative_weights)
{
    Tensor<double> w{-1.0, 0.0, 2.0, -0.5, std::nan("")};
    Constraint::non_neg().apply(w);
    BOOST_TEST(w(0) == 0.0);
    BOOST_TEST(w(1) == 0.0);
    BOOST_TEST(w(2) == 2.0);
    BOOST_TEST(w(3) == 0.0);
    BOOST_TEST(std::isnan(w(4)), "w * (w >= 0) keeps a NaN");
    Tensor<float> f{{-3.0f, 3.0f}};
    Constraint::non_neg().apply(f);
    BOOST_TEST(f(0, 0) == 0.0f);
    BOOST_TEST(f(0, 1) == 3.0f);
}

BOOST_AUTO_TEST_CASE(conv_kernel_filters_are_constrained_whole)
{
    // (rows, cols, in, out) = (2, 2, 2, 3); filter k is filled with c_k, so its norm is c_k * sqrt(8).
    const double c[3] = {0.1, 1.0, 2.0};
    Tensor<double> kernel = xk::zeros<double>({2, 2, 2, 3});
    for (std::size_t i = 0; i < kernel.size(); ++i)
        kernel.data()[i] = c[i % 3];
    const double root8 = std::sqrt(8.0);

    for (std::vector<long> axis : {std::vector<long>{0, 1, 2}, std::vector<long>{-4, -3, -2}})
    {
        Tensor<double> w = kernel;
        Constraint::max_norm(1.5, axis).apply(w);
        Tensor<double> expected = kernel;
        for (std::size_t i = 0; i < expected.size(); ++i)
        {
            double norm = c[i % 3] * root8;
            expected.data()[i] *= std::min(norm, 1.5) / (eps + norm);
        }
        check_close(w, expected, 1e-14);

        Tensor<double> u = kernel;
        Constraint::unit_norm(axis).apply(u);
        for (std::size_t i = 0; i < u.size(); ++i)
            BOOST_TEST(std::abs(u.data()[i] - c[i % 3] / (eps + c[i % 3] * root8)) < 1e-14);
    }
    Tensor<float> f = xk::tensor_cast<float>(kernel);
    Constraint::unit_norm({0, 1, 2}).apply(f);
    for (std::size_t i = 0; i < f.size(); ++i)
        BOOST_TEST(std::abs(f.data()[i] - 1 / root8) < 1e-6);
}

BOOST_AUTO_TEST_CASE(configs_have_keras_keys)
{
    BOOST_TEST(Constraint::max_norm().get_config() == json({{"max_value", 2}, {"axis", 0}}));
    BOOST_TEST(Constraint::non_neg().get_config() == json::object());
    BOOST_TEST(Constraint::unit_norm().get_config() == json({{"axis", 0}}));
    BOOST_TEST(Constraint::min_max_norm().get_config() ==
               json({{"min_value", 0.0}, {"max_value", 1.0}, {"rate", 1.0}, {"axis", 0}}));
    BOOST_TEST(Constraint::max_norm(3, {0, 1, 2}).get_config() == json({{"max_value", 3}, {"axis", {0, 1, 2}}}));
    BOOST_TEST(Constraint::max_norm().class_name() == "MaxNorm");
    BOOST_TEST(Constraint::non_neg().class_name() == "NonNeg");
    BOOST_TEST(Constraint::unit_norm().class_name() == "UnitNorm");
    BOOST_TEST(Constraint::min_max_norm().class_name() == "MinMaxNorm");
    BOOST_TEST(xk::serialize(Constraint::unit_norm({1})) ==
               json({{"class_name", "UnitNorm"}, {"config", {{"axis", 1}}}}));
    BOOST_TEST(xk::serialize(std::optional<Constraint>()).is_null());
}

BOOST_AUTO_TEST_CASE(configs_round_trip)
{
    const std::vector<json> specs{
        spec("MaxNorm", {{"max_value", 3.0}, {"axis", 1}}),
        spec("MaxNorm", {{"max_value", 2.0}, {"axis", {0, 1, 2}}}),
        spec("MaxNorm", {{"max_value", 2.0}, {"axis", {0}}}), // a one-element list stays a list
        spec("NonNeg", json::object()),
        spec("UnitNorm", {{"axis", -1}}),
        spec("MinMaxNorm", {{"min_value", 0.5}, {"max_value", 4.0}, {"rate", 0.25}, {"axis", {0, 1}}}),
    };
    for (const json& s : specs)
    {
        auto c = xk::get_constraint(s);
        BOOST_REQUIRE(c);
        BOOST_TEST(xk::serialize(c) == s, s.dump());
        BOOST_TEST(xk::serialize(xk::get_constraint(xk::serialize(c))) == s, s.dump());
    }
    // Defaults from a string or an empty config.
    BOOST_TEST(xk::get_constraint("max_norm")->get_config() == json({{"max_value", 2}, {"axis", 0}}));
    BOOST_TEST(xk::get_constraint(json{{"class_name", "MinMaxNorm"}})->get_config() ==
               Constraint::min_max_norm().get_config());
    BOOST_TEST(!xk::get_constraint(nullptr));
}

BOOST_AUTO_TEST_CASE(string_aliases)
{
    const std::map<std::string, std::string> aliases{
        {"MaxNorm", "MaxNorm"},       {"max_norm", "MaxNorm"},         {"maxnorm", "MaxNorm"},
        {"NonNeg", "NonNeg"},         {"non_neg", "NonNeg"},           {"nonneg", "NonNeg"},
        {"UnitNorm", "UnitNorm"},     {"unit_norm", "UnitNorm"},       {"unitnorm", "UnitNorm"},
        {"MinMaxNorm", "MinMaxNorm"}, {"min_max_norm", "MinMaxNorm"}};
    for (const auto& [alias, cls] : aliases)
    {
        BOOST_TEST(xk::get_constraint(alias)->class_name() == cls, alias);
        BOOST_TEST(xk::get_constraint(spec(alias, json::object()))->class_name() == cls, alias);
    }
}

BOOST_AUTO_TEST_CASE(bad_axes_and_identifiers_raise_keras_errors)
{
    using xk::test::message_contains;
    Tensor<double> w = xk::full<double>({2, 3}, 1.0);
    BOOST_CHECK_EXCEPTION(Constraint::max_norm(2.0, {2}).apply(w), xk::value_error,
                          message_contains({"`axis`", "MaxNorm", "2 is out of range", "rank 2", "(2, 3)"}));
    BOOST_CHECK_EXCEPTION(Constraint::unit_norm({-3}).apply(w), xk::value_error,
                          message_contains({"UnitNorm", "-3"}));
    BOOST_CHECK_EXCEPTION(Constraint::min_max_norm(0, 1, 1, {0, -2}).apply(w), xk::value_error,
                          message_contains("listed twice"));
    Tensor<double> scalar = xk::full<double>({}, 1.0);
    BOOST_CHECK_EXCEPTION(Constraint::max_norm().apply(scalar), xk::value_error, message_contains("rank 0"));
    // An out-of-range axis is caught before anything changes.
    BOOST_TEST((w == xk::full<double>({2, 3}, 1.0)));

    BOOST_CHECK_EXCEPTION(xk::get_constraint("max"), xk::value_error,
                          message_contains({"Unknown constraint", "'max'", "max_norm"}));
    BOOST_CHECK_EXCEPTION(xk::get_constraint("radial_constraint"), xk::value_error,
                          message_contains("'radial_constraint'"));
    BOOST_CHECK_EXCEPTION(xk::get_constraint(spec("MaxNorm", {{"m", 2}})), xk::value_error,
                          message_contains({"MaxNorm", "'m'"}));
    BOOST_CHECK_EXCEPTION(xk::get_constraint(spec("NonNeg", {{"axis", 0}})), xk::value_error,
                          message_contains({"NonNeg", "'axis'"}));
    BOOST_CHECK_EXCEPTION(xk::get_constraint(spec("UnitNorm", {{"axis", "rows"}})), xk::value_error,
                          message_contains({"`axis`", "\"rows\""}));
    BOOST_CHECK_EXCEPTION(xk::get_constraint(spec("MaxNorm", {{"max_value", "2"}})), xk::value_error,
                          message_contains("`max_value`"));
    BOOST_CHECK_EXCEPTION(xk::get_constraint(1), xk::value_error,
                          message_contains("Could not interpret constraint identifier: 1"));
}

BOOST_AUTO_TEST_SUITE_END()
