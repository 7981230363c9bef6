// Accuracy metrics: Keras's documented examples, ties, top-k boundaries, the "accuracy" resolution of
// compile(), and the running mean weighted by batch size.
#include "framework/training/metrics.hpp"
#include "support/checks.hpp"

#include <boost/test/unit_test.hpp>

#include <cmath>

using namespace xk;
using test::message_contains;
using TD = Tensor<double>;
namespace tt = boost::test_tools;

namespace
{
    std::vector<double> values(const TD& t)
    {
        return std::vector<double>(t.begin(), t.end());
    }

    /// A (n, 1) tensor (a braced list of one-element rows is ambiguous for xtensor).
    TD column(std::initializer_list<double> v)
    {
        TD out = TD::from_shape({v.size(), 1});
        std::copy(v.begin(), v.end(), out.begin());
        return out;
    }

    double mean_of(const TD& t)
    {
        Mean m;
        m.update_state(t);
        return m.result();
    }
}

BOOST_AUTO_TEST_SUITE(metric_functions)

BOOST_AUTO_TEST_CASE(binary_accuracy)
{
    // Keras's docstring: 0.75.
    const TD y_true = column({1.0, 1.0, 0.0, 0.0}), y_pred = column({0.98, 1.0, 0.0, 0.6});
    TD per_sample = metrics::binary_accuracy(y_true, y_pred);
    BOOST_TEST(per_sample.shape() == (TD::shape_type{4}), tt::per_element());
    BOOST_TEST(mean_of(per_sample) == 0.75);
    // Strictly above the threshold.
    BOOST_TEST(metrics::binary_accuracy(column({0.0}), column({0.5}))(0) == 1.0);
    BOOST_TEST(metrics::binary_accuracy(column({1.0}), column({0.5}))(0) == 0.0);
    BOOST_TEST(metrics::binary_accuracy(column({1.0}), column({0.6}), 0.7)(0) == 0.0);
    // Several outputs: the mean over the last axis per sample.
    const std::vector<double> want{1.0, 0.5};
    BOOST_TEST(values(metrics::binary_accuracy(TD{{1.0, 0.0}, {0.0, 0.0}}, TD{{0.7, 0.2}, {0.6, 0.1}})) == want,
               tt::per_element());
}

BOOST_AUTO_TEST_CASE(categorical_and_sparse_accuracy)
{
    // Keras's docstrings: 0.5 each.
    const TD y_true = {{0.0, 0.0, 1.0}, {0.0, 1.0, 0.0}}, y_pred = {{0.1, 0.9, 0.8}, {0.05, 0.95, 0.0}};
    const std::vector<double> want{0.0, 1.0};
    BOOST_TEST(values(metrics::categorical_accuracy(y_true, y_pred)) == want, tt::per_element());
    BOOST_TEST(values(metrics::sparse_categorical_accuracy(column({2.0, 1.0}),
                                                           TD{{0.1, 0.6, 0.3}, {0.05, 0.95, 0.0}})) == want,
               tt::per_element());
    BOOST_TEST(values(metrics::sparse_categorical_accuracy(TD{2.0, 1.0}, TD{{0.1, 0.6, 0.3}, {0.05, 0.95, 0.0}})) ==
                   want,
               tt::per_element());
    // Ties: argmax takes the first maximum.
    const std::vector<double> tie{1.0, 0.0};
    BOOST_TEST(values(metrics::categorical_accuracy(TD{{1.0, 0.0, 0.0}, {0.0, 1.0, 0.0}},
                                                    TD{{0.5, 0.5, 0.0}, {0.5, 0.5, 0.0}})) == tie,
               tt::per_element());
    BOOST_TEST(values(metrics::sparse_categorical_accuracy(TD{0.0, 1.0}, TD{{0.5, 0.5, 0.0}, {0.5, 0.5, 0.0}})) == tie,
               tt::per_element());
    // Exact equality (keras.metrics.Accuracy's docstring: 0.75).
    BOOST_TEST(mean_of(metrics::accuracy(column({1.0, 2.0, 3.0, 4.0}), column({0.0, 2.0, 3.0, 4.0}))) == 0.75);
    // Spatial outputs: one value per position.
    TD seg_true({2, 2, 2, 3}, 0.0), seg_pred({2, 2, 2, 3}, 0.0);
    for (std::size_t r = 0; r < 8; ++r)
    {
        seg_true.data()[r * 3 + r % 3] = 1;
        seg_pred.data()[r * 3 + (r < 6 ? r % 3 : (r + 1) % 3)] = 1;
    }
    TD seg = metrics::categorical_accuracy(seg_true, seg_pred);
    BOOST_TEST(seg.shape() == (TD::shape_type{2, 2, 2}), tt::per_element());
    BOOST_TEST(mean_of(seg) == 0.75);
    BOOST_CHECK_EXCEPTION(metrics::categorical_accuracy(TD({2, 3}, 0.0), TD({2, 4}, 0.0)), shape_error,
                          message_contains({"categorical_accuracy", "(2, 3)", "(2, 4)"}));
}

