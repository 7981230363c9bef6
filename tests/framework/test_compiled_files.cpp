// Compiled models in files: every real compiled file in tests/data loads with Model::load, compiled again from
// its training_config (.h5) or compile_config (.keras) as Keras would, or uncompiled with a warning where it
// names what xkeras lacks; a compiled model saved as .keras carries Keras 3's compile_config and optimizer
// variables (saving_lib's layout) and trains on from them after loading.
#include "framework/engine/random.hpp"
#include "framework/io/hdf5_file.hpp"
#include "framework/io/keras_h5.hpp"
#include "framework/io/zip_archive.hpp"
#include "framework/training/model.hpp"
#include "support/checks.hpp"

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <map>

#include <unistd.h>

using namespace xk;
using test::message_contains;
namespace fs = std::filesystem;

namespace
{
    const std::string data_dir = std::string(XKERAS_TEST_DATA_DIR) + "/keras_files/";

    std::string scratch(const std::string& name)
    {
        return (fs::temp_directory_path() / ("xkeras-test-compiled-" + std::to_string(::getpid()) + "-" + name))
            .string();
    }

    /// What loading a file gives, written down from its training configuration (h5dump -a /training_config,
    /// unzip -p x.keras config.json) and its stored optimizer iteration count.
    struct Expected
    {
        enum class Outcome
        {
            compiled,
            uncompiled,      ///< no training configuration
            warned,          ///< one naming what xkeras lacks: uncompiled, with a warning
            unknown_layer    ///< the architecture itself needs a layer or object xkeras lacks (#15)
        } outcome;
        std::string optimizer{};
        UpdateRules rules = UpdateRules::legacy;
        std::int64_t iterations = 0;
        std::string loss{};
    };

    using O = Expected::Outcome;
    const std::map<std::string, Expected> expected_files{
        {"archives/2shakilrafi__autoencoder.keras", {O::compiled, "SGD", UpdateRules::keras3, 23450, "\"mse\""}},
        {"archives/internshipkrishna__unet_model.keras",
         {O::compiled, "Adam", UpdateRules::keras3, 0, "\"binary_crossentropy\""}}, // optimizer state skipped
        {"archives/Nazar832__denoising_autoencoder.keras",
         {O::compiled, "Adam", UpdateRules::keras3, 0, "\"mean_squared_error\""}}, // 21 saved variables, 22 built
        {"archives/bharath9812__fusion_model.keras", {O::warned}},                 // a custom TF loss function
        {"archives/mpnunez__generator.keras", {O::uncompiled}},
        {"cases/dl4j__causal_conv1d_k3_s1_d2_cl/model.h5",
         {O::compiled, "RMSprop", UpdateRules::legacy, 0, "\"categorical_crossentropy\""}},
        {"cases/dl4j__conv1d_k3_s2_d1_cl_same/model.h5",
         {O::compiled, "RMSprop", UpdateRules::legacy, 0, "\"binary_crossentropy\""}},
        {"files/dl4j__conv1d_k3_s2_d1_cl_same_model.h5",
         {O::compiled, "RMSprop", UpdateRules::legacy, 0, "\"binary_crossentropy\""}},
        {"files/hiwony7933__unet.h5", {O::compiled, "Adam", UpdateRules::legacy, 2340, "\"binary_crossentropy\""}},
        {"files/JohnnysGithubAccount__resnet.h5",
         {O::compiled, "Adam", UpdateRules::legacy, 15625, "SparseCategoricalCrossentropy"}},
        {"files/mlcommons__pretrainedResnet.h5",
         {O::compiled, "Adam", UpdateRules::legacy, 781500, "\"categorical_crossentropy\""}},
        {"files/dl4j__conv2d_tensorflow_keras2.1.3.h5", {O::compiled, "Adam", UpdateRules::legacy, 0, "\"mse\""}},
        {"files/dl4j__sepconv2d_tensorflow_keras2.1.3.h5", {O::compiled, "Adam", UpdateRules::legacy, 0, "\"mse\""}},
        {"files/shreyanshgupta28__keras3.14_legacy_model.h5",
         {O::compiled, "Adam", UpdateRules::keras3, 17652, "\"sparse_categorical_crossentropy\""}},
        {"files/Gho-Ost__inception_alt.h5", {O::warned}},     // MeanAbsoluteError, RootMeanSquaredError metrics
        {"files/mlcommons__str_ww_model.h5", {O::warned}},    // "Custom>Adam" is read; Precision, Recall are not
        {"files/dl4j-tfkeras__cnn2d_100_DepthwiseConv2D_cl.h5", {O::unknown_layer}}, // SpatialDropout2D
        {"files/dl4j-tfkeras__cnn2d_112_Conv2DTranspose_cl.h5", {O::unknown_layer}},
        {"files/dl4j-tfkeras__cnn2d_76_SeparableConv2D_cl.h5", {O::unknown_layer}},
        {"files/dl4j-tfkeras__cnn3d_16_Conv3D_cl.h5", {O::unknown_layer}},     // SpatialDropout3D
        {"files/nnom__mnist-densenet_keras_mnist_model.h5", {O::unknown_layer}},  // Lambda
    };

