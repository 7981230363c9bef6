// Real functional (graph) model files written by tf.keras: each loads as a graph whose layers come in the
// order tf.keras stored them, takes the weights Keras stored, computes what an independent walk of its
// config computes, and saves back as a file with the same config and weight layout.
// The files and where they come from: tests/data/keras_files/README.md.
#include "framework/models/functional.hpp"
#include "framework/io/hdf5_file.hpp"
#include "framework/io/keras_h5.hpp"
#include "support/checks.hpp"

#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <filesystem>
#include <map>

using namespace xk;
using test::message_contains;
namespace fs = std::filesystem;

namespace
{
    const std::string files_dir = std::string(XKERAS_TEST_DATA_DIR) + "/keras_files/files/";

    /// What each real graph file must do: load (with its input and output shapes), or be refused naming the
    /// layer class xkeras lacks. Written here as data, so a file cannot move silently from one to the other.
    struct Expected
    {
        std::string file;
        std::vector<PartialShape> inputs, outputs; ///< empty when refused
        std::string refused_class;               ///< the missing class, when refused
    };

    const std::vector<Expected> expected = {
        {"mlcommons__pretrainedResnet.h5", {{-1, 32, 32, 3}}, {{-1, 10}}, ""},
        {"hiwony7933__unet.h5", {{-1, 28, 28, 1}}, {{-1, 28, 28, 1}}, ""},
        {"Gho-Ost__inception_alt.h5", {{-1, 400, 600, 3}}, {{-1, 400, 600, 3}, {-1, 400, 600, 3}, {-1, 400, 600, 3}}, ""},
        {"mlcommons__str_ww_model.h5", {{-1, 30, 1, 40}}, {{-1, 3}}, ""},
        {"JohnnysGithubAccount__resnet.h5", {{-1, 32, 32, 3}}, {{-1, 10}}, ""},
    };

    json model_config_of(const std::string& path)
    {
        return json::parse(h5::File::open_read(path).read_string_attribute("", "model_config"));
    }

    /// Deterministic inputs of the declared shapes, `batch` samples.
    std::vector<Tensor<float>> inputs_for(const std::vector<PartialShape>& shapes, std::size_t batch)
    {
        std::vector<Tensor<float>> out;
        for (std::size_t k = 0; k < shapes.size(); ++k)
        {
            Shape shape{batch};
            for (std::size_t i = 1; i < shapes[k].size(); ++i)
                shape.push_back(std::size_t(shapes[k][i]));
            Tensor<float> x = Tensor<float>::from_shape(shape);
            for (std::size_t i = 0; i < x.size(); ++i)
                x.data()[i] = float(std::sin(0.37 * double(i) + double(k)));
            out.push_back(std::move(x));
        }
        return out;
    }

    /// The test's own reading of a tf.keras functional config: each layer's first call, in the order of the
    /// config, run by the loaded layers one at a time. Shares nothing with the library's graph executor.
    std::vector<Tensor<float>> walk_config(const json& config, BasicModel<float>& model,
                                           const std::vector<Tensor<float>>& inputs)
    {
        std::map<std::string, Tensor<float>> value;
        const json& c = config["config"];
        for (std::size_t i = 0; i < c["input_layers"].size(); ++i)
            value[c["input_layers"][i][0].get<std::string>()] = inputs[i];
        std::size_t remaining = c["layers"].size();
        while (remaining > 0)
        {
            std::size_t before = remaining;
            for (const auto& entry : c["layers"])
            {
                const std::string name = entry["name"];
                if (value.count(name))
                    continue;
                std::vector<BasicVariable<float>> args;
                for (const auto& ref : entry["inbound_nodes"][0])
                {
                    auto it = value.find(ref[0].get<std::string>());
                    if (it == value.end())
                        break;
                    args.emplace_back(it->second);
                }
                if (args.size() < entry["inbound_nodes"][0].size())
                    continue;
                NoGradGuard no_grad;
                Tape tape;
                value[name] = model.layer(name).call(tape, args, false).at(0).value();
            }
            remaining = 0;
            for (const auto& entry : c["layers"])
                remaining += value.count(entry["name"].get<std::string>()) ? 0 : 1;
            BOOST_TEST_REQUIRE(remaining < before);
        }
        std::vector<Tensor<float>> out;
        for (const auto& ref : c["output_layers"])
            out.push_back(value.at(ref[0].get<std::string>()));
        return out;
    }

