// The functional API: graphs built from Input and layer calls, several inputs and outputs, shared layers,
// nested models, Keras's configs (both ways) and its errors for bad graphs. Expected values come from the
// layers run one by one by hand, never from the graph executor under test.
#include "framework/models/functional.hpp"
#include "framework/keras/gradcheck.hpp"
#include "framework/io/hdf5_file.hpp"
#include "framework/io/keras_h5.hpp"
#include "framework/training/model.hpp"
#include "framework/models/model_config.hpp"
#include "framework/models/sequential.hpp"
#include "support/checks.hpp"

#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <filesystem>

using namespace xk;
using test::message_contains;
namespace fs = std::filesystem;

namespace
{
    template <class T>
    BasicLayerRef<T> dense(long units, const std::string& name, const std::string& activation = "linear")
    {
        return make_layer<T>("Dense", {{"units", units}, {"name", name}, {"activation", activation}});
    }

    /// sum(y * upstream) over every output, with the tape's gradients for each input and weight.
    template <class T>
    std::vector<Tensor<T>> weight_gradients(BasicModel<T>& model, const std::vector<Tensor<T>>& x,
                                            const std::vector<Tensor<T>>& upstream)
    {
        return model.gradients(x, upstream).weights;
    }

    bool same(const Tensor<float>& a, const Tensor<float>& b, double tolerance = 1e-6)
    {
        std::string why;
        bool ok = test::close_to_scale(a, b, tolerance, &why);
        if (!ok)
            BOOST_TEST_MESSAGE(why);
        return ok;
    }

    struct ScratchDir
    {
        fs::path path = fs::temp_directory_path() / ("xkeras_functional_test_" + std::to_string(::getpid()));
        ScratchDir() { fs::create_directories(path); }
        ~ScratchDir() { fs::remove_all(path); }
        std::string file(const std::string& name) const { return (path / name).string(); }
    };
}

BOOST_AUTO_TEST_SUITE(functional)

