// Initializers against tf.keras 2.x's formulas: sample statistics on large draws, exact values for the
// deterministic ones, and the config/identifier forms Keras accepts.
#include "framework/keras/initializers.hpp"
#include "framework/engine/random.hpp"
#include "support/checks.hpp"

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <map>
#include <set>

namespace
{
    using xk::json;
    using xk::Shape;
    using xk::Tensor;

    // 73,728 draws, a conv kernel with fan_in 576 and fan_out 1152.
    const Shape big_kernel{3, 3, 64, 128};
    const double big_fan_in = 3 * 3 * 64, big_fan_out = 3 * 3 * 128;

    struct Moments
    {
        double mean = 0, variance = 0, min = INFINITY, max = -INFINITY;
    };

    Moments moments(const Tensor<double>& t)
    {
        Moments m;
        for (double v : t)
        {
            m.mean += v;
            m.min = std::min(m.min, v);
            m.max = std::max(m.max, v);
        }
        m.mean /= double(t.size());
        for (double v : t)
            m.variance += (v - m.mean) * (v - m.mean);
        m.variance /= double(t.size() - 1);
        return m;
    }

    // Mean and variance within five standard errors (the variance's error bound is the normal one, the widest
    // of the distributions tested here).
    void check_moments(const Tensor<double>& t, double mean, double variance, const std::string& what)
    {
        Moments m = moments(t);
        double n = double(t.size());
        BOOST_TEST(std::abs(m.mean - mean) <= 5 * std::sqrt(variance / n),
                   what << ": mean " << m.mean << ", expected " << mean);
        BOOST_TEST(std::abs(m.variance - variance) <= 5 * variance * std::sqrt(2 / n),
                   what << ": variance " << m.variance << ", expected " << variance);
    }

    // Variance of a unit normal truncated to [-2, 2], from the normal density and distribution function.
    double truncated_unit_variance()
    {
        const double pi = std::acos(-1.0);
        double density = std::exp(-2.0) / std::sqrt(2 * pi);
        double mass = std::erf(2.0 / std::sqrt(2.0));
        return 1.0 - 2 * 2.0 * density / mass;
    }

    json spec(const std::string& name, json config)
    {
        return {{"class_name", name}, {"config", std::move(config)}};
    }

    xk::InitializerPtr make(const std::string& name, json config = json::object())
    {
        return xk::get_initializer(spec(name, std::move(config)));
    }

    double max_abs(const Tensor<double>& t)
    {
        double out = 0;
        for (double v : t)
            out = std::max(out, std::abs(v));
        return out;
    }

    // The (rows, cols) matrix an n-d kernel is flattened to by Orthogonal: all leading dims times the last.
    std::vector<std::vector<double>> gram(const Tensor<double>& t, bool of_columns)
    {
        std::size_t cols = t.shape().back(), rows = t.size() / cols;
        std::size_t n = of_columns ? cols : rows;
        std::vector<std::vector<double>> g(n, std::vector<double>(n, 0.0));
        const double* d = t.data();
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t j = 0; j < n; ++j)
            {
                double s = 0;
                if (of_columns)
                    for (std::size_t r = 0; r < rows; ++r)
                        s += d[r * cols + i] * d[r * cols + j];
                else
                    for (std::size_t c = 0; c < cols; ++c)
                        s += d[i * cols + c] * d[j * cols + c];
                g[i][j] = s;
            }
        return g;
    }

    // Keras's class names and their exact get_config keys.
    const std::map<std::string, std::set<std::string>> keras_config_keys{
        {"Zeros", {}},
        {"Ones", {}},
        {"Constant", {"value"}},
        {"RandomNormal", {"mean", "stddev", "seed"}},
        {"RandomUniform", {"minval", "maxval", "seed"}},
        {"TruncatedNormal", {"mean", "stddev", "seed"}},
        {"VarianceScaling", {"scale", "mode", "distribution", "seed"}},
        {"Orthogonal", {"gain", "seed"}},
        {"Identity", {"gain"}},
        {"GlorotNormal", {"seed"}},
        {"GlorotUniform", {"seed"}},
        {"HeNormal", {"seed"}},
        {"HeUniform", {"seed"}},
        {"LecunNormal", {"seed"}},
        {"LecunUniform", {"seed"}},
    };

    std::set<std::string> keys_of(const json& config)
    {
        std::set<std::string> out;
        for (auto it = config.begin(); it != config.end(); ++it)
            out.insert(it.key());
        return out;
    }
}

