// Keras 3's LoRA on Dense and Conv1D/2D/3D (lora_rank, lora_alpha, enable_lora): the layer computes with
// kernel + (alpha / rank) * A . B, only A and B train, files store the merged kernel and loading zeroes the
// factors (keras/src/layers/core/dense.py and convolutional/base_conv.py: Dense since Keras 3.1, Conv since 3.3).
#include "framework/io/hdf5_file.hpp"
#include "framework/io/keras_h5.hpp"
#include "framework/io/zip_archive.hpp"
#include "framework/models/sequential.hpp"
#include "framework/training/model.hpp"
#include "framework/engine/random.hpp"
#include "support/checks.hpp"
#include "support/gradcheck.hpp"

#include <boost/test/unit_test.hpp>

#include <filesystem>

using namespace xk;
using xk::test::message_contains;

namespace
{
    template <class T>
    Weight<T>& weight(BasicLayer<T>& layer, const std::string& name)
    {
        for (auto* w : layer.weights())
            if (w->name == name)
                return *w;
        throw std::runtime_error(layer.name() + " has no weight " + name);
    }

    template <class T>
    std::vector<std::string> names(const std::vector<Weight<T>*>& weights)
    {
        std::vector<std::string> out;
        for (const auto* w : weights)
            out.push_back(w->name);
        return out;
    }

    /// kernel + scale * A . B by loops, the kernel's leading axes flattened into rows.
    Tensor<double> merged_by_loops(const Tensor<double>& kernel, const Tensor<double>& a, const Tensor<double>& b,
                                   double scale)
    {
        const std::size_t outputs = b.shape()[1], rank = b.shape()[0], rows = kernel.size() / outputs;
        Tensor<double> out = kernel;
        for (std::size_t i = 0; i < rows; ++i)
            for (std::size_t o = 0; o < outputs; ++o)
                for (std::size_t r = 0; r < rank; ++r)
                    out.data()[i * outputs + o] += scale * a.data()[i * rank + r] * b.data()[r * outputs + o];
        return out;
    }

    struct Case
    {
        std::string class_name;
        json config;           ///< without the LoRA keys
        Shape input;
        long rank;
        double alpha;
    };

    const std::vector<Case> cases = {
        {"Dense", {{"units", 3}}, {4, 5}, 2, 2.0},
        {"Dense", {{"units", 4}, {"activation", "tanh"}}, {2, 3, 6}, 1, 1.0},
        {"Conv1D", {{"filters", 3}, {"kernel_size", 3}, {"padding", "causal"}}, {2, 7, 2}, 2, 6.0},
        {"Conv2D", {{"filters", 4}, {"kernel_size", 3}, {"strides", 2}, {"activation", "relu"}}, {2, 7, 6, 3}, 3, 1.5},
        {"Conv2D", {{"filters", 4}, {"kernel_size", 2}, {"groups", 2}, {"use_bias", false}}, {1, 5, 5, 4}, 2, 4.0},
        {"Conv3D", {{"filters", 2}, {"kernel_size", 2}, {"padding", "same"}}, {1, 4, 3, 4, 2}, 1, 0.5},
    };

    /// The case's layer with LoRA enabled after build (Dense's build would reset a configured alpha).
    LayerPtr<double> adapted(const Case& c, std::uint64_t seed)
    {
        auto layer = make_layer<double>(c.class_name, c.config);
        layer->build(PartialShape(c.input.begin(), c.input.end()));
        layer->enable_lora(c.rank, c.alpha);
        // Random factors on both sides: a fresh B of zeros would hide a wrong gradient of A.
        for (auto* w : layer->weights())
            w->variable.value() = test::random_tensor(shape_of(w->variable.value()), seed++);
        return layer;
    }
}

BOOST_AUTO_TEST_SUITE(lora)