BOOST_AUTO_TEST_CASE(a_chain_computes_what_its_layers_compute_one_by_one)
{
    reset_layer_names();
    auto x = Input({5});
    LayerRef d1 = dense<float>(4, "d1", "tanh"), d2 = dense<float>(3, "d2");
    Functional model({x}, {d2(d1(x))});
    const Tensor<float> input = tensor_cast<float>(random_tensor({6, 5}, 1));
    const Tensor<float> want = d2->predict(d1->predict(input));
    BOOST_TEST(same(model.predict(input), want));
    BOOST_TEST(model.class_name() == "Functional");
    BOOST_TEST(model.name() == "model");
    // model.layers: the InputLayer first, as tf.keras lists a functional model's layers.
    auto layers = model.layers();
    BOOST_TEST_REQUIRE(layers.size() == 3u);
    BOOST_TEST(layers[0]->class_name() == "InputLayer");
    BOOST_TEST(layers[1]->name() == "d1");
    BOOST_TEST(layers[2]->name() == "d2");
    BOOST_TEST(model.count_params() == 5u * 4 + 4 + 4 * 3 + 3);
    BOOST_TEST(model.output_shapes()[0] == PartialShape({-1, 3}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(several_inputs_and_outputs_in_the_declared_order)
{
    reset_layer_names();
    auto a = Input({3}, "a"), b = Input({2}, "b");
    LayerRef da = dense<float>(2, "da"), db = dense<float>(4, "db"), head = dense<float>(1, "head");
    auto ya = da(a), yb = db(b);
    auto yh = head(ya);
    // Outputs in an order unlike the layers': the model returns them as declared.
    Functional model({b, a}, {yh, yb, ya});
    BOOST_TEST(model.input_names() == std::vector<std::string>({"b", "a"}), boost::test_tools::per_element());
    BOOST_TEST(model.output_names() == std::vector<std::string>({"head", "db", "da"}), boost::test_tools::per_element());
    const Tensor<float> xa = tensor_cast<float>(random_tensor({4, 3}, 2));
    const Tensor<float> xb = tensor_cast<float>(random_tensor({4, 2}, 3));
    auto out = model.predict(std::vector<Tensor<float>>{xb, xa});
    BOOST_TEST_REQUIRE(out.size() == 3u);
    BOOST_TEST(same(out[0], head->predict(da->predict(xa))));
    BOOST_TEST(same(out[1], db->predict(xb)));
    BOOST_TEST(same(out[2], da->predict(xa)));
    BOOST_CHECK_EXCEPTION(model.predict(std::vector<Tensor<float>>{xa}), value_error,
                          message_contains({"Functional model 'model'", "expects 2 input(s)", "received 1"}));
    BOOST_CHECK_EXCEPTION(model.predict(std::vector<Tensor<float>>{xa, xb}), shape_error,
                          message_contains({"Input 0", "expected shape=(None, 2)", "found shape=(4, 3)"}));
}

BOOST_AUTO_TEST_CASE(a_shared_layer_sums_the_gradients_of_its_calls)
{
    reset_layer_names();
    auto a = BasicInput<double>({3}, "a"), b = BasicInput<double>({3}, "b");
    BasicLayerRef<double> shared = dense<double>(2, "shared", "tanh");
    BasicFunctional<double> model({a, b}, {shared(a), shared(b)});
    BOOST_TEST(model.layers().size() == 3u); // each shared layer once
    const Tensor<double> xa = random_tensor({4, 3}, 4), xb = random_tensor({4, 3}, 5);
    const Tensor<double> ua = random_tensor({4, 2}, 6), ub = random_tensor({4, 2}, 7);
    auto both = weight_gradients<double>(model, {xa, xb}, {ua, ub});

    // Each call alone, through a one-call graph over the same layer: the two gradients must add up.
    auto x = BasicInput<double>({3}, "x");
    BasicFunctional<double> single({x}, {shared(x)});
    auto ga = weight_gradients<double>(single, {xa}, {ua});
    auto gb = weight_gradients<double>(single, {xb}, {ub});
    BOOST_TEST_REQUIRE(both.size() == 2u);
    for (std::size_t i = 0; i < both.size(); ++i)
        BOOST_TEST(test::close_to_scale(both[i], Tensor<double>(ga[i] + gb[i]), 1e-12));

    // And against finite differences, the graph as one layer.
    ModelLayer<double> as_layer(std::make_shared<BasicFunctional<double>>(std::move(model)));
    auto report = check_layer_gradients(as_layer, std::vector<Tensor<double>>{xa, xb}, 3);
    BOOST_TEST(report.checked > 0u);
    BOOST_TEST(report.ok, report.summary());
}

BOOST_AUTO_TEST_CASE(a_nested_model_is_a_layer_of_the_outer_graph)
{
    reset_layer_names();
    auto inner_in = BasicInput<double>({4}, "inner_in");
    BasicLayerRef<double> i1 = dense<double>(3, "i1", "sigmoid");
    auto inner = std::make_shared<BasicFunctional<double>>(std::vector{inner_in}, std::vector{i1(inner_in)}, "inner");

    auto x = BasicInput<double>({5}, "x");
    BasicLayerRef<double> o1 = dense<double>(4, "o1", "relu"), o2 = dense<double>(2, "o2");
    BasicLayerRef<double> nested(std::static_pointer_cast<BasicModel<double>>(inner));
    BasicFunctional<double> outer({x}, {o2(nested(o1(x)))}, "outer");

    const Tensor<double> input = random_tensor({3, 5}, 8);
    const Tensor<double> want = o2->predict(i1->predict(o1->predict(input)));
    BOOST_TEST(test::close_to_scale(outer.predict(input), want, 1e-12));
    // The outer model's weights hold the inner ones, in layer order; the inner model is one layer.
    BOOST_TEST(outer.layers().size() == 4u);
    BOOST_TEST(outer.layers()[2]->class_name() == "Functional");
    BOOST_TEST(outer.weights().size() == 6u);
    BOOST_TEST(outer.trainable_weight_paths()[2] == "i1/kernel");

    auto report = check_layer_gradients(*outer.layers()[2], std::vector<Tensor<double>>{random_tensor({3, 4}, 9)}, 4);
    BOOST_TEST(report.ok, report.summary());
    ModelLayer<double> whole(std::make_shared<BasicFunctional<double>>(std::move(outer)));
    auto whole_report = check_layer_gradients(whole, std::vector<Tensor<double>>{input}, 5);
    BOOST_TEST(whole_report.checked > 0u);
    BOOST_TEST(whole_report.ok, whole_report.summary());
}

BOOST_AUTO_TEST_CASE(a_sequential_nests_inside_a_graph_and_freezes_as_one)
{
    reset_layer_names();
    auto stack = std::make_shared<BasicSequential<float>>("stack");
    stack->set_input({-1, 4}, "stack_in");
    stack->add(make_layer("Dense", {{"units", 3}, {"name", "s1"}}));
    auto x = Input({4}, "x");
    LayerRef nested(std::static_pointer_cast<BasicModel<float>>(stack));
    LayerRef head = dense<float>(1, "head");
    Model model({x}, {head(nested(x))});
    BOOST_TEST(model.trainable_weights().size() == 4u);
    nested->set_trainable(false);
    BOOST_TEST(model.trainable_weights().size() == 2u);
    BOOST_TEST(model.layers()[1]->trainable_weights().empty());
    BOOST_TEST(stack->layer(0).trainable() == false);
    BOOST_TEST(model.count_params() == 4u * 3 + 3 + 3 + 1);
}

BOOST_AUTO_TEST_CASE(the_config_is_tf_keras_functional_config_and_loads_back)
{
    reset_layer_names();
    auto a = Input({3}, "a"), b = Input({3}, "b");
    LayerRef shared = dense<float>(2, "shared"), head = dense<float>(1, "head");
    auto ya = shared(a), yb = shared(b);
    Functional model({a, b}, {head(ya), yb}, "two_calls");
    const json config = model.get_config();
    BOOST_TEST(config["name"] == "two_calls");
    BOOST_TEST(config["input_layers"] == json::parse(R"([["a", 0, 0], ["b", 0, 0]])"));
    BOOST_TEST(config["output_layers"] == json::parse(R"([["head", 0, 0], ["shared", 1, 0]])"));
    // The shared layer's two calls are two inbound nodes; head takes node 0 of it.
    json shared_entry, head_entry;
    for (const auto& entry : config["layers"])
    {
        if (entry["name"] == "shared")
            shared_entry = entry;
        if (entry["name"] == "head")
            head_entry = entry;
    }
    BOOST_TEST(shared_entry["class_name"] == "Dense");
    BOOST_TEST(shared_entry["inbound_nodes"] == json::parse(R"([[["a", 0, 0, {}]], [["b", 0, 0, {}]]])"));
    BOOST_TEST(head_entry["inbound_nodes"] == json::parse(R"([[["shared", 0, 0, {}]]])"));

    auto again = Functional::from_config(config);
    BOOST_TEST(again.get_config() == config);
    for (std::size_t i = 0; i < model.weights().size(); ++i)
        again.weights()[i]->variable.value() = model.weights()[i]->variable.value();
    const std::vector<Tensor<float>> x{tensor_cast<float>(random_tensor({2, 3}, 10)),
                                       tensor_cast<float>(random_tensor({2, 3}, 11))};
    auto p = model.predict(x), q = again.predict(x);
    BOOST_TEST(same(p[0], q[0]));
    BOOST_TEST(same(p[1], q[1]));
}

BOOST_AUTO_TEST_CASE(a_nested_model_is_node_1_in_the_config_as_tf_keras_numbers_it)
{
    reset_layer_names();
    auto inner_in = Input({4}, "inner_in");
    LayerRef i1 = dense<float>(3, "i1");
    auto inner = std::make_shared<Functional>(std::vector{inner_in}, std::vector{i1(inner_in)}, "inner");
    auto x = Input({4}, "x");
    LayerRef nested(std::static_pointer_cast<BasicModel<float>>(inner));
    LayerRef head = dense<float>(2, "head");
    Functional outer({x}, {head(nested(x))}, "outer");
    const json config = outer.get_config();
    BOOST_TEST(config["layers"][1]["class_name"] == "Functional");
    BOOST_TEST(config["layers"][1]["config"]["name"] == "inner");
    BOOST_TEST(config["layers"][1]["inbound_nodes"] == json::parse(R"([[["x", 0, 0, {}]]])"));
    BOOST_TEST(config["layers"][2]["inbound_nodes"] == json::parse(R"([[["inner", 1, 0, {}]]])"));
    auto again = Functional::from_config(config);
    BOOST_TEST(again.get_config() == config);
    // A reference to node 0 of a nested model is not one of its calls.
    json bad = config;
    bad["layers"][2]["inbound_nodes"] = json::parse(R"([[["inner", 0, 0, {}]]])");
    BOOST_CHECK_EXCEPTION(Functional::from_config(bad), value_error,
                          message_contains({"layer 'head'", "node 0 of model 'inner'", "numbered from 1"}));
}

BOOST_AUTO_TEST_CASE(keras3_functional_configs_load)
{
    // Keras 3 writes inbound nodes as {"args": [keras tensors], "kwargs": {...}} and a single input as one
    // reference (the shape of what Keras 3.x model.to_json gives for Input -> Dense -> Dense).
    const json config = json::parse(R"({
      "name": "functional", "trainable": true,
      "layers": [
        {"module": "keras.layers", "class_name": "InputLayer", "registered_name": null, "name": "input_layer",
         "config": {"batch_shape": [null, 3], "dtype": "float32", "sparse": false, "ragged": false,
                    "name": "input_layer", "optional": false},
         "inbound_nodes": []},
        {"module": "keras.layers", "class_name": "Dense", "registered_name": null, "name": "dense",
         "config": {"name": "dense", "trainable": true,
                    "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}},
                    "units": 2, "activation": "relu", "use_bias": true},
         "build_config": {"input_shape": [null, 3]},
         "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__",
                                      "config": {"shape": [null, 3], "dtype": "float32",
                                                 "keras_history": ["input_layer", 0, 0]}}],
                            "kwargs": {}}]},
        {"module": "keras.layers", "class_name": "Dense", "registered_name": null, "name": "dense_1",
         "config": {"name": "dense_1", "units": 1},
         "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__",
                                      "config": {"shape": [null, 2], "dtype": "float32",
                                                 "keras_history": ["dense", 0, 0]}}],
                            "kwargs": {}}]}
      ],
      "input_layers": ["input_layer", 0, 0],
      "output_layers": [["dense_1", 0, 0]]
    })");
    auto model = model_from_config<float>({{"class_name", "Functional"}, {"config", config}});
    BOOST_TEST(model->class_name() == "Functional");
    BOOST_TEST(model->input_names() == std::vector<std::string>{"input_layer"}, boost::test_tools::per_element());
    BOOST_TEST(model->output_shapes()[0] == PartialShape({-1, 1}), boost::test_tools::per_element());
    const Tensor<float> x = tensor_cast<float>(random_tensor({2, 3}, 12));
    BOOST_TEST(same(model->predict(x), model->layer("dense_1").predict(model->layer("dense").predict(x))));
    // An optional input (Keras 3.13+'s InputLayer(optional=True)) is refused by name.
    json optional = config;
    optional["layers"][0]["config"]["optional"] = true;
    BOOST_CHECK_EXCEPTION(model_from_config<float>({{"class_name", "Functional"}, {"config", optional}}), value_error,
                          message_contains({"optional", "not supported"}));
}

