// The training API on graph models (xk::Model): several inputs as a list of arrays, several outputs with a
// loss each, loss_weights, metrics per output, History keys as Keras names them, and compiled files.
#include "framework/training/model.hpp"
#include "framework/engine/random.hpp"
#include "framework/keras/gradcheck.hpp"
#include "support/checks.hpp"

#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <filesystem>
#include <set>

using namespace xk;
using test::message_contains;
namespace fs = std::filesystem;

namespace
{
    LayerRef dense(long units, const std::string& name, const std::string& activation = "linear")
    {
        return make_layer("Dense", {{"units", units}, {"name", name}, {"activation", activation},
                                    {"kernel_initializer", {{"class_name", "GlorotUniform"}, {"config", {{"seed", 3}}}}}});
    }

    /// One input, two heads: a 2-class softmax ("dense_1") and a regression ("dense_2").
    Model two_headed()
    {
        auto x = Input({4}, "x");
        LayerRef trunk = dense(8, "trunk", "tanh"), cls = dense(2, "dense_1", "softmax"), reg = dense(1, "dense_2");
        auto h = trunk(x);
        return Model({x}, {cls(h), reg(h)}, "two_headed");
    }

    struct Data
    {
        Tensor<float> x, labels, target;
    };

    /// A class given by the sign of the first feature, a target that is the sum of the features.
    Data data(std::size_t n, std::uint64_t seed)
    {
        Rng rng(seed);
        std::normal_distribution<float> normal(0.f, 1.f);
        Data d{Tensor<float>({n, 4}, 0.f), Tensor<float>({n, 2}, 0.f), Tensor<float>({n, 1}, 0.f)};
        for (std::size_t i = 0; i < n; ++i)
        {
            for (std::size_t k = 0; k < 4; ++k)
            {
                d.x(i, k) = normal(rng);
                d.target(i, 0) += d.x(i, k);
            }
            d.labels(i, d.x(i, 0) > 0 ? 1 : 0) = 1.f;
        }
        return d;
    }

    FitOptions quiet(int epochs)
    {
        FitOptions o;
        o.epochs = epochs;
        o.verbose = 0;
        o.batch_size = 16;
        return o;
    }

    const double* log_value(const Logs& logs, const std::string& key)
    {
        for (const auto& [k, v] : logs)
            if (k == key)
                return &v;
        return nullptr;
    }
}

BOOST_AUTO_TEST_SUITE(model_training)

BOOST_AUTO_TEST_CASE(two_outputs_log_and_record_keras_names)
{
    reset_layer_names();
    set_random_seed(1);
    Model model = two_headed();
    model.compile("adam", json::array({"categorical_crossentropy", "mse"}), json::array({"accuracy"}), nullptr);
    const Data train = data(64, 1), val = data(32, 2);
    FitOptions options = quiet(2);
    options.validation_data = ValidationData({val.x}, {val.labels, val.target});
    History h = model.fit({train.x}, {train.labels, train.target}, options);
    std::set<std::string> keys;
    for (const auto& [k, v] : h.history)
        keys.insert(k);
    // tf.keras 2.x: the total, each output's loss, each output's metric prefixed with the output's name.
    const std::set<std::string> want = {"loss",          "dense_1_loss",     "dense_2_loss",     "dense_1_accuracy",
                                        "dense_2_accuracy", "val_loss",      "val_dense_1_loss", "val_dense_2_loss",
                                        "val_dense_1_accuracy", "val_dense_2_accuracy"};
    BOOST_TEST(keys == want, boost::test_tools::per_element());
    BOOST_TEST(h.history["loss"].size() == 2u);
}

BOOST_AUTO_TEST_CASE(the_loss_is_the_weighted_sum_of_the_outputs_losses)
{
    reset_layer_names();
    Model model = two_headed();
    // Losses and weights by output name, as a dict.
    model.compile("sgd", {{"dense_2", "mse"}, {"dense_1", "categorical_crossentropy"}}, nullptr,
                  {{"dense_1", 0.5}, {"dense_2", 2.0}});
    const Data d = data(40, 3);
    Logs logs = model.evaluate({d.x}, {d.labels, d.target}, 40);
    const double total = *log_value(logs, "loss"), l1 = *log_value(logs, "dense_1_loss"),
                 l2 = *log_value(logs, "dense_2_loss");
    BOOST_TEST(total == 0.5 * l1 + 2.0 * l2, boost::test_tools::tolerance(1e-6));
    // Each output's loss from its prediction, outside the training code.
    Tensors y = model.predict(Tensors{d.x});
    double mse = 0.0, ce = 0.0;
    for (std::size_t i = 0; i < 40; ++i)
    {
        mse += double((y[1](i, 0) - d.target(i, 0)) * (y[1](i, 0) - d.target(i, 0)));
        for (std::size_t c = 0; c < 2; ++c)
            ce -= double(d.labels(i, c)) * std::log(std::max(double(y[0](i, c)), 1e-7));
    }
    BOOST_TEST(l2 == mse / 40, boost::test_tools::tolerance(1e-5));
    BOOST_TEST(l1 == ce / 40, boost::test_tools::tolerance(1e-5));
}