BOOST_AUTO_TEST_CASE(the_layer_computes_with_the_merged_kernel)
{
    std::uint64_t seed = 1;
    for (const auto& c : cases)
        BOOST_TEST_CONTEXT(c.class_name << " " << c.config.dump() << " rank " << c.rank << " alpha " << c.alpha)
        {
            auto layer = adapted(c, seed += 10);
            auto plain = make_layer<double>(c.class_name, c.config);
            plain->build(PartialShape(c.input.begin(), c.input.end()));
            weight(*plain, "kernel").variable.value() =
                merged_by_loops(weight(*layer, "kernel").variable.value(), weight(*layer, "lora_kernel_a").variable.value(),
                                weight(*layer, "lora_kernel_b").variable.value(), c.alpha / double(c.rank));
            if (c.config.value("use_bias", true))
                weight(*plain, "bias").variable.value() = weight(*layer, "bias").variable.value();
            const Tensor<double> x = test::random_tensor(c.input, seed);
            std::string why;
            BOOST_TEST(test::close_to_scale(layer->predict(x), plain->predict(x), 1e-13, &why), why);
        }
}

BOOST_AUTO_TEST_CASE(only_the_factors_and_the_bias_train_and_their_gradients_check)
{
    std::uint64_t seed = 100;
    for (const auto& c : cases)
        BOOST_TEST_CONTEXT(c.class_name << " " << c.config.dump() << " rank " << c.rank << " alpha " << c.alpha)
        {
            auto layer = adapted(c, seed += 10);
            const bool bias = c.config.value("use_bias", true);
            std::vector<std::string> trainable{"lora_kernel_a", "lora_kernel_b"};
            if (bias)
                trainable.insert(trainable.begin(), "bias");
            BOOST_TEST(names(layer->trainable_weights()) == trainable, boost::test_tools::per_element());
            std::vector<std::string> all = trainable;
            all.push_back("kernel");
            BOOST_TEST(names(layer->weights()) == all, boost::test_tools::per_element());
            Weight<double>& kernel = weight(*layer, "kernel");
            BOOST_TEST(!kernel.trainable);
            BOOST_TEST(!kernel.variable.requires_grad());

            const Tensor<double> x = test::random_tensor(c.input, seed);
            const auto report = test::check_layer_gradients(*layer, x, seed);
            BOOST_TEST(report.ok, report.summary());
            std::size_t entries = x.size();
            for (const auto* w : layer->trainable_weights())
                entries += w->variable.value().size();
            BOOST_TEST(report.checked == entries);
        }
}

BOOST_AUTO_TEST_CASE(factors_have_keras_shapes_and_a_fresh_adapter_changes_nothing)
{
    set_random_seed(3);
    auto layer = make_layer("Conv2D", {{"filters", 5}, {"kernel_size", {3, 2}}, {"lora_rank", 2}, {"name", "c"}});
    layer->build({-1, 8, 8, 3});
    BOOST_TEST(layer->lora_enabled());
    BOOST_TEST(shape_of(weight(*layer, "lora_kernel_a").variable.value()) == Shape({3, 2, 3, 2}),
               boost::test_tools::per_element());
    BOOST_TEST(shape_of(weight(*layer, "lora_kernel_b").variable.value()) == Shape({2, 5}),
               boost::test_tools::per_element());
    BOOST_TEST(layer->count_params() == 3u * 2 * 3 * 5 + 5 + 3 * 2 * 3 * 2 + 2 * 5);
    // A is he_uniform (limit sqrt(6 / fan_in), fan_in = 3 * 2 * 3 for the kernel shape's receptive field) and
    // B zeros: the adapter starts as the identity.
    const Tensor<float>& a = weight(*layer, "lora_kernel_a").variable.value();
    const float limit = std::sqrt(6.f / (3 * 2 * 3));
    BOOST_TEST(xt::amax(xt::abs(a))() <= limit);
    BOOST_TEST(xt::amax(xt::abs(a))() > 0.5f * limit);
    BOOST_TEST(xt::amax(xt::abs(weight(*layer, "lora_kernel_b").variable.value()))() == 0.f);

    auto plain = make_layer("Conv2D", {{"filters", 5}, {"kernel_size", {3, 2}}});
    plain->build({-1, 8, 8, 3});
    weight(*plain, "kernel").variable.value() = weight(*layer, "kernel").variable.value();
    const Tensor<float> x = tensor_cast<float>(test::random_tensor({2, 8, 8, 3}, 4));
    BOOST_TEST(test::close_to_scale(layer->predict(x), plain->predict(x), 0.0));

    // enable_lora on a built plain layer: the same weights appear, the output does not move.
    const Tensor<float> before = plain->predict(x);
    plain->enable_lora(3);
    BOOST_TEST(names(plain->weights()) == std::vector<std::string>({"bias", "lora_kernel_a", "lora_kernel_b", "kernel"}),
               boost::test_tools::per_element());
    BOOST_TEST(test::close_to_scale(plain->predict(x), before, 0.0));
    BOOST_TEST(plain->get_config()["lora_rank"] == 3);
    BOOST_TEST(!plain->get_config().contains("lora_alpha"));
}