BOOST_AUTO_TEST_CASE(bad_graphs_fail_where_they_are_written)
{
    reset_layer_names();
    auto a = Input({3}, "a"), b = Input({3}, "b");
    LayerRef d = dense<float>(2, "d");
    auto y = d(a);
    // An output that needs an input the model is not given: Keras's "Graph disconnected".
    BOOST_CHECK_EXCEPTION(Functional({b}, {y}), value_error,
                          message_contains({"Graph disconnected", "cannot obtain value for tensor 'a'", "at layer \"d\""}));
    // An input that no output depends on.
    BOOST_CHECK_EXCEPTION(Functional({a, b}, {y}), value_error,
                          message_contains({"Graph disconnected", "input 'b'", "not connected to any output"}));
    // Inputs must be Input tensors, each once.
    LayerRef e = dense<float>(2, "e");
    BOOST_CHECK_EXCEPTION(Functional({y}, {e(y)}), value_error, message_contains({"must come from `Input`", "\"d\""}));
    BOOST_CHECK_EXCEPTION(Functional({a, a}, {y}), value_error, message_contains("the same input multiple times"));
    // Two layers of one name.
    LayerRef twin = dense<float>(2, "d");
    BOOST_CHECK_EXCEPTION(Functional({a}, {twin(d(a))}), value_error,
                          message_contains({"The name \"d\" is used 2 times in the model"}));
    // A built layer called on an input it cannot take names itself.
    auto wide = Input({7}, "wide");
    BOOST_CHECK_EXCEPTION(d(wide), std::exception, message_contains({"'d'"}));
}