    /// Model files with a training configuration: every .keras, every .h5 with /training_config.
    bool has_training_config(const std::string& path)
    {
        if (path.ends_with(".keras"))
            return true;
        if (!path.ends_with(".h5") || path.ends_with(".weights.h5"))
            return false;
        const h5::File f = h5::File::open_read(path);
        return f.has_attribute("/", "training_config");
    }

    Model small_cnn(const std::string& name)
    {
        Sequential model(name);
        auto seeded = [](int seed) { return json{{"class_name", "GlorotUniform"}, {"config", {{"seed", seed}}}}; };
        model.add(make_layer("Conv2D", {{"filters", 2}, {"kernel_size", 3}, {"activation", "relu"},
                                        {"kernel_initializer", seeded(1)}, {"batch_input_shape", {nullptr, 6, 6, 1}}}));
        model.add(make_layer("Flatten", json::object()));
        model.add(make_layer("Dense", {{"units", 3}, {"activation", "softmax"}, {"kernel_initializer", seeded(2)}}));
        return model;
    }

    struct Batch
    {
        Tensor<float> x, y;
    };

    Batch batch(std::size_t n, std::uint64_t seed)
    {
        Rng rng(seed);
        std::normal_distribution<float> normal(0.f, 1.f);
        Batch b{Tensor<float>({n, 6, 6, 1}, 0.f), Tensor<float>({n, 3}, 0.f)};
        for (auto& v : b.x)
            v = normal(rng);
        for (std::size_t i = 0; i < n; ++i)
            b.y(i, i % 3) = 1.f;
        return b;
    }

    void expect_same_weights(Model& a, Model& b, double tol)
    {
        auto wa = a.weights(), wb = b.weights();
        BOOST_TEST_REQUIRE(wa.size() == wb.size());
        for (std::size_t i = 0; i < wa.size(); ++i)
            BOOST_TEST(test::close_to_scale(wa[i]->variable.value(), wb[i]->variable.value(), tol), "weight " << i);
    }

    /// model.weights.h5 of an archive, extracted, read straight from its datasets.
    struct ArchiveWeights
    {
        explicit ArchiveWeights(const std::string& archive) : path(scratch("member.weights.h5"))
        {
            ZipReader(archive).extract("model.weights.h5", path, std::uint64_t(1) << 30);
        }
        ~ArchiveWeights() { fs::remove(path); }
        std::string path;
    };
}