BOOST_AUTO_TEST_CASE(configs_write_the_lora_keys_every_keras_3_reads)
{
    // Keras 3.10+ writes lora_alpha whenever lora_rank is set; xkeras leaves it out when it equals the rank,
    // so that Keras 3.3-3.9 (which reject the key) load the file too (framework/keras/lora.hpp).
    // Unset: neither key (Keras writes lora_rank only when set).
    for (const std::string cls : {"Dense", "Conv1D"})
    {
        json config = cls == "Dense" ? json{{"units", 2}} : json{{"filters", 2}, {"kernel_size", 2}};
        BOOST_TEST(!make_layer(cls, config)->get_config().contains("lora_rank"));
        config["lora_rank"] = nullptr;
        BOOST_TEST(!make_layer(cls, config)->get_config().contains("lora_rank"));
        BOOST_TEST(!make_layer(cls, config)->lora_enabled());
    }
    // Conv keeps its alpha through build; lora_alpha is written only when it is not the rank.
    auto conv = make_layer("Conv2D", {{"filters", 2}, {"kernel_size", 2}, {"lora_rank", 4}, {"lora_alpha", 8}});
    conv->build({-1, 5, 5, 1});
    json config = conv->get_config();
    BOOST_TEST(config["lora_rank"] == 4);
    BOOST_TEST(config["lora_alpha"] == 8);
    BOOST_TEST(make_layer("Conv2D", config)->get_config() == config);
    BOOST_TEST(conv->lora_options().scale() == 2.0);
    auto same = make_layer("Conv2D", {{"filters", 2}, {"kernel_size", 2}, {"lora_rank", 4}, {"lora_alpha", 4}});
    BOOST_TEST(!same->get_config().contains("lora_alpha"));
    auto fractional = make_layer("Conv1D", {{"filters", 2}, {"kernel_size", 2}, {"lora_rank", 2}, {"lora_alpha", 0.5}});
    BOOST_TEST(fractional->get_config()["lora_alpha"] == 0.5);

    // Dense: Keras 3.10-3.15's build enables LoRA with the rank alone, so a configured alpha becomes the rank.
    auto dense = make_layer("Dense", {{"units", 3}, {"lora_rank", 2}, {"lora_alpha", 6}});
    BOOST_TEST(dense->get_config()["lora_alpha"] == 6);
    dense->build({-1, 4});
    BOOST_TEST(dense->lora_options().scale() == 1.0);
    BOOST_TEST(!dense->get_config().contains("lora_alpha"));
    BOOST_TEST(dense->get_config()["lora_rank"] == 2);
}