BOOST_AUTO_TEST_CASE(bad_configs_fail_at_load_naming_the_layer)
{
    const json good = json::parse(R"({
      "name": "m",
      "layers": [
        {"class_name": "InputLayer", "name": "in", "config": {"batch_input_shape": [null, 3], "name": "in"},
         "inbound_nodes": []},
        {"class_name": "Dense", "name": "d1", "config": {"name": "d1", "units": 2}, "inbound_nodes": [[["in", 0, 0, {}]]]},
        {"class_name": "Dense", "name": "d2", "config": {"name": "d2", "units": 2}, "inbound_nodes": [[["d1", 0, 0, {}]]]}
      ],
      "input_layers": [["in", 0, 0]],
      "output_layers": [["d2", 0, 0]]
    })");
    BOOST_TEST(Functional::from_config(good).layers().size() == 3u);

    auto expect = [&](auto edit, std::initializer_list<std::string> fragments) {
        json config = good;
        edit(config);
        BOOST_CHECK_EXCEPTION(Functional::from_config(config), value_error, message_contains(fragments));
    };
    expect([](json& c) { c["output_layers"] = json::parse(R"([["nope", 0, 0]])"); },
           {"names an unknown layer 'nope'"});
    expect([](json& c) { c["layers"][2]["inbound_nodes"] = json::parse(R"([[["ghost", 0, 0, {}]]])"); },
           {"layer 'd2' names an unknown layer 'ghost'"});
    expect([](json& c) { c["layers"][2]["inbound_nodes"] = json::parse(R"([[["d1", 3, 0, {}]]])"); },
           {"layer 'd2' takes node 3 of layer 'd1'", "called only 1 time(s)"});
    expect([](json& c) { c["output_layers"] = json::parse(R"([["d2", 1, 0]])"); },
           {"\"output_layers\" takes node 1 of layer 'd2'", "called only 1 time(s)"});
    expect([](json& c) { c["layers"][1]["inbound_nodes"] = json::parse(R"([[["d2", 0, 0, {}]]])"); },
           {"the graph has a cycle"});
    expect([](json& c) { c["layers"][2]["name"] = "d1"; c["layers"][2]["config"]["name"] = "d1"; },
           {"The name \"d1\" is used 2 times"});
    expect([](json& c) { c["layers"][2]["inbound_nodes"] = json::array(); }, {"layer 'd2' has no inbound nodes"});
    expect([](json& c) { c["output_layers"] = json::parse(R"([["d1", 0, 0]])"); },
           {"layer 'd2' is not on any path from the inputs to the outputs"});
    expect([](json& c) { c["layers"][2]["config"]["units"] = -1; }, {"'d2'"});
}