BOOST_AUTO_TEST_CASE(every_real_compiled_file_loads)
{
    std::size_t seen = 0;
    for (const auto& entry : fs::recursive_directory_iterator(data_dir))
    {
        const std::string path = entry.path().string();
        if (!entry.is_regular_file() || !has_training_config(path))
            continue;
        const std::string key = path.substr(data_dir.size());
        if (key.rfind("bad/", 0) == 0) // made broken on purpose (tests/io/test_keras_archive.cpp)
            continue;
        auto it = expected_files.find(key);
        BOOST_TEST_REQUIRE((it != expected_files.end()), key << " has a training configuration: add what loading it gives");
        const Expected& want = it->second;
        ++seen;
        if (want.outcome == O::unknown_layer)
        {
            BOOST_CHECK_EXCEPTION(Model::load(path), value_error, message_contains({path, "Unknown"}));
            continue;
        }
        Model model = Model::load(path);
        BOOST_TEST(model.compiled() == (want.outcome == O::compiled), key);
        if (!model.compiled())
            continue;
        BOOST_TEST(model.optimizer().class_name() == want.optimizer, key);
        BOOST_TEST((model.optimizer().rules() == want.rules), key);
        BOOST_TEST(model.optimizer().iterations() == want.iterations, key);
        BOOST_TEST(serialize(model.loss()).dump().find(want.loss) != std::string::npos, key);
    }
    BOOST_TEST(seen == expected_files.size());
}

BOOST_AUTO_TEST_CASE(keras3_archive_restores_the_optimizer_it_holds)
{
    // Keras 3.4.1's SGD state: the iteration count (int64) and the learning rate, both restored.
    const std::string path = data_dir + "archives/2shakilrafi__autoencoder.keras";
    Model model = Model::load(path);
    ArchiveWeights member(path);
    const h5::File f = h5::File::open_read(member.path);
    BOOST_TEST(model.optimizer().raw_iterations() == f.read<std::int64_t>("optimizer/vars/0")());
    BOOST_TEST(model.optimizer().learning_rate() == f.read<float>("optimizer/vars/1")());
    BOOST_TEST(model.optimizer().learning_rate() == 0.01f);
}

BOOST_AUTO_TEST_CASE(compiled_model_saved_as_keras_trains_on_after_loading)
{
    const Batch b = batch(8, 5), next = batch(4, 6);
    Model model = small_cnn("cnn");
    model.compile("adam", "categorical_crossentropy", {"accuracy"});
    FitOptions options;
    options.batch_size = 4;
    options.verbose = 0;
    options.shuffle = false;
    model.fit(b.x, b.y, options); // two steps
    const std::string path = scratch("compiled.keras");
    model.save(path);

    // saving_lib's compile_config: the optimizer serialized under Keras 3's rules, the identifiers as given.
    const json config = json::parse(ZipReader(path).read("config.json", 1 << 20));
    const json& compile = config.at("compile_config");
    BOOST_TEST(compile["optimizer"]["module"] == "keras.optimizers");
    BOOST_TEST(compile["optimizer"]["class_name"] == "Adam");
    BOOST_TEST(compile["optimizer"]["registered_name"].is_null());
    const json& adam = compile["optimizer"]["config"];
    BOOST_TEST(!adam.contains("decay"));
    BOOST_TEST(adam["learning_rate"].is_number_float());
    for (const char* key : {"weight_decay", "use_ema", "loss_scale_factor", "gradient_accumulation_steps"})
        BOOST_TEST(adam.contains(key), key);
    BOOST_TEST(compile["loss"] == "categorical_crossentropy");
    BOOST_TEST(compile["metrics"] == json::array({"accuracy"}));
    BOOST_TEST(compile["weighted_metrics"].is_null());
    BOOST_TEST(compile["loss_weights"].is_null());
    BOOST_TEST(compile["run_eagerly"] == false);
    BOOST_TEST(compile["steps_per_execution"] == 1);
    BOOST_TEST(compile["jit_compile"] == false);

    // /optimizer/vars: iteration (int64), learning_rate, then momentum and velocity interleaved per weight.
    {
        ArchiveWeights member(path);
        const h5::File f = h5::File::open_read(member.path);
        BOOST_TEST(f.children("optimizer/vars").size() == 2u + 2u * 4u);
        BOOST_TEST(f.read<std::int64_t>("optimizer/vars/0")() == 2);
        BOOST_TEST(f.read<float>("optimizer/vars/1")() == 0.001f);
        const auto weights = model.trainable_weights();
        for (std::size_t i = 0; i < weights.size(); ++i)
        {
            const auto& m = model.optimizer().get_slot(weights[i]->variable, "m");
            const auto& v = model.optimizer().get_slot(weights[i]->variable, "v");
            BOOST_TEST(test::close_to_scale(f.read<float>("optimizer/vars/" + std::to_string(2 + 2 * i)), m, 0.0));
            BOOST_TEST(test::close_to_scale(f.read<float>("optimizer/vars/" + std::to_string(3 + 2 * i)), v, 0.0));
        }
    }

    Model back = Model::load(path);
    BOOST_TEST_REQUIRE(back.compiled());
    BOOST_TEST((back.optimizer().rules() == UpdateRules::keras3));
    BOOST_TEST(back.optimizer().iterations() == 2);
    BOOST_TEST(serialize(back.loss()) == "categorical_crossentropy");
    expect_same_weights(model, back, 0.0);
    // tf.keras's Adam and Keras 3's take the same step: the two models stay together.
    model.train_on_batch(next.x, next.y);
    back.train_on_batch(next.x, next.y);
    expect_same_weights(model, back, 1e-6);
    fs::remove(path);
}