BOOST_AUTO_TEST_SUITE(initializers)

BOOST_AUTO_TEST_CASE(fans_follow_keras_for_every_rank)
{
    struct Case
    {
        Shape shape;
        double fan_in, fan_out;
    };
    for (const Case& c : {Case{{}, 1, 1}, Case{{7}, 7, 7}, Case{{3, 4}, 3, 4}, Case{{2, 3, 4}, 2 * 3, 2 * 4},
                          Case{{2, 3, 4, 5}, 6 * 4, 6 * 5}, Case{{2, 3, 4, 5, 6}, 24 * 5, 24 * 6}})
    {
        xk::Fans fans = xk::compute_fans(c.shape);
        BOOST_TEST(fans.fan_in == c.fan_in, xk::shape_str(c.shape));
        BOOST_TEST(fans.fan_out == c.fan_out, xk::shape_str(c.shape));
    }
}

BOOST_AUTO_TEST_CASE(constant_initializers_fill_their_value)
{
    Tensor<double> z = (*make("Zeros"))({2, 3});
    Tensor<double> o = (*make("Ones"))({2, 3});
    Tensor<double> c = (*make("Constant", {{"value", 3.5}}))({2, 3});
    BOOST_TEST(xk::shape_of(z) == (Shape{2, 3}));
    for (std::size_t i = 0; i < 6; ++i)
    {
        BOOST_TEST(z.data()[i] == 0.0);
        BOOST_TEST(o.data()[i] == 1.0);
        BOOST_TEST(c.data()[i] == 3.5);
    }
    BOOST_TEST(make("Constant")->get_config() == json({{"value", 0}}));
    Tensor<double> scalar = (*make("Constant", {{"value", -2}}))({});
    BOOST_TEST(scalar.size() == 1u);
    BOOST_TEST(scalar() == -2.0);
}

BOOST_AUTO_TEST_CASE(random_normal_matches_mean_and_stddev)
{
    Tensor<double> t = (*make("RandomNormal", {{"mean", 1.0}, {"stddev", 2.0}, {"seed", 3}}))(big_kernel);
    BOOST_TEST(xk::shape_of(t) == big_kernel);
    check_moments(t, 1.0, 4.0, "RandomNormal");
    // Untruncated: about 4.6% of draws lie beyond two standard deviations.
    BOOST_TEST(moments(t).max > 1.0 + 2 * 2.0);

    Moments d = moments((*make("RandomNormal", {{"seed", 4}}))(big_kernel));
    BOOST_TEST(std::abs(d.variance - 0.05 * 0.05) <= 5 * 0.0025 * std::sqrt(2 / 73728.0));
}

BOOST_AUTO_TEST_CASE(random_uniform_matches_bounds_and_moments)
{
    Tensor<double> t = (*make("RandomUniform", {{"minval", -1.0}, {"maxval", 3.0}, {"seed", 5}}))(big_kernel);
    check_moments(t, 1.0, 16.0 / 12.0, "RandomUniform");
    Moments m = moments(t);
    BOOST_TEST(m.min >= -1.0);
    BOOST_TEST(m.max < 3.0);
    BOOST_TEST(m.min < -0.99);
    BOOST_TEST(m.max > 2.99);

    Moments d = moments((*make("random_uniform"))(big_kernel));
    BOOST_TEST(d.min >= -0.05);
    BOOST_TEST(d.max < 0.05);

    // TensorFlow computes minval + (maxval - minval) * u without checking the order, and so does Keras.
    Moments r = moments((*make("RandomUniform", {{"minval", 1.0}, {"maxval", -1.0}, {"seed", 1}}))({1000}));
    BOOST_TEST(r.min > -1.0);
    BOOST_TEST(r.max <= 1.0);
}