BOOST_AUTO_TEST_CASE(compile_rejects_losses_that_do_not_fit_the_outputs)
{
    reset_layer_names();
    Model model = two_headed();
    BOOST_CHECK_EXCEPTION(model.compile("adam", json::array({"mse"}), nullptr, nullptr), value_error,
                          message_contains({"`loss` has 1 entries but the model has 2 outputs"}));
    BOOST_CHECK_EXCEPTION(model.compile("adam", {{"dense_9", "mse"}, {"dense_1", "mse"}}, nullptr, nullptr), value_error,
                          message_contains({"`loss` names 'dense_9', which is not an output", "dense_1, dense_2"}));
    BOOST_CHECK_EXCEPTION(model.compile("adam", {{"dense_1", "mse"}}, nullptr, nullptr), value_error,
                          message_contains({"`loss` has no entry for output 'dense_2'"}));
    model.compile("adam", "mse");
    const Data d = data(8, 4);
    BOOST_CHECK_EXCEPTION(model.fit({d.x}, {d.labels}, quiet(1)), value_error,
                          message_contains({"expects 2 target array(s) (dense_1, dense_2)", "received 1"}));
    BOOST_CHECK_EXCEPTION(model.fit({d.x, d.x}, {d.labels, d.target}, quiet(1)), value_error,
                          message_contains({"expects 1 input array(s) (x)", "received 2"}));
}

BOOST_AUTO_TEST_CASE(metrics_per_output_as_lists_or_by_name)
{
    reset_layer_names();
    Model model = two_headed();
    model.compile("adam", json::array({"categorical_crossentropy", "mse"}), {{"dense_1", json::array({"accuracy"})}},
                  nullptr);
    const Data d = data(16, 5);
    Logs logs = model.evaluate({d.x}, {d.labels, d.target});
    BOOST_TEST(log_value(logs, "dense_1_accuracy") != nullptr);
    BOOST_TEST(log_value(logs, "dense_2_accuracy") == nullptr);
    model.compile("adam", json::array({"categorical_crossentropy", "mse"}),
                  json::array({json::array(), json::array({"accuracy"})}), nullptr);
    logs = model.evaluate({d.x}, {d.labels, d.target});
    BOOST_TEST(log_value(logs, "dense_1_accuracy") == nullptr);
    BOOST_TEST(log_value(logs, "dense_2_accuracy") != nullptr);
}

BOOST_AUTO_TEST_CASE(a_graph_trains_exactly_as_the_same_sequential)
{
    // The same layers, weights and seed: the functional path and the Sequential path must not differ.
    auto build_sequential = [] {
        Sequential s("chain");
        s.set_input({-1, 4});
        s.add(make_layer("Dense", {{"units", 6}, {"activation", "relu"}, {"name", "a"}}));
        s.add(make_layer("Dense", {{"units", 2}, {"activation", "softmax"}, {"name", "b"}}));
        return s;
    };
    reset_layer_names();
    set_random_seed(7);
    Sequential seq = build_sequential();
    auto x = Input({4}, "x");
    LayerRef a = make_layer("Dense", {{"units", 6}, {"activation", "relu"}, {"name", "a"}});
    LayerRef b = make_layer("Dense", {{"units", 2}, {"activation", "softmax"}, {"name", "b"}});
    Model graph({x}, {b(a(x))});
    BOOST_TEST_REQUIRE(graph.weights().size() == seq.weights().size());
    for (std::size_t i = 0; i < seq.weights().size(); ++i)
        graph.weights()[i]->variable.value() = seq.weights()[i]->variable.value();
    for (Model* m : {static_cast<Model*>(&seq), &graph})
        m->compile("adam", "categorical_crossentropy", {"accuracy"});
    const Data d = data(48, 6);
    set_random_seed(11);
    History hs = seq.fit(d.x, d.labels, quiet(3));
    set_random_seed(11);
    History hg = graph.fit(d.x, d.labels, quiet(3));
    BOOST_TEST(hs.history["loss"] == hg.history["loss"], boost::test_tools::per_element());
    for (std::size_t i = 0; i < seq.weights().size(); ++i)
        BOOST_TEST(seq.weights()[i]->variable.value() == graph.weights()[i]->variable.value());
}