BOOST_AUTO_TEST_CASE(top_k)
{
    const TD y_true = {{0.0, 0.0, 1.0}, {0.0, 1.0, 0.0}}, y_pred = {{0.1, 0.9, 0.8}, {0.05, 0.95, 0.0}};
    BOOST_TEST(values(metrics::top_k_categorical_accuracy(y_true, y_pred, 1)) == (std::vector<double>{0.0, 1.0}),
               tt::per_element());
    BOOST_TEST(values(metrics::top_k_categorical_accuracy(y_true, y_pred, 2)) == (std::vector<double>{1.0, 1.0}),
               tt::per_element());
    BOOST_TEST(values(metrics::top_k_categorical_accuracy(y_true, y_pred)) == (std::vector<double>{1.0, 1.0}),
               tt::per_element()); // k = 5 > classes
    BOOST_TEST(values(metrics::sparse_top_k_categorical_accuracy(TD{2.0, 1.0}, y_pred, 1)) ==
                   (std::vector<double>{0.0, 1.0}),
               tt::per_element());
    // Tied scores straddling the boundary all count as in the top k.
    const TD tied = {{0.5, 0.5, 0.1}};
    BOOST_TEST(metrics::sparse_top_k_categorical_accuracy(TD{0.0}, tied, 1)(0) == 1.0);
    BOOST_TEST(metrics::sparse_top_k_categorical_accuracy(TD{1.0}, tied, 1)(0) == 1.0);
    BOOST_TEST(metrics::sparse_top_k_categorical_accuracy(TD{2.0}, tied, 2)(0) == 0.0);
    BOOST_TEST(metrics::sparse_top_k_categorical_accuracy(TD{2.0}, tied, 3)(0) == 1.0);
    // A non-finite score or a label out of range is a miss.
    BOOST_TEST(metrics::sparse_top_k_categorical_accuracy(TD{0.0}, TD{{0.9, NAN, 0.1}}, 3)(0) == 0.0);
    BOOST_TEST(metrics::sparse_top_k_categorical_accuracy(TD{5.0}, tied, 3)(0) == 0.0);
    // float works the same.
    Tensor<float> fp = {{0.2f, 0.7f, 0.1f}};
    BOOST_TEST(metrics::sparse_top_k_categorical_accuracy(Tensor<float>{0.0f}, fp, 2)(0) == 1.0f);
}