BOOST_AUTO_TEST_CASE(truncated_normal_cuts_at_two_stddev)
{
    const double mean = 0.5, stddev = 2.0;
    Tensor<double> t = (*make("TruncatedNormal", {{"mean", mean}, {"stddev", stddev}, {"seed", 6}}))(big_kernel);
    check_moments(t, mean, stddev * stddev * truncated_unit_variance(), "TruncatedNormal");
    Moments m = moments(t);
    BOOST_TEST(m.min >= mean - 2 * stddev);
    BOOST_TEST(m.max <= mean + 2 * stddev);
    // The cut is at two stddev, not narrower.
    BOOST_TEST(m.min < mean - 1.95 * stddev);
    BOOST_TEST(m.max > mean + 1.95 * stddev);
}

BOOST_AUTO_TEST_CASE(variance_scaling_gives_scale_over_fan_variance)
{
    const double truncated_stddev = std::sqrt(truncated_unit_variance());
    const std::map<std::string, double> fan{
        {"fan_in", big_fan_in}, {"fan_out", big_fan_out}, {"fan_avg", (big_fan_in + big_fan_out) / 2}};
    int seed = 10;
    for (double scale : {0.5, 2.0})
        for (const auto& [mode, n] : fan)
            for (std::string distribution : {"truncated_normal", "untruncated_normal", "uniform", "normal"})
            {
                auto init = make("VarianceScaling",
                                 {{"scale", scale}, {"mode", mode}, {"distribution", distribution}, {"seed", seed++}});
                Tensor<double> t = (*init)(big_kernel);
                std::string what = "VarianceScaling " + mode + " " + distribution + " scale " + std::to_string(scale);
                double variance = scale / n;
                check_moments(t, 0.0, variance, what);
                double stddev = std::sqrt(variance);
                if (distribution == "uniform")
                {
                    BOOST_TEST(max_abs(t) <= std::sqrt(3 * variance), what);
                    BOOST_TEST(max_abs(t) > 0.99 * std::sqrt(3 * variance), what);
                }
                else if (distribution == "untruncated_normal")
                    BOOST_TEST(max_abs(t) > 2 * stddev / truncated_stddev, what);
                else
                {
                    BOOST_TEST(max_abs(t) <= 2 * stddev / truncated_stddev, what);
                    BOOST_TEST(max_abs(t) > 1.9 * stddev / truncated_stddev, what);
                }
            }
    // "normal" is keras-team/keras's name for the truncated normal; distribution is case-insensitive.
    BOOST_TEST(make("VarianceScaling", {{"distribution", "normal"}})->get_config()["distribution"] ==
               "truncated_normal");
    BOOST_TEST(make("VarianceScaling", {{"distribution", "Uniform"}})->get_config()["distribution"] == "uniform");
}

BOOST_AUTO_TEST_CASE(variance_scaling_small_shapes)
{
    // A scalar has fans (1, 1): uniform in [-sqrt(3 scale), sqrt(3 scale)].
    auto init = make("VarianceScaling", {{"scale", 3.0}, {"distribution", "uniform"}, {"seed", 1}});
    Tensor<double> s = (*init)({});
    BOOST_TEST(s.size() == 1u);
    BOOST_TEST(std::abs(s()) <= 3.0);
    // A zero fan is clamped to 1 rather than dividing by zero.
    Tensor<double> empty = (*init)({0, 4});
    BOOST_TEST(empty.size() == 0u);
}

BOOST_AUTO_TEST_CASE(named_variance_scaling_presets)
{
    struct Preset
    {
        std::string name;
        double variance;
        bool uniform;
    };
    const double avg = (big_fan_in + big_fan_out) / 2;
    const double truncated_stddev = std::sqrt(truncated_unit_variance());
    int seed = 100;
    for (const Preset& p : {Preset{"glorot_uniform", 1 / avg, true}, Preset{"glorot_normal", 1 / avg, false},
                            Preset{"he_uniform", 2 / big_fan_in, true}, Preset{"he_normal", 2 / big_fan_in, false},
                            Preset{"lecun_uniform", 1 / big_fan_in, true},
                            Preset{"lecun_normal", 1 / big_fan_in, false}})
    {
        Tensor<double> t = (*make(p.name, {{"seed", seed++}}))(big_kernel);
        check_moments(t, 0.0, p.variance, p.name);
        double bound = p.uniform ? std::sqrt(3 * p.variance) : 2 * std::sqrt(p.variance) / truncated_stddev;
        BOOST_TEST(max_abs(t) <= bound, p.name);
        BOOST_TEST(max_abs(t) > 0.95 * bound, p.name);
    }
    // Glorot uniform's textbook limit sqrt(6 / (fan_in + fan_out)) on a dense kernel.
    Tensor<double> g = (*make("GlorotUniform", {{"seed", 1}}))({300, 100});
    BOOST_TEST(max_abs(g) <= std::sqrt(6.0 / 400));
    BOOST_TEST(max_abs(g) > 0.99 * std::sqrt(6.0 / 400));
}