BOOST_AUTO_TEST_CASE(refuses_what_keras_refuses_and_bad_ranks)
{
    // Keras's enable_lora messages (constraint, unbuilt, twice); the rank and alpha checks are ours (Keras
    // takes any value and fails later, or ignores an alpha without a rank).
    auto conv_throws = [](const json& extra, std::initializer_list<std::string> fragments) {
        json config{{"filters", 2}, {"kernel_size", 2}, {"name", "c"}};
        config.update(extra);
        BOOST_CHECK_EXCEPTION(make_layer("Conv2D", config), value_error, message_contains(fragments));
    };
    conv_throws({{"lora_rank", -1}}, {"Conv2D layer 'c'", "`lora_rank`", "positive integer", "lora_rank=-1"});
    conv_throws({{"lora_rank", "4"}}, {"`lora_rank`", "lora_rank=\"4\""});
    conv_throws({{"lora_rank", 2.5}}, {"`lora_rank`", "lora_rank=2.5"});
    conv_throws({{"lora_alpha", 4}}, {"`lora_alpha`", "`lora_rank` is not", "lora_alpha=4"});
    conv_throws({{"lora_rank", 2}, {"lora_alpha", "big"}}, {"`lora_alpha`", "lora_alpha=\"big\""});
    BOOST_CHECK_EXCEPTION(make_layer("Dense", {{"units", 2}, {"lora_rank", 0.5}}), value_error,
                          message_contains({"Dense layer", "lora_rank=0.5"}));

    // A kernel constraint, at build from the config or at enable_lora.
    auto constrained = make_layer("Conv2D", {{"filters", 2}, {"kernel_size", 2}, {"lora_rank", 2}, {"name", "k"},
                                             {"kernel_constraint", "max_norm"}});
    BOOST_CHECK_EXCEPTION(constrained->build({-1, 4, 4, 1}), value_error,
                          message_contains({"'k'", "Lora is incompatible with kernel constraints", "kernel_constraint"}));
    BOOST_TEST(constrained->weights().empty(), "a refused build created weights");
    BOOST_CHECK_EXCEPTION(constrained->build({-1, 4, 4, 1}), value_error, message_contains({"kernel constraints"}));
    BOOST_TEST(constrained->weights().empty());
    auto dense = make_layer("Dense", {{"units", 2}, {"kernel_constraint", "non_neg"}, {"name", "d"}});
    dense->build({-1, 3});
    BOOST_CHECK_EXCEPTION(dense->enable_lora(2), value_error, message_contains({"'d'", "kernel constraints"}));
    BOOST_TEST(dense->weights().size() == 2u);

    auto unbuilt = make_layer("Dense", {{"units", 2}, {"name", "u"}});
    BOOST_CHECK_EXCEPTION(unbuilt->enable_lora(2), value_error,
                          message_contains({"'u'", "Cannot enable lora on a layer that isn't yet built"}));
    auto twice = make_layer("Conv1D", {{"filters", 2}, {"kernel_size", 2}, {"name", "t"}});
    twice->build({-1, 5, 1});
    twice->enable_lora(1);
    BOOST_CHECK_EXCEPTION(twice->enable_lora(1), value_error,
                          message_contains({"'t'", "lora is already enabled", "once per layer"}));
    BOOST_TEST(twice->weights().size() == 4u);
    auto bad_rank = make_layer("Conv1D", {{"filters", 2}, {"kernel_size", 2}, {"name", "r"}});
    bad_rank->build({-1, 5, 1});
    BOOST_CHECK_EXCEPTION(bad_rank->enable_lora(0), value_error, message_contains({"'r'", "rank", "rank=0"}));
    auto flatten = make_layer("Flatten", {{"name", "f"}});
    flatten->build({-1, 2, 2});
    BOOST_CHECK_EXCEPTION(flatten->enable_lora(2), value_error,
                          message_contains({"Flatten layer 'f'", "no kernel", "enable_lora"}));
}

