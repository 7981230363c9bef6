// Learning-rate schedules: values at several steps (by the formulas), staircase, the boundaries of
// PiecewiseConstantDecay, configs and errors.
#include "optim/schedules.hpp"
#include "support/checks.hpp"

#include <boost/test/unit_test.hpp>

#include <cmath>

using namespace xk;
using test::message_contains;
namespace tt = boost::test_tools;

BOOST_AUTO_TEST_SUITE(learning_rate_schedules)

BOOST_AUTO_TEST_CASE(exponential_decay_values)
{
    ExponentialDecay smooth(0.1, 10, 0.5);
    ExponentialDecay stairs(0.1, 10, 0.5, true);
    for (std::int64_t step : {0, 1, 5, 9, 10, 15, 20, 1000})
    {
        const double p = double(step) / 10;
        BOOST_TEST(smooth(step) == 0.1 * std::pow(0.5, p), tt::tolerance(1e-6));
        BOOST_TEST(stairs(step) == 0.1 * std::pow(0.5, std::floor(p)), tt::tolerance(1e-6));
    }
    BOOST_TEST(stairs(9) == 0.1f);
    BOOST_TEST(stairs(10) == 0.05f);
}

BOOST_AUTO_TEST_CASE(piecewise_constant_boundaries)
{
    // values[0] up to and including boundaries[0], values[1] up to and including boundaries[1], ...
    PiecewiseConstantDecay s({10, 20}, {1.0, 0.5, 0.1});
    const std::vector<std::pair<std::int64_t, float>> expected{{0, 1.0f},  {10, 1.0f}, {11, 0.5f},
                                                               {20, 0.5f}, {21, 0.1f}, {100000, 0.1f}};
    for (const auto& [step, value] : expected)
        BOOST_TEST(s(step) == value, "step " << step);
    PiecewiseConstantDecay single({5}, {0.3, 0.2});
    BOOST_TEST(single(5) == 0.3f);
    BOOST_TEST(single(6) == 0.2f);
}

BOOST_AUTO_TEST_CASE(configs_round_trip)
{
    json exp_config = {{"initial_learning_rate", 0.1},
                       {"decay_steps", 100000},
                       {"decay_rate", 0.96},
                       {"staircase", true},
                       {"name", nullptr}};
    SchedulePtr e = get_schedule({{"class_name", "ExponentialDecay"}, {"config", exp_config}});
    BOOST_TEST(e->get_config() == exp_config);
    BOOST_TEST(serialize(*e) == json({{"class_name", "ExponentialDecay"}, {"config", exp_config}}));
    // Defaults fill in staircase and name.
    BOOST_TEST(ExponentialDecay(0.1, 10, 0.5).get_config()["staircase"] == false);
    BOOST_TEST(ExponentialDecay(0.1, 10, 0.5).get_config()["name"].is_null());

    // Keras >= 2.13 adds module and registered_name around the config: ignored.
    json pw_config = {{"boundaries", {100000, 110000}}, {"values", {1.0, 0.5, 0.1}}, {"name", "steps"}};
    SchedulePtr p = get_schedule({{"module", "keras.optimizers.schedules"},
                                  {"class_name", "PiecewiseConstantDecay"},
                                  {"config", pw_config},
                                  {"registered_name", nullptr}});
    BOOST_TEST(p->get_config() == pw_config);
    BOOST_TEST(get_schedule(serialize(*p))->get_config() == pw_config);
    BOOST_TEST((*p)(110001) == 0.1f);
}

BOOST_AUTO_TEST_CASE(errors)
{
    BOOST_CHECK_EXCEPTION(PiecewiseConstantDecay({10, 20}, {1.0, 0.5}), value_error,
                          message_contains("The length of boundaries should be 1 less than the length of values"));
    BOOST_CHECK_EXCEPTION(PiecewiseConstantDecay({20, 10}, {1.0, 0.5, 0.1}), value_error,
                          message_contains("strictly increasing"));
    BOOST_CHECK_EXCEPTION(ExponentialDecay(0.1, 0, 0.5), value_error, message_contains("decay_steps"));
    BOOST_CHECK_EXCEPTION(get_schedule({{"class_name", "ExponentialDecay"}, {"config", {{"decay_steps", 1}}}}),
                          value_error, message_contains({"missing the required argument", "initial_learning_rate"}));
    BOOST_CHECK_EXCEPTION(get_schedule({{"class_name", "CosineDecay"}, {"config", json::object()}}), value_error,
                          message_contains({"Unknown learning rate schedule", "CosineDecay"}));
    BOOST_CHECK_EXCEPTION(
        get_schedule(
            {{"class_name", "ExponentialDecay"},
             {"config", {{"initial_learning_rate", 0.1}, {"decay_steps", 1}, {"decay_rate", 0.5}, {"cycle", true}}}}),
        value_error, message_contains("unexpected keyword argument 'cycle'"));
    BOOST_CHECK_EXCEPTION(get_schedule("ExponentialDecay"), value_error, message_contains("Could not interpret"));
}

BOOST_AUTO_TEST_SUITE_END()
