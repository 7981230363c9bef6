// The Keras 3 config xkeras writes for every layer class it has, against Keras 3's own source
// (tests/data/keras3_layer_arguments.json, from keras-team/keras at v3.0.0, v3.6.0 and v3.15.1): every key
// written is one that the constructor of the release xkeras writes for (written_keras3_version) accepts, so
// Keras 3 loads the file; every key that release's get_config writes is written too. Where an older or newer
// release would refuse a key, the test says which.
#include "framework/io/keras_archive.hpp"
#include "framework/models/functional.hpp"
#include "support/checks.hpp"

#include <boost/test/unit_test.hpp>

#include <fstream>
#include <set>

using namespace xk;

namespace
{
    struct Case
    {
        std::string class_name;
        json config;
        std::vector<PartialShape> inputs; ///< without the batch dimension
    };

    /// One configuration of each layer class, with an input it takes.
    std::vector<Case> cases()
    {
        const PartialShape seq{8, 3}, image{6, 6, 3}, volume{4, 4, 4, 2}, flat{5};
        return {
            {"Conv1D", {{"filters", 2}, {"kernel_size", 3}}, {seq}},
            {"Conv2D", {{"filters", 2}, {"kernel_size", 3}}, {image}},
            {"Conv3D", {{"filters", 2}, {"kernel_size", 3}}, {volume}},
            {"Conv1DTranspose", {{"filters", 2}, {"kernel_size", 3}}, {seq}},
            {"Conv2DTranspose", {{"filters", 2}, {"kernel_size", 3}}, {image}},
            {"Conv3DTranspose", {{"filters", 2}, {"kernel_size", 3}}, {volume}},
            {"DepthwiseConv1D", {{"kernel_size", 3}}, {seq}},
            {"DepthwiseConv2D", {{"kernel_size", 3}}, {image}},
            {"SeparableConv1D", {{"filters", 2}, {"kernel_size", 3}}, {seq}},
            {"SeparableConv2D", {{"filters", 2}, {"kernel_size", 3}}, {image}},
            {"Cropping1D", {{"cropping", 1}}, {seq}},
            {"Cropping2D", {{"cropping", 1}}, {image}},
            {"Cropping3D", {{"cropping", 1}}, {volume}},
            {"ZeroPadding1D", {{"padding", 1}}, {seq}},
            {"ZeroPadding2D", {{"padding", 1}}, {image}},
            {"ZeroPadding3D", {{"padding", 1}}, {volume}},
            {"UpSampling1D", json::object(), {seq}},
            {"UpSampling2D", json::object(), {image}},
            {"UpSampling3D", json::object(), {volume}},
            {"MaxPooling1D", json::object(), {seq}},
            {"MaxPooling2D", json::object(), {image}},
            {"MaxPooling3D", json::object(), {volume}},
            {"AveragePooling1D", {{"pool_size", 2}}, {seq}},
            {"AveragePooling2D", {{"pool_size", 2}}, {image}},
            {"AveragePooling3D", {{"pool_size", 2}}, {volume}},
            {"GlobalMaxPooling1D", json::object(), {seq}},
            {"GlobalMaxPooling2D", json::object(), {image}},
            {"GlobalMaxPooling3D", json::object(), {volume}},
            {"GlobalAveragePooling1D", json::object(), {seq}},
            {"GlobalAveragePooling2D", json::object(), {image}},
            {"GlobalAveragePooling3D", json::object(), {volume}},
            {"Dense", {{"units", 3}}, {flat}},
            {"Flatten", json::object(), {image}},
            {"Reshape", {{"target_shape", {15}}}, {{5, 3}}},
            {"Activation", {{"activation", "relu"}}, {flat}},
            {"Dropout", {{"rate", 0.5}}, {flat}},
            {"BatchNormalization", json::object(), {image}},
            {"ReLU", json::object(), {flat}},
            {"LeakyReLU", json::object(), {flat}},
            {"PReLU", json::object(), {flat}},
            {"ELU", json::object(), {flat}},
            {"Softmax", json::object(), {flat}},
            {"Add", json::object(), {flat, flat}},
            {"Subtract", json::object(), {flat, flat}},
            {"Multiply", json::object(), {flat, flat}},
            {"Average", json::object(), {flat, flat}},
            {"Maximum", json::object(), {flat, flat}},
            {"Minimum", json::object(), {flat, flat}},
            {"Concatenate", json::object(), {flat, flat}},
            {"Dot", {{"axes", 1}}, {flat, flat}},
        };
    }