BOOST_AUTO_TEST_CASE(resolving_accuracy_like_compile)
{
    BOOST_TEST(metrics::resolve_accuracy({4}, {4, 1}) == "binary_accuracy");
    BOOST_TEST(metrics::resolve_accuracy({4, 1}, {4, 1}) == "binary_accuracy");
    BOOST_TEST(metrics::resolve_accuracy({4}, {4, 3}) == "sparse_categorical_accuracy");
    BOOST_TEST(metrics::resolve_accuracy({4, 1}, {4, 3}) == "sparse_categorical_accuracy");
    BOOST_TEST(metrics::resolve_accuracy({2, 5, 5}, {2, 5, 5, 3}) == "sparse_categorical_accuracy");
    BOOST_TEST(metrics::resolve_accuracy({4, 3}, {4, 3}) == "categorical_accuracy");
    BOOST_CHECK_EXCEPTION(metrics::resolve_accuracy({}, {4}), shape_error, message_contains("at least one axis"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(running_metrics)

BOOST_AUTO_TEST_CASE(mean_is_weighted_by_samples)
{
    Mean m("loss");
    m.update_state(TD{1.0, 0.0, 1.0, 1.0});
    BOOST_TEST(m.result() == 0.75);
    m.update_state(0.0, 4.0); // a batch of 4 with mean 0
    BOOST_TEST(m.result() == 0.375);
    BOOST_TEST(m.count() == 8.0);
    m.reset_state();
    BOOST_TEST(m.result() == 0.0);
    BOOST_TEST(m.get_config() == json({{"name", "loss"}, {"dtype", "float32"}}));
}

BOOST_AUTO_TEST_CASE(metric_over_an_epoch)
{
    Metric acc = get_metric("accuracy");
    BOOST_TEST((acc.kind() == Metric::Kind::AutoAccuracy));
    // Batch of 4 labels, 3 right; then a batch of 2, none right: 3/6, not the mean of 0.75 and 0.
    const TD p1 = {{0.8, 0.1, 0.1}, {0.1, 0.8, 0.1}, {0.1, 0.1, 0.8}, {0.8, 0.1, 0.1}};
    BOOST_TEST(acc.update_state(TD{0.0, 1.0, 2.0, 2.0}, p1) == 0.75);
    BOOST_TEST((acc.kind() == Metric::Kind::SparseCategoricalAccuracy));
    BOOST_TEST(acc.update_state(TD{1.0, 1.0}, TD{{0.9, 0.1, 0.0}, {0.2, 0.3, 0.5}}) == 0.0);
    BOOST_TEST(acc.result() == 0.5);
    BOOST_TEST(acc.name() == "accuracy");
    BOOST_TEST(serialize(acc) == json("accuracy"));
    acc.reset_state();
    BOOST_TEST(acc.result() == 0.0);

    // (batch,) targets with (batch, 1) outputs: binary, one value per sample.
    Metric bin = get_metric("acc");
    BOOST_TEST(bin.update_state(TD{1.0, 0.0, 1.0}, column({0.9, 0.2, 0.3})) == 2.0 / 3, tt::tolerance(1e-12));
    BOOST_TEST((bin.kind() == Metric::Kind::BinaryAccuracy));
    BOOST_TEST(bin.mean().count() == 3.0);
    BOOST_TEST(bin.name() == "acc");

    Metric cat = get_metric("categorical_accuracy");
    Tensor<float> yt = {{0.f, 1.f}, {1.f, 0.f}}, yp = {{0.3f, 0.7f}, {0.4f, 0.6f}};
    BOOST_TEST(cat.update_state(yt, yp) == 0.5);
}

BOOST_AUTO_TEST_CASE(identifiers_and_configs)
{
    BOOST_TEST(get_metric("BinaryAccuracy").get_config() ==
               json({{"name", "binary_accuracy"}, {"dtype", "float32"}, {"threshold", 0.5}}));
    BOOST_TEST(get_metric("SparseTopKCategoricalAccuracy").get_config() ==
               json({{"name", "sparse_top_k_categorical_accuracy"}, {"dtype", "float32"}, {"k", 5}}));
    BOOST_TEST(get_metric("CategoricalAccuracy").get_config() ==
               json({{"name", "categorical_accuracy"}, {"dtype", "float32"}}));
    json top3 = {{"class_name", "TopKCategoricalAccuracy"},
                 {"config", {{"name", "top3"}, {"dtype", "float32"}, {"k", 3}}}};
    Metric m = get_metric(top3);
    BOOST_TEST(m.k() == 3);
    BOOST_TEST(m.name() == "top3");
    BOOST_TEST(serialize(m) == top3);
    BOOST_TEST(serialize(get_metric("sparse_top_k_categorical_accuracy")) == json("sparse_top_k_categorical_accuracy"));
    // The class "Accuracy" is exact equality, not compile()'s resolution.
    BOOST_TEST((get_metric("Accuracy").kind() == Metric::Kind::Accuracy));
    BOOST_TEST(get_metric({{"class_name", "BinaryAccuracy"}, {"config", {{"threshold", 0.7}}}}).threshold() == 0.7);

    BOOST_CHECK_EXCEPTION(get_metric("f1_score"), value_error, message_contains({"Unknown metric", "f1_score"}));
    BOOST_CHECK_EXCEPTION(get_metric({{"class_name", "TopKCategoricalAccuracy"}, {"config", {{"k", 0}}}}), value_error,
                          message_contains("`k`"));
    BOOST_CHECK_EXCEPTION(get_metric({{"class_name", "CategoricalAccuracy"}, {"config", {{"k", 2}}}}), value_error,
                          message_contains("unexpected keyword argument 'k'"));
}

BOOST_AUTO_TEST_SUITE_END()