BOOST_AUTO_TEST_CASE(an_sgd_step_moves_the_factors_by_the_hand_computed_gradient)
{
    // One Dense layer, rank 1, alpha 2 (scale 2, set by enable_lora), mse on one batch of 4: then
    //   W = K + 2 A B,  P = x W + b,  G = dL/dP = 2 (P - y) / 8,  dW = x^T G,
    //   dA = 2 dW B^T,  dB = 2 A^T dW,  db = sum_rows G,  and K stays.
    const double lr = 0.1, scale = 2.0;
    Sequential model("m");
    model.set_input({-1, 3});
    model.add(make_layer("Dense", {{"units", 2}, {"name", "fc"}}));
    Layer& fc = *model.layers()[0];
    fc.enable_lora(1, 2.0);
    const Tensor<double> k = test::random_tensor({3, 2}, 1), bias = test::random_tensor({2}, 2),
                         a = test::random_tensor({3, 1}, 3), b = test::random_tensor({1, 2}, 4),
                         x = test::random_tensor({4, 3}, 5), y = test::random_tensor({4, 2}, 6);
    weight(fc, "kernel").variable.value() = tensor_cast<float>(k);
    weight(fc, "bias").variable.value() = tensor_cast<float>(bias);
    weight(fc, "lora_kernel_a").variable.value() = tensor_cast<float>(a);
    weight(fc, "lora_kernel_b").variable.value() = tensor_cast<float>(b);
    // The float weights, back in double, are what the step starts from.
    auto back = [](const Tensor<float>& t) { return tensor_cast<double>(t); };
    const Tensor<double> k0 = back(tensor_cast<float>(k)), b0 = back(tensor_cast<float>(bias)),
                         a0 = back(tensor_cast<float>(a)), bb0 = back(tensor_cast<float>(b)),
                         x0 = back(tensor_cast<float>(x)), y0 = back(tensor_cast<float>(y));

    Tensor<double> w(Shape{3, 2}, 0.0), g(Shape{4, 2}, 0.0), dw(Shape{3, 2}, 0.0);
    for (std::size_t i = 0; i < 3; ++i)
        for (std::size_t o = 0; o < 2; ++o)
            w(i, o) = k0(i, o) + scale * a0(i, 0) * bb0(0, o);
    for (std::size_t r = 0; r < 4; ++r)
        for (std::size_t o = 0; o < 2; ++o)
        {
            double p = b0(o);
            for (std::size_t i = 0; i < 3; ++i)
                p += x0(r, i) * w(i, o);
            g(r, o) = 2 * (p - y0(r, o)) / 8;
        }
    for (std::size_t i = 0; i < 3; ++i)
        for (std::size_t o = 0; o < 2; ++o)
            for (std::size_t r = 0; r < 4; ++r)
                dw(i, o) += x0(r, i) * g(r, o);
    Tensor<double> a1 = a0, bb1 = bb0, b1 = b0;
    for (std::size_t i = 0; i < 3; ++i)
        a1(i, 0) -= lr * scale * (dw(i, 0) * bb0(0, 0) + dw(i, 1) * bb0(0, 1));
    for (std::size_t o = 0; o < 2; ++o)
    {
        double dbb = 0, db = 0;
        for (std::size_t i = 0; i < 3; ++i)
            dbb += scale * a0(i, 0) * dw(i, o);
        for (std::size_t r = 0; r < 4; ++r)
            db += g(r, o);
        bb1(0, o) -= lr * dbb;
        b1(o) -= lr * db;
    }

    model.compile(json{{"class_name", "SGD"}, {"config", {{"learning_rate", lr}}}}, "mse");
    FitOptions options;
    options.batch_size = 4;
    options.verbose = 0;
    options.shuffle = false;
    model.fit(tensor_cast<float>(x), tensor_cast<float>(y), options);
    BOOST_TEST(test::close_to_scale(weight(fc, "kernel").variable.value(), k0, 0.0));
    BOOST_TEST(test::close_to_scale(weight(fc, "lora_kernel_a").variable.value(), a1, 1e-6));
    BOOST_TEST(test::close_to_scale(weight(fc, "lora_kernel_b").variable.value(), bb1, 1e-6));
    BOOST_TEST(test::close_to_scale(weight(fc, "bias").variable.value(), b1, 1e-6));
    // The factors did move (the check above is not of an unchanged weight).
    BOOST_TEST(!test::close_to_scale(weight(fc, "lora_kernel_a").variable.value(), a0, 1e-3));
}