BOOST_AUTO_TEST_CASE(orthogonal_is_orthonormal_times_gain)
{
    const double gain = 1.5;
    for (const Shape& shape : {Shape{64, 32}, Shape{32, 64}, Shape{16, 16}, Shape{3, 3, 16, 32}, Shape{5, 1}})
    {
        Tensor<double> t = (*make("Orthogonal", {{"gain", gain}, {"seed", 9}}))(shape);
        BOOST_TEST(xk::shape_of(t) == shape);
        std::size_t cols = shape.back(), rows = t.size() / cols;
        auto g = gram(t, rows >= cols);
        double worst = 0;
        for (std::size_t i = 0; i < g.size(); ++i)
            for (std::size_t j = 0; j < g.size(); ++j)
                worst = std::max(worst, std::abs(g[i][j] - (i == j ? gain * gain : 0.0)));
        BOOST_TEST(worst < 1e-10, xk::shape_str(shape) << ": worst deviation from gain^2 I " << worst);
    }
    BOOST_CHECK_EXCEPTION((*make("Orthogonal"))({8}), xk::value_error,
                          xk::test::message_contains({"at least two-dimensional", "(8,)", "rank 1"}));
}

BOOST_AUTO_TEST_CASE(orthogonal_is_the_sign_corrected_q_of_a_normal_draw)
{
    // Keras draws the (max, min)-shaped matrix A with the same generator as RandomNormal(0, 1, seed), then
    // takes Q of A = QR with R's diagonal made positive: so Q^T A must be upper triangular, positive diagonal.
    for (const Shape& shape : {Shape{12, 5}, Shape{5, 12}})
    {
        const std::size_t tall = 12, wide = 5;
        Tensor<double> a = (*make("RandomNormal", {{"mean", 0.0}, {"stddev", 1.0}, {"seed", 21}}))({tall, wide});
        Tensor<double> t = (*make("Orthogonal", {{"seed", 21}}))(shape);
        auto q = [&](std::size_t i, std::size_t j) { return shape[0] == tall ? t(i, j) : t(j, i); };
        for (std::size_t i = 0; i < wide; ++i)
            for (std::size_t j = 0; j < wide; ++j)
            {
                double r = 0;
                for (std::size_t k = 0; k < tall; ++k)
                    r += q(k, i) * a(k, j);
                if (i > j)
                    BOOST_TEST(std::abs(r) < 1e-10, xk::shape_str(shape) << " R(" << i << "," << j << ")=" << r);
                if (i == j)
                    BOOST_TEST(r > 0.0, xk::shape_str(shape) << " R(" << i << "," << i << ")=" << r);
            }
    }
}

BOOST_AUTO_TEST_CASE(identity_is_gain_times_eye)
{
    Tensor<double> t = (*make("Identity", {{"gain", 2.0}}))({3, 5});
    for (std::size_t i = 0; i < 3; ++i)
        for (std::size_t j = 0; j < 5; ++j)
            BOOST_TEST(t(i, j) == (i == j ? 2.0 : 0.0));
    Tensor<double> square = (*make("identity"))({4, 4});
    for (std::size_t i = 0; i < 4; ++i)
        for (std::size_t j = 0; j < 4; ++j)
            BOOST_TEST(square(i, j) == (i == j ? 1.0 : 0.0));
    BOOST_CHECK_EXCEPTION((*make("Identity"))({3, 3, 3}), xk::value_error,
                          xk::test::message_contains({"2D matrices", "(3, 3, 3)", "rank 3"}));
    BOOST_CHECK_EXCEPTION((*make("Identity"))({3}), xk::value_error, xk::test::message_contains("rank 1"));
}