BOOST_AUTO_TEST_CASE(summary_has_keras_connected_to_column)
{
    reset_layer_names();
    auto a = Input({3}, "a"), b = Input({3}, "b");
    LayerRef shared = dense<float>(2, "shared");
    Functional model({a, b}, {shared(a), shared(b)}, "siamese");
    const std::string s = model.summary();
    BOOST_TEST(s.find("Model: \"siamese\"") != std::string::npos);
    BOOST_TEST(s.find("Connected to") != std::string::npos);
    BOOST_TEST(s.find("a (InputLayer)") != std::string::npos);
    BOOST_TEST(s.find("[(None, 3)]") != std::string::npos);
    BOOST_TEST(s.find("['a[0][0]',") != std::string::npos, s);
    BOOST_TEST(s.find(" 'b[0][0]']") != std::string::npos, s);
    BOOST_TEST(s.find("Total params: 8") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_functional_model_file_saves_and_loads_as_functional)
{
    reset_layer_names();
    ScratchDir dir;
    auto inner_in = Input({4}, "inner_in");
    LayerRef i1 = dense<float>(3, "i1", "tanh");
    auto inner = std::make_shared<Functional>(std::vector{inner_in}, std::vector{i1(inner_in)}, "inner");
    auto x = Input({4}, "x");
    LayerRef nested(std::static_pointer_cast<BasicModel<float>>(inner));
    LayerRef head = dense<float>(2, "head");
    Functional model({x}, {head(nested(x)), nested(x)}, "outer");
    const std::string path = dir.file("outer.h5");
    save_model(model, path);

    auto loaded = load_model<float>(path);
    BOOST_TEST(loaded->class_name() == "Functional");
    BOOST_TEST(loaded->get_config() == model.get_config());
    const Tensor<float> input = tensor_cast<float>(random_tensor({2, 4}, 13));
    auto want = model.predict(std::vector<Tensor<float>>{input});
    auto got = loaded->predict(std::vector<Tensor<float>>{input});
    BOOST_TEST_REQUIRE(got.size() == 2u);
    BOOST_TEST(same(got[0], want[0]));
    BOOST_TEST(same(got[1], want[1]));
    // The nested model is one group holding its layers' weights under their own names, as tf.keras writes it.
    auto f = h5::File::open_read(path);
    BOOST_TEST(f.read_string_list_attribute("model_weights/inner", "weight_names") ==
                   std::vector<std::string>({"i1/kernel:0", "i1/bias:0"}),
               boost::test_tools::per_element());
    BOOST_TEST(f.is_dataset("model_weights/inner/i1/kernel:0"));
}

BOOST_AUTO_TEST_CASE(graph_weights_load_by_order_and_by_name)
{
    ScratchDir dir;
    // Two branches; the second model builds the same layers in another order and under other graph positions.
    auto build = [](bool swapped) {
        auto x = Input({3}, "x");
        LayerRef left = dense<float>(2, "left"), right = dense<float>(4, "right");
        auto a = swapped ? right(x) : left(x);
        auto b = swapped ? left(x) : right(x);
        return Functional({x}, {a, b}, swapped ? "swapped" : "plain");
    };
    reset_layer_names();
    Functional source = build(false);
    const std::string path = dir.file("w.h5");
    save_weights(source, path);
    Functional target = build(true);
    for (auto* w : target.weights())
        w->variable.value().fill(0.f);
    load_weights(target, path, /*by_name=*/true);
    for (const char* name : {"left", "right"})
        for (std::size_t i = 0; i < 2; ++i)
            BOOST_TEST(target.layer(name).weights()[i]->variable.value() ==
                       source.layer(name).weights()[i]->variable.value());
    // By order, the same graph takes the weights back; the swapped one does not fit and says so.
    Functional again = build(false);
    load_weights(again, path);
    for (std::size_t i = 0; i < source.weights().size(); ++i)
        BOOST_TEST(again.weights()[i]->variable.value() == source.weights()[i]->variable.value());
    BOOST_CHECK_EXCEPTION(load_weights(target, path), io_error, message_contains(path));
}

BOOST_AUTO_TEST_SUITE_END()