BOOST_AUTO_TEST_CASE(the_frozen_kernel_carries_no_penalty_and_the_factors_do)
{
    // Keras 3 sums the penalties of trainable weights; enable_lora gives A and B the kernel's regularizer.
    Sequential model("m");
    model.set_input({-1, 3});
    model.add(make_layer("Dense", {{"units", 2}, {"name", "fc"}, {"use_bias", false},
                                   {"kernel_regularizer", {{"class_name", "L2"}, {"config", {{"l2", 0.5}}}}}}));
    Layer& fc = *model.layers()[0];
    auto total = [&] {
        Tape tape;
        return double(model.regularization_loss(tape).value()());
    };
    const Tensor<float> k = weight(fc, "kernel").variable.value();
    BOOST_TEST(total() == 0.5 * double(xt::sum(k * k)()), boost::test_tools::tolerance(1e-6));
    fc.enable_lora(1);
    const Tensor<float> a = tensor_cast<float>(test::random_tensor({3, 1}, 1)), b = tensor_cast<float>(test::random_tensor({1, 2}, 2));
    weight(fc, "lora_kernel_a").variable.value() = a;
    weight(fc, "lora_kernel_b").variable.value() = b;
    BOOST_TEST(total() == 0.5 * double(xt::sum(a * a)() + xt::sum(b * b)()), boost::test_tools::tolerance(1e-6));
}

BOOST_AUTO_TEST_CASE(files_store_the_merged_kernel_and_loading_zeroes_the_factors)
{
    const auto dir = std::filesystem::temp_directory_path();
    reset_layer_names();
    set_random_seed(5);
    Sequential model("lora_net");
    model.set_input({-1, 6, 6, 2});
    model.add(make_layer("Conv2D", {{"filters", 3}, {"kernel_size", 3}, {"lora_rank", 2}, {"lora_alpha", 4}}));
    model.add(make_layer("Flatten", json::object()));
    model.add(make_layer("Dense", {{"units", 2}}));
    model.layers()[2]->enable_lora(1);
    std::uint64_t seed = 20;
    for (auto* w : model.weights())
        w->variable.value() = tensor_cast<float>(test::random_tensor(shape_of(w->variable.value()), seed++));
    const Tensor<float> x = tensor_cast<float>(test::random_tensor({2, 6, 6, 2}, 9));
    const Tensor<float> want = model.predict(x);
    Layer& conv = *model.layers()[0];
    const Tensor<double> merged = merged_by_loops(tensor_cast<double>(weight(conv, "kernel").variable.value()),
                                                  tensor_cast<double>(weight(conv, "lora_kernel_a").variable.value()),
                                                  tensor_cast<double>(weight(conv, "lora_kernel_b").variable.value()),
                                                  2.0);

    const std::string archive = (dir / "xkeras-test-lora.keras").string();
    save_model(model, archive);
    {
        // save_own_variables: [merged kernel, bias] and nothing of the factors.
        const std::string h5 = (dir / "xkeras-test-lora-member.h5").string();
        ZipReader(archive).extract("model.weights.h5", h5, std::uint64_t(1) << 30);
        const h5::File f = h5::File::open_read(h5);
        BOOST_TEST(f.children("layers/conv2d/vars") == std::vector<std::string>({"0", "1"}),
                   boost::test_tools::per_element());
        BOOST_TEST(test::close_to_scale(f.read<double>("layers/conv2d/vars/0"), merged, 1e-6));
        BOOST_TEST(f.dataset_shape("layers/dense/vars/0") == Shape({48, 2}), boost::test_tools::per_element());
        BOOST_TEST(f.children("layers/dense/vars").size() == 2u);
        const json config = json::parse(ZipReader(archive).read("config.json", 1 << 20));
        BOOST_TEST(config["config"]["layers"][1]["config"]["lora_rank"] == 2);
        BOOST_TEST(config["config"]["layers"][1]["config"]["lora_alpha"] == 4);
        std::filesystem::remove(h5);
    }
    ModelPtr<float> loaded = load_model<float>(archive);
    Layer& conv_back = *loaded->layers()[0];
    BOOST_TEST(conv_back.lora_enabled());
    BOOST_TEST(loaded->layers()[2]->lora_enabled());
    BOOST_TEST(test::close_to_scale(weight(conv_back, "kernel").variable.value(), merged, 1e-6));
    for (const char* factor : {"lora_kernel_a", "lora_kernel_b"})
        BOOST_TEST(xt::amax(xt::abs(weight(conv_back, factor).variable.value()))() == 0.f, factor);
    BOOST_TEST(test::close_to_scale(loaded->predict(x), want, 1e-5));

    // model.save_weights / load_weights in Keras 3's layout: the same two variables, the factors zeroed.
    const std::string weights = (dir / "xkeras-test-lora.weights.h5").string();
    save_weights(model, weights);
    for (auto* w : loaded->weights())
        w->variable.value().fill(0.25f);
    load_weights(*loaded, weights);
    BOOST_TEST(test::close_to_scale(weight(conv_back, "kernel").variable.value(), merged, 1e-6));
    BOOST_TEST(xt::amax(xt::abs(weight(conv_back, "lora_kernel_b").variable.value()))() == 0.f);
    BOOST_TEST(test::close_to_scale(loaded->predict(x), want, 1e-5));

    // The legacy .h5 (Keras 3's legacy_h5_format): every weight, trainable first, so the factors come back.
    const std::string legacy = (dir / "xkeras-test-lora.h5").string();
    save_model(model, legacy);
    ModelPtr<float> from_h5 = load_model<float>(legacy);
    BOOST_TEST(from_h5->layers()[0]->lora_enabled());
    BOOST_TEST(test::close_to_scale(weight(*from_h5->layers()[0], "lora_kernel_a").variable.value(),
                                    weight(conv, "lora_kernel_a").variable.value(), 0.0));
    BOOST_TEST(test::close_to_scale(from_h5->predict(x), want, 0.0));
    for (const auto& path : {archive, weights, legacy})
        std::filesystem::remove(path);
}