    /// {"class_name", "config"} without the module and registered_name keys of Keras >= 2.13's serialization.
    json bare_identifier(json value)
    {
        if (value.is_object() && value.contains("class_name"))
        {
            value.erase("module");
            value.erase("registered_name");
            if (value.contains("config"))
                value["config"] = bare_identifier(value["config"]);
        }
        return value;
    }

    std::vector<std::string> strings(const h5::File& f, const std::string& object, const std::string& name)
    {
        return f.read_string_list_attribute(object, name);
    }
}

BOOST_AUTO_TEST_SUITE(functional_files)

BOOST_AUTO_TEST_CASE(every_real_graph_file_has_its_expected_outcome)
{
    for (const auto& e : expected)
        BOOST_TEST_CONTEXT(e.file)
        {
            const std::string path = files_dir + e.file;
            if (!e.refused_class.empty())
            {
                BOOST_CHECK_EXCEPTION(load_model<float>(path), value_error,
                                      message_contains({path, "Unknown layer: '" + e.refused_class + "'"}));
                continue;
            }
            auto model = load_model<float>(path);
            BOOST_TEST(model->class_name() == "Functional");
            BOOST_TEST_REQUIRE(model->input_shapes().size() == e.inputs.size());
            for (std::size_t i = 0; i < e.inputs.size(); ++i)
                BOOST_TEST(model->input_shapes()[i] == e.inputs[i], boost::test_tools::per_element());
            const auto outputs = model->output_shapes();
            BOOST_TEST_REQUIRE(outputs.size() == e.outputs.size());
            for (std::size_t i = 0; i < e.outputs.size(); ++i)
                BOOST_TEST(outputs[i] == e.outputs[i], boost::test_tools::per_element());

            // Keras's model.layers order, which tf.keras wrote as layer_names, and every weight Keras stored.
            const h5::File f = h5::File::open_read(path);
            std::vector<std::string> ours;
            for (auto* layer : model->layers())
                ours.push_back(layer->name());
            const auto stored = strings(f, "model_weights", "layer_names");
            BOOST_TEST(ours == stored, boost::test_tools::per_element());
            for (auto* layer : model->layers())
            {
                const auto names = strings(f, "model_weights/" + layer->name(), "weight_names");
                const auto weights = layer->weights();
                BOOST_TEST_REQUIRE(weights.size() == names.size(), layer->name());
                for (std::size_t i = 0; i < names.size(); ++i)
                    BOOST_TEST(weights[i]->variable.value() ==
                               f.read<float>("model_weights/" + layer->name() + "/" + names[i]));
            }
        }
}