BOOST_AUTO_TEST_CASE(seeded_initializers_repeat_and_seeds_differ)
{
    for (const auto& [name, keys] : keras_config_keys)
    {
        if (!keys.count("seed"))
            continue;
        auto a = make(name, {{"seed", 42}});
        auto b = make(name, {{"seed", 42}});
        auto c = make(name, {{"seed", 43}});
        Tensor<double> first = (*a)({6, 7});
        BOOST_TEST((first == (*a)({6, 7})), name << ": a seeded initializer repeats at every call");
        BOOST_TEST((first == (*b)({6, 7})), name << ": same seed, same values");
        BOOST_TEST((first != (*c)({6, 7})), name << ": another seed, other values");
    }
}

BOOST_AUTO_TEST_CASE(unseeded_initializers_follow_the_global_seed)
{
    auto init = make("GlorotUniform");
    xk::set_random_seed(123);
    Tensor<double> first = (*init)({4, 4});
    Tensor<double> second = (*init)({4, 4});
    BOOST_TEST((first != second), "an unseeded initializer draws anew at every call");
    xk::set_random_seed(123);
    BOOST_TEST((first == (*init)({4, 4})), "set_random_seed makes the draws reproducible");
}

BOOST_AUTO_TEST_CASE(aliases_resolve_to_keras_classes)
{
    const std::map<std::string, std::string> aliases{
        {"zeros", "Zeros"},
        {"zero", "Zeros"},
        {"ones", "Ones"},
        {"one", "Ones"},
        {"constant", "Constant"},
        {"random_normal", "RandomNormal"},
        {"normal", "RandomNormal"},
        {"random_uniform", "RandomUniform"},
        {"uniform", "RandomUniform"},
        {"truncated_normal", "TruncatedNormal"},
        {"variance_scaling", "VarianceScaling"},
        {"orthogonal", "Orthogonal"},
        {"identity", "Identity"},
        {"glorot_normal", "GlorotNormal"},
        {"glorot_uniform", "GlorotUniform"},
        {"he_normal", "HeNormal"},
        {"he_uniform", "HeUniform"},
        {"lecun_normal", "LecunNormal"},
        {"lecun_uniform", "LecunUniform"},
        {"GlorotUniformV2", "GlorotUniform"},
        {"glorot_uniformV2", "GlorotUniform"},
        {"ZerosV2", "Zeros"},
    };
    for (const auto& [alias, cls] : aliases)
    {
        BOOST_TEST(xk::get_initializer(alias)->class_name() == cls, alias);
        BOOST_TEST(make(alias)->class_name() == cls, alias);
    }
    for (const auto& entry : keras_config_keys)
        BOOST_TEST(xk::get_initializer(entry.first)->class_name() == entry.first);
}

BOOST_AUTO_TEST_CASE(every_registered_name_round_trips)
{
    std::set<std::string> seen;
    for (const std::string& name : xk::initializer_registry().names())
    {
        auto init = xk::get_initializer(name);
        BOOST_REQUIRE(init);
        json serialized = xk::serialize(init);
        const std::string cls = serialized["class_name"];
        BOOST_REQUIRE_MESSAGE(keras_config_keys.count(cls), name << " serializes to unknown class " << cls);
        BOOST_TEST(keys_of(serialized["config"]) == keras_config_keys.at(cls), name);
        bool has_seed = keras_config_keys.at(cls).count("seed") > 0;
        BOOST_TEST(serialized["config"].value("seed", json(1)).is_null() == has_seed,
                   name << ": seed is null when unset");
        BOOST_TEST(xk::serialize(xk::get_initializer(serialized)) == serialized, name);
        seen.insert(cls);
    }
    BOOST_TEST(seen.size() == keras_config_keys.size());
}