BOOST_AUTO_TEST_CASE(fine_tuning_a_loaded_model_leaves_its_kernels_alone)
{
    // The use LoRA is for: a trained model, LoRA enabled on its layers, fit trains only the adapters.
    reset_layer_names();
    set_random_seed(8);
    Sequential model("tuned");
    model.set_input({-1, 5, 5, 1});
    model.add(make_layer("Conv2D", {{"filters", 2}, {"kernel_size", 3}, {"activation", "relu"}}));
    model.add(make_layer("Flatten", json::object()));
    model.add(make_layer("Dense", {{"units", 2}, {"activation", "softmax"}}));
    for (Layer* layer : {model.layers()[0], model.layers()[2]})
        layer->enable_lora(2);
    const Tensor<float> conv_kernel = weight(*model.layers()[0], "kernel").variable.value(),
                        dense_kernel = weight(*model.layers()[2], "kernel").variable.value(),
                        conv_b = weight(*model.layers()[0], "lora_kernel_b").variable.value();
    model.compile("adam", "categorical_crossentropy");
    Tensor<float> x = tensor_cast<float>(test::random_tensor({16, 5, 5, 1}, 3));
    Tensor<float> y(Shape{16, 2}, 0.f);
    for (std::size_t i = 0; i < 16; ++i)
        y(i, i % 2) = 1.f;
    FitOptions options;
    options.verbose = 0;
    options.epochs = 2;
    options.batch_size = 8;
    History h = model.fit(x, y, options);
    BOOST_TEST(h.history["loss"].size() == 2u);
    BOOST_TEST(test::close_to_scale(weight(*model.layers()[0], "kernel").variable.value(), conv_kernel, 0.0));
    BOOST_TEST(test::close_to_scale(weight(*model.layers()[2], "kernel").variable.value(), dense_kernel, 0.0));
    BOOST_TEST(!test::close_to_scale(weight(*model.layers()[0], "lora_kernel_b").variable.value(), conv_b, 1e-4));
    BOOST_TEST(model.trainable_weights().size() == 6u);
}

BOOST_AUTO_TEST_SUITE_END()