BOOST_AUTO_TEST_CASE(two_inputs_train_from_a_list_of_arrays)
{
    reset_layer_names();
    set_random_seed(2);
    auto a = Input({2}, "a"), b = Input({2}, "b");
    LayerRef da = dense(4, "da", "tanh"), db = dense(4, "db", "tanh"), head = dense(1, "head");
    // Each branch sees one input; the head sees one branch only, so the other branch must still train
    // through its own path: two outputs share nothing but the optimizer.
    Model model({a, b}, {head(da(a)), dense(1, "tail")(db(b))});
    model.compile(json{{"class_name", "Adam"}, {"config", {{"learning_rate", 0.05}}}}, "mse");
    const Data d = data(64, 7);
    Tensor<float> xa = xt::view(d.x, xt::all(), xt::range(0, 2)), xb = xt::view(d.x, xt::all(), xt::range(2, 4));
    // Each head's target is the sum of its own input's features.
    Tensor<float> ya = xt::sum(xa, {1}, xt::keep_dims), yb = xt::sum(xb, {1}, xt::keep_dims);
    const double before = *log_value(model.evaluate({xa, xb}, {ya, yb}), "loss");
    History h = model.fit({xa, xb}, {ya, yb}, quiet(30));
    BOOST_TEST(h.history["loss"].back() < 0.5 * before);
    Tensors p = model.predict({xa, xb});
    BOOST_TEST(p.size() == 2u);
    BOOST_TEST(shape_of(p[1]) == Shape({64, 1}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_compiled_graph_saves_and_loads_with_its_training_state)
{
    reset_layer_names();
    set_random_seed(3);
    const fs::path path = fs::temp_directory_path() / ("xkeras_model_training_" + std::to_string(::getpid()) + ".h5");
    Model model = two_headed();
    model.compile("adam", json::array({"categorical_crossentropy", "mse"}), json::array({"accuracy"}),
                  json::array({1.0, 0.25}));
    const Data d = data(32, 8);
    model.fit({d.x}, {d.labels, d.target}, quiet(1));
    model.save(path.string());
    Model loaded = Model::load(path.string());
    fs::remove(path);
    BOOST_TEST(loaded.class_name() == "Functional");
    BOOST_TEST(loaded.compiled());
    BOOST_TEST(loaded.training_config() == model.training_config());
    BOOST_TEST(loaded.training_config()["loss_weights"] == json::array({1.0, 0.25}));
    Logs a = model.evaluate({d.x}, {d.labels, d.target}), b = loaded.evaluate({d.x}, {d.labels, d.target});
    BOOST_TEST_REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i)
    {
        BOOST_TEST(a[i].first == b[i].first);
        BOOST_TEST(a[i].second == b[i].second, boost::test_tools::tolerance(1e-6));
    }
    // The optimizer's state came back: one more step from each gives the same weights.
    model.train_on_batch({d.x}, {d.labels, d.target});
    loaded.train_on_batch({d.x}, {d.labels, d.target});
    for (std::size_t i = 0; i < model.weights().size(); ++i)
        BOOST_TEST(test::close_to_scale(loaded.weights()[i]->variable.value(), model.weights()[i]->variable.value(), 1e-6));
    BOOST_CHECK_EXCEPTION(Sequential::load("/nonexistent.h5"), std::exception, message_contains("nonexistent.h5"));
}

BOOST_AUTO_TEST_CASE(the_readme_graph_example_runs)
{
    // The README's "Using it" graph, as written there, on random data.
    xk::FitOptions options;
    options.epochs = 1;
    options.verbose = 0;
    const Tensor<float> x_train = tensor_cast<float>(random_tensor({8, 28, 28, 1}, 1));
    Tensor<float> digits({8, 10}, 0.f), sizes({8, 1}, 0.5f);
    for (std::size_t i = 0; i < 8; ++i)
        digits(i, i) = 1.f;
    auto image = xk::Input({28, 28, 1});
    xk::LayerRef conv = xk::make_layer("Conv2D", {{"filters", 16}, {"kernel_size", 3}, {"padding", "same"}});
    xk::LayerRef add = xk::make_layer("Add");
    auto x = conv(image);
    auto y = add({x, xk::LayerRef(xk::make_layer("Conv2D", {{"filters", 16}, {"kernel_size", 3}, {"padding", "same"}}))(x)});
    auto flat = xk::LayerRef(xk::make_layer("Flatten"))(y);
    auto digit = xk::LayerRef(xk::make_layer("Dense", {{"units", 10}, {"activation", "softmax"}}))(flat);
    auto size = xk::LayerRef(xk::make_layer("Dense", {{"units", 1}, {"name", "size"}}))(flat);
    xk::Model model({image}, {digit, size});
    model.compile("adam", xk::json::array({"categorical_crossentropy", "mse"}), xk::json::array({"accuracy"}),
                  xk::json::array({1.0, 0.5}));
    xk::History history = model.fit({x_train}, {digits, sizes}, options);
    BOOST_TEST(history.history.count("size_loss") == 1u);
    const fs::path path = fs::temp_directory_path() / ("xkeras_readme_" + std::to_string(::getpid()) + ".h5");
    model.save(path.string());
    auto again = xk::Model::load(path.string());
    fs::remove(path);
    BOOST_TEST(again.output_names() == model.output_names(), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