    const json& keras_source()
    {
        static const json data = [] {
            std::ifstream in(std::string(XKERAS_TEST_DATA_DIR) + "/keras3_layer_arguments.json");
            return json::parse(in);
        }();
        return data;
    }

    std::set<std::string> keys_of(const json& object)
    {
        std::set<std::string> out;
        for (auto it = object.begin(); it != object.end(); ++it)
            out.insert(it.key());
        return out;
    }

    std::set<std::string> list_of(const json& array)
    {
        std::set<std::string> out;
        for (const auto& key : array)
            out.insert(key.get<std::string>());
        return out;
    }

    /// The entries config.json holds for `c`: its layer and the model's InputLayer.
    std::pair<json, json> written_entries(const Case& c)
    {
        std::vector<SymbolicTensor> inputs;
        for (std::size_t i = 0; i < c.inputs.size(); ++i)
            inputs.push_back(Input(c.inputs[i], "in_" + std::to_string(i)));
        json config = c.config;
        config["name"] = "probe";
        LayerRef layer(make_layer(c.class_name, config));
        SymbolicTensor y = inputs.size() == 1 ? layer(inputs[0]) : layer(inputs);
        Functional model(inputs, {y}, "m");
        const json written = keras3_model_config(model);
        json layer_entry, input_entry;
        for (const auto& entry : written["config"]["layers"])
        {
            if (entry["config"]["name"] == "probe")
                layer_entry = entry;
            if (entry["class_name"] == "InputLayer" && input_entry.is_null())
                input_entry = entry;
        }
        return {layer_entry, input_entry};
    }
}

BOOST_AUTO_TEST_CASE(every_layer_class_is_in_the_table)
{
    // Every layer class of the registry that Keras 3 has is tested below (ThresholdedReLU is not in Keras 3;
    // aliases such as MaxPool2D name the same class).
    std::set<std::string> tested{"InputLayer", "ThresholdedReLU"};
    for (const auto& c : cases())
        tested.insert(c.class_name);
    for (const auto& name : layer_registry<float>().names())
        if (keras_source()["layers"].contains(name))
            BOOST_TEST(tested.count(name) == 1u, name << " has no case here");
    BOOST_TEST(tested.size() == keras_source()["layers"].size() + 1);
}

BOOST_AUTO_TEST_CASE(written_keys_are_keras3_constructor_arguments)
{
    const std::string release = std::string("v") + written_keras3_version;
    // Keys Keras writes only when they are set (an unset LoRA, no activity regularizer).
    const std::set<std::string> conditional{"lora_rank", "lora_alpha", "quantization_config", "activity_regularizer"};
    for (const auto& c : cases())
    {
        BOOST_TEST_CONTEXT(c.class_name)
        {
            const auto [entry, input] = written_entries(c);
            BOOST_TEST_REQUIRE(entry.is_object());
            BOOST_TEST(entry["module"] == "keras.layers");
            BOOST_TEST(entry["class_name"] == c.class_name);
            const json& source = keras_source()["layers"][c.class_name];
            const std::set<std::string> written = keys_of(entry["config"]);
            const std::set<std::string> accepted = list_of(source[release]["accepted"]);
            for (const auto& key : written)
                BOOST_TEST(accepted.count(key) == 1u, "Keras " << release << " refuses '" << key << "'");
            // ELU's config is Keras's auto-config: alpha only when passed (before 3.12).
            if (c.class_name != "ELU")
                for (const auto& key : list_of(source[release]["written"]))
                    if (!conditional.count(key))
                        BOOST_TEST(written.count(key) == 1u, "Keras " << release << " writes '" << key << "'");
            // Releases around the written one: reported, not required (Keras 3.0 lacks some arguments).
            for (const char* other : {"v3.0.0", "v3.15.1"})
                for (const auto& key : written)
                    if (!list_of(source[other]["accepted"]).count(key))
                        BOOST_TEST_MESSAGE(c.class_name << ": Keras " << other << " would refuse '" << key << "'");

            // The InputLayer: keys Keras uses (it ignores others, so this is the stricter check).
            const std::set<std::string> input_keys = list_of(keras_source()["layers"]["InputLayer"][release]["accepted"]);
            for (const auto& key : keys_of(input["config"]))
                BOOST_TEST(input_keys.count(key) == 1u, "InputLayer: Keras " << release << " does not read '" << key << "'");
        }
    }
}