BOOST_AUTO_TEST_CASE(configs_round_trip_with_values)
{
    const std::vector<json> specs{
        spec("Constant", {{"value", 0.25}}),
        spec("RandomNormal", {{"mean", 1.0}, {"stddev", 0.5}, {"seed", 7}}),
        spec("RandomUniform", {{"minval", -2.0}, {"maxval", 2.0}, {"seed", 8}}),
        spec("TruncatedNormal", {{"mean", 0.0}, {"stddev", 0.1}, {"seed", 12}}),
        spec("VarianceScaling", {{"scale", 2.0}, {"mode", "fan_out"}, {"distribution", "uniform"}, {"seed", 3}}),
        spec("Orthogonal", {{"gain", 2.0}, {"seed", 4}}),
        spec("Identity", {{"gain", 0.5}}),
        spec("HeNormal", {{"seed", 11}}),
    };
    for (const json& s : specs)
    {
        auto init = xk::get_initializer(s);
        BOOST_TEST(xk::serialize(init) == s, s.dump());
        auto again = xk::get_initializer(xk::serialize(init));
        BOOST_TEST(((*init)({5, 4}) == (*again)({5, 4})), s.dump());
    }
    // Keras's defaults, from a missing, empty or null config; an old config's "dtype" is dropped.
    BOOST_TEST(make("RandomUniform")->get_config() == json({{"minval", -0.05}, {"maxval", 0.05}, {"seed", nullptr}}));
    BOOST_TEST(xk::get_initializer(json{{"class_name", "RandomNormal"}})->get_config() ==
               json({{"mean", 0.0}, {"stddev", 0.05}, {"seed", nullptr}}));
    BOOST_TEST(xk::get_initializer(json{{"class_name", "VarianceScaling"}, {"config", nullptr}})->get_config() ==
               json({{"scale", 1.0}, {"mode", "fan_in"}, {"distribution", "truncated_normal"}, {"seed", nullptr}}));
    BOOST_TEST(make("Orthogonal", {{"dtype", "float32"}})->get_config() == json({{"gain", 1.0}, {"seed", nullptr}}));
    BOOST_TEST(make("GlorotUniform")->get_config() == json({{"seed", nullptr}}));
    BOOST_TEST(make("Zeros")->get_config() == json::object());
}

BOOST_AUTO_TEST_CASE(null_identifier_gives_no_initializer)
{
    BOOST_TEST(!xk::get_initializer(nullptr));
    BOOST_TEST(xk::serialize(xk::InitializerPtr()).is_null());
}

BOOST_AUTO_TEST_CASE(bad_identifiers_and_arguments_raise_keras_errors)
{
    using xk::test::message_contains;
    BOOST_CHECK_EXCEPTION(xk::get_initializer("glorot_unifrom"), xk::value_error,
                          message_contains({"Unknown initializer", "'glorot_unifrom'", "glorot_uniform"}));
    BOOST_CHECK_EXCEPTION(make("Glorot"), xk::value_error, message_contains("'Glorot'"));
    BOOST_CHECK_EXCEPTION(make("RandomNormal", {{"stdev", 1.0}}), xk::value_error,
                          message_contains({"RandomNormal", "'stdev'", "stddev"}));
    BOOST_CHECK_EXCEPTION(make("GlorotUniform", {{"scale", 2.0}}), xk::value_error,
                          message_contains({"GlorotUniform", "'scale'"}));
    BOOST_CHECK_EXCEPTION(make("VarianceScaling", {{"scale", -1.0}}), xk::value_error,
                          message_contains({"`scale`", "positive", "scale=-1"}));
    BOOST_CHECK_EXCEPTION(make("VarianceScaling", {{"scale", 0.0}}), xk::value_error, message_contains("scale=0"));
    BOOST_CHECK_EXCEPTION(make("VarianceScaling", {{"mode", "fan_inn"}}), xk::value_error,
                          message_contains({"Invalid value for argument `mode`", "\"fan_avg\"",
                                            "Received: mode=fan_inn"}));
    BOOST_CHECK_EXCEPTION(make("VarianceScaling", {{"distribution", "gamma"}}), xk::value_error,
                          message_contains({"`distribution`", "\"untruncated_normal\"", "distribution=gamma"}));
    BOOST_CHECK_EXCEPTION(make("RandomNormal", {{"stddev", "big"}}), xk::value_error,
                          message_contains({"`stddev`", "\"big\""}));
    BOOST_CHECK_EXCEPTION(make("RandomNormal", {{"seed", 1.5}}), xk::value_error, message_contains("seed=1.5"));
    BOOST_CHECK_EXCEPTION(make("Zeros", json::array()), xk::value_error, message_contains("Zeros"));
    BOOST_CHECK_EXCEPTION(xk::get_initializer(5), xk::value_error,
                          message_contains("Could not interpret initializer identifier: 5"));
    BOOST_CHECK_EXCEPTION(xk::get_initializer(json{{"config", json::object()}}), xk::value_error,
                          message_contains("`class_name`"));
}

BOOST_AUTO_TEST_SUITE_END()