BOOST_AUTO_TEST_CASE(graph_files_compute_what_their_configs_say)
{
    for (const auto& e : expected)
    {
        // The two large-image models cost seconds per sample; one sample each is enough.
        if (!e.refused_class.empty())
            continue;
        BOOST_TEST_CONTEXT(e.file)
        {
            const std::string path = files_dir + e.file;
            auto model = load_model<float>(path);
            const auto x = inputs_for(e.inputs, e.inputs[0][1] > 100 ? 1 : 3);
            const auto got = model->predict(x);
            const auto want = walk_config(model_config_of(path), *model, x);
            BOOST_TEST_REQUIRE(got.size() == want.size());
            for (std::size_t i = 0; i < got.size(); ++i)
            {
                std::string why;
                BOOST_TEST(test::close_to_scale(got[i], want[i], 1e-6, &why), "output " << i << ": " << why);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(graph_files_save_back_with_tf_keras_config_and_weight_layout)
{
    const fs::path dir = fs::temp_directory_path() / ("xkeras_functional_files_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    for (const auto& e : expected)
    {
        if (!e.refused_class.empty())
            continue;
        BOOST_TEST_CONTEXT(e.file)
        {
            const std::string path = files_dir + e.file, copy = (dir / e.file).string();
            auto model = load_model<float>(path);
            save_model(*model, copy);
            const json a = model_config_of(path), b = model_config_of(copy);
            BOOST_TEST(b["class_name"] == "Functional");
            BOOST_TEST(b["config"]["input_layers"] == a["config"]["input_layers"]);
            BOOST_TEST(b["config"]["output_layers"] == a["config"]["output_layers"]);
            BOOST_TEST_REQUIRE(b["config"]["layers"].size() == a["config"]["layers"].size());
            for (std::size_t i = 0; i < a["config"]["layers"].size(); ++i)
            {
                const json& la = a["config"]["layers"][i];
                const json& lb = b["config"]["layers"][i];
                BOOST_TEST_CONTEXT("layer " << la["name"])
                {
                    BOOST_TEST(lb["name"] == la["name"]);
                    BOOST_TEST(lb["class_name"] == la["class_name"]);
                    BOOST_TEST(lb["inbound_nodes"] == la["inbound_nodes"]);
                    // Every argument tf.keras wrote is written back with its value.
                    for (const auto& [key, value_in] : la["config"].items())
                    {
                        // tf.keras >= 2.13 wraps identifiers with module and registered_name; 2.x reads either.
                        const json written = bare_identifier(lb["config"].value(key, json("<missing>")));
                        const json value = bare_identifier(value_in);
                        // DepthwiseConv2D inherits groups=1 from Conv in some tf.keras versions; it means nothing.
                        if (key == "groups" && la["class_name"] == "DepthwiseConv2D" && value == 1 &&
                            written == "<missing>")
                            continue;
                        // A flag Keras kept as the int it was given (scale=1) is written back as a bool.
                        if (value.is_number_integer() && written.is_boolean())
                            BOOST_TEST((value.get<long>() != 0) == written.get<bool>(), key);
                        else
                            BOOST_TEST(written == value, key);
                    }
                }
            }
            // The weight groups: the same layers, the same weight names, the same shapes.
            const h5::File fa = h5::File::open_read(path), fb = h5::File::open_read(copy);
            BOOST_TEST(strings(fb, "model_weights", "layer_names") == strings(fa, "model_weights", "layer_names"),
                       boost::test_tools::per_element());
            for (const auto& layer : strings(fa, "model_weights", "layer_names"))
            {
                const std::string group = "model_weights/" + layer;
                const auto names = strings(fa, group, "weight_names");
                BOOST_TEST(strings(fb, group, "weight_names") == names, boost::test_tools::per_element());
                for (const auto& name : names)
                    BOOST_TEST(fb.dataset_shape(group + "/" + name) == fa.dataset_shape(group + "/" + name),
                               boost::test_tools::per_element());
            }
            // And it loads again into the same model.
            auto again = load_model<float>(copy);
            BOOST_TEST(again->get_config() == model->get_config());
        }
    }
    fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(graph_files_give_the_outputs_keras_computed)
{
    // Graph models that ship Keras's own predictions (tests/data/keras_files/README.md): a tf.keras 2.3 U-Net
    // and a standalone Keras 2.0.2 model of two inputs. input.h5 holds x (or x0, x1, ... in the order of the
    // model's inputs), expect.h5 the y Keras computed.
    const fs::path cases = fs::path(XKERAS_TEST_DATA_DIR) / "keras_files/graph_cases";
    std::size_t checked = 0;
    for (const char* name : {"ecmwf__cyclone_unet", "kunalsinx__doublets_2input"})
        BOOST_TEST_CONTEXT(name)
        {
            const fs::path dir = cases / name;
            auto model = load_model<float>((dir / "model.h5").string());
            BOOST_TEST(model->class_name() == "Functional");
            const h5::File input = h5::File::open_read((dir / "input.h5").string());
            std::vector<Tensor<float>> x;
            if (model->input_count() == 1)
                x.push_back(input.read<float>("x"));
            else
                for (std::size_t i = 0; i < model->input_count(); ++i)
                    x.push_back(input.read<float>("x" + std::to_string(i)));
            const auto y = model->predict(x);
            BOOST_TEST_REQUIRE(y.size() == 1u);
            std::string why;
            BOOST_TEST(test::close_to_scale(y[0], h5::File::open_read((dir / "expect.h5").string()).read<float>("y"),
                                            1e-5, &why),
                       why);
            ++checked;
        }
    BOOST_TEST(checked == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