BOOST_AUTO_TEST_CASE(keras3_optimizer_round_trips_exactly)
{
    // Under Keras 3's rules on both sides, with EMA and accumulation state, the next steps are identical.
    const Batch b = batch(8, 7), next = batch(4, 8);
    Model model = small_cnn("cnn3");
    model.compile(json{{"class_name", "AdamW"},
                       {"config", {{"learning_rate", 0.01}, {"use_ema", true}, {"gradient_accumulation_steps", 2}}}},
                  "categorical_crossentropy", {});
    for (int step = 0; step < 3; ++step)
        model.train_on_batch(b.x, b.y);
    const std::string path = scratch("adamw.keras");
    model.save(path);
    Model back = Model::load(path);
    BOOST_TEST_REQUIRE(back.compiled());
    BOOST_TEST(back.optimizer().class_name() == "AdamW");
    BOOST_TEST(back.optimizer().raw_iterations() == 3);
    BOOST_TEST(back.optimizer().get_config() == model.optimizer().get_config());
    for (int step = 0; step < 2; ++step)
    {
        model.train_on_batch(next.x, next.y);
        back.train_on_batch(next.x, next.y);
    }
    expect_same_weights(model, back, 0.0);
    fs::remove(path);
}

BOOST_AUTO_TEST_CASE(training_config_naming_what_xkeras_lacks_loads_uncompiled)
{
    Model model = small_cnn("custom");
    const std::string path = scratch("custom_loss.h5");
    SavedOptimizer<float> state{{{"loss", "my_custom_loss"},
                                 {"metrics", json::array()},
                                 {"optimizer_config", {{"class_name", "Adam"}, {"config", json::object()}}}},
                                {}};
    save_model(model.network(), path, &state);
    Model loaded = Model::load(path);
    BOOST_TEST(!loaded.compiled());
    // A known object with a value Keras rejects is still an error.
    state.training_config["loss"] = {{"class_name", "CategoricalCrossentropy"}, {"config", {{"reduction", "mean_of_squares"}}}};
    save_model(model.network(), path, &state);
    BOOST_CHECK_EXCEPTION(Model::load(path), value_error,
                          message_contains({path, "Cannot compile", "reduction"}));
    fs::remove(path);
}
