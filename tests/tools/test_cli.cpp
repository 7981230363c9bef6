// The xkeras command-line tool, run as a user runs it: exit codes, messages, output files.
#include "framework/io/hdf5_file.hpp"
#include "framework/io/keras_h5.hpp"
#include "framework/training/model.hpp"
#include "support/gradcheck.hpp"
#include "support/checks.hpp"
#include "support/models.hpp"

#include <boost/test/unit_test.hpp>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sys/wait.h>

using namespace xk;
namespace fs = std::filesystem;

namespace
{
    const fs::path data_dir = XKERAS_TEST_DATA_DIR;

    struct Run
    {
        int status;
        std::string out; // stdout and stderr
    };

    Run xkeras_command(const std::string& command_line)
    {
        std::string command = command_line + " 2>&1";
        Run run{0, {}};
        FILE* pipe = popen(command.c_str(), "r");
        BOOST_REQUIRE(pipe);
        std::array<char, 4096> buffer;
        while (std::size_t n = std::fread(buffer.data(), 1, buffer.size(), pipe))
            run.out.append(buffer.data(), n);
        int raw = pclose(pipe);
        run.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
        return run;
    }

    Run xkeras(const std::string& arguments) { return xkeras_command(std::string(XKERAS_CLI) + " " + arguments); }

    /// The tool run with one extra environment assignment ("NAME=value").
    Run xkeras_env(const std::string& assignment, const std::string& arguments)
    {
        return xkeras_command(assignment + " " + std::string(XKERAS_CLI) + " " + arguments);
    }

    struct ScratchDir
    {
        fs::path path = fs::temp_directory_path() / ("xkeras_cli_test_" + std::to_string(::getpid()));
        ScratchDir() { fs::create_directories(path); }
        ~ScratchDir() { fs::remove_all(path); }
    };

    std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

    /// 72 of the 217 reference cases with expected outputs (a third keeps the suite quick; the in-process
    /// conformance test runs them all), chosen once so that together they hold every layer class of the
    /// reference and each option value it uses (padding, strides, dilation, data_format, use_bias,
    /// interpolation, output_padding, depth_multiplier, the regularizers, asymmetric cropping and padding) and
    /// every activation. A fixed list: the same cases on every platform.
    const std::vector<std::string> sampled_cases = {
        "c000_conv1d_conv1d_1", "c003_separable_conv1d_zero_padding1d_up_sampling1d",
        "c004_separable_conv2d_cropping2d", "c006_conv2d_transpose_zero_padding2d_up_sampling2d",
        "c007_conv3d_transpose_zero_padding3d", "c009_cropping2d_conv2d_zero_padding2d", "c015_zero_padding2d",
        "c016_zero_padding3d", "c017_conv1d", "c018_conv2d_zero_padding2d_cropping2d", "c020_separable_conv1d",
        "c024_conv3d_transpose_cropping3d_cropping3d_1", "c025_cropping1d", "c028_up_sampling1d",
        "c029_up_sampling2d", "c032_zero_padding2d_zero_padding2d_1", "c033_zero_padding3d",
        "c035_conv2d_zero_padding2d_zero_padding2d_1", "c039_depthwise_conv2d_zero_padding2d",
        "c040_conv2d_transpose", "c042_cropping1d_zero_padding1d_zero_padding1d_1", "c048_zero_padding1d_cropping1d",
        "c049_zero_padding2d_separable_conv2d_cropping2d", "c050_zero_padding3d", "c051_conv1d_separable_conv1d",
        "c052_conv2d_separable_conv2d_depthwise_conv2d", "c056_depthwise_conv2d_cropping2d_zero_padding2d",
        "c066_zero_padding2d", "c067_zero_padding3d_up_sampling3d_conv3d_transpose",
        "c075_conv3d_transpose_up_sampling3d_zero_padding3d", "c076_cropping1d",
        "c081_up_sampling3d_cropping3d_zero_padding3d", "c082_zero_padding1d", "c083_zero_padding2d",
        "c084_zero_padding3d_cropping3d", "c087_conv3d_zero_padding3d",
        "c090_depthwise_conv2d_cropping2d_zero_padding2d", "c095_cropping3d_zero_padding3d", "c096_up_sampling1d",
        "c098_up_sampling3d_cropping3d_zero_padding3d", "c101_zero_padding3d_conv3d", "c103_conv2d_zero_padding2d",
        "c104_conv3d_zero_padding3d_up_sampling3d", "c111_cropping2d_conv2d_transpose",
        "c117_zero_padding2d_zero_padding2d_1", "c118_zero_padding3d", "c121_conv3d_conv3d_1_zero_padding3d",
        "c123_separable_conv2d_cropping2d", "c126_conv3d_transpose_up_sampling3d_conv3d",
        "c131_up_sampling2d_zero_padding2d", "c132_up_sampling3d_conv3d",
        "c133_zero_padding1d_up_sampling1d_separable_conv1d", "c134_zero_padding2d_cropping2d_conv2d",
        "c135_zero_padding3d_zero_padding3d_1_conv3d", "c148_up_sampling2d_depthwise_conv2d_zero_padding2d",
        "c151_zero_padding2d", "c152_zero_padding3d", "c155_conv3d_cropping3d_zero_padding3d",
        "c161_cropping1d_zero_padding1d_conv1d", "c167_zero_padding1d_zero_padding1d_1",
        "c168_zero_padding2d_depthwise_conv2d", "c169_zero_padding3d", "c172_conv3d_zero_padding3d_cropping3d",
        "c174_separable_conv2d_conv2d_transpose", "c186_zero_padding3d", "c192_depthwise_conv2d_conv2d_transpose",
        "c194_conv3d_transpose", "c202_zero_padding2d_zero_padding2d_1", "c203_zero_padding3d",
        "c207_separable_conv1d_conv1d_conv1d_1", "c216_up_sampling2d_up_sampling2d_1", "c219_zero_padding2d"};

    void check_close(const std::string& what, const Tensor<float>& got, const Tensor<float>& expected)
    {
        std::string why;
        BOOST_TEST(test::close_to_scale(got, expected, 1e-4, &why), what << ": " << why);
    }
}

BOOST_AUTO_TEST_SUITE(cli)

BOOST_AUTO_TEST_CASE(grad_and_predict_match_the_reference_cases)
{
    ScratchDir scratch;
    std::size_t n = 0;
    for (const std::string& name : sampled_cases)
    {
        const fs::path dir = data_dir / "reference/valid" / name, out = scratch.path / "out.h5";
        BOOST_TEST_CONTEXT(name)
        {
            if (!fs::exists(dir / "expect.h5"))
            {
                BOOST_ERROR("no reference case " << dir);
                continue;
            }
            fs::remove(out);
            Run run = xkeras("grad " + q(dir / "model.h5") + " " + q(dir / "input.h5") + " " + q(out));
            BOOST_TEST_REQUIRE(run.status == 0, run.out);
            auto got = h5::File::open_read(out.string());
            auto expect = h5::File::open_read((dir / "expect.h5").string());
            check_close("y", got.read<float>("y"), expect.read<float>("y"));
            check_close("dx", got.read<float>("dx"), expect.read<float>("dx"));
            // Every gradient the reference holds, at the same path in our output.
            std::function<void(const std::string&)> visit = [&](const std::string& group) {
                for (const auto& child : expect.children(group))
                {
                    const std::string path = group + "/" + child;
                    if (expect.is_dataset(path))
                        check_close(path, got.read<float>(path), expect.read<float>(path));
                    else
                        visit(path);
                }
            };
            if (expect.exists("model_weights"))
                visit("model_weights");

            fs::remove(out);
            run = xkeras("predict " + q(dir / "model.h5") + " " + q(dir / "input.h5") + " " + q(out));
            BOOST_TEST_REQUIRE(run.status == 0, run.out);
            check_close("predict y", h5::File::open_read(out.string()).read<float>("y"), expect.read<float>("y"));
            ++n;
        }
    }
    BOOST_TEST(n == sampled_cases.size());
    BOOST_TEST(sampled_cases.size() == 72u);

    // Every layer class of the reference cases is among the sampled ones.
    std::set<std::string> all, sampled;
    for (const auto& entry : json::parse(std::ifstream(data_dir / "reference/valid/index.json")))
    {
        if (entry.value("expect_error", false))
            continue;
        const bool in_sample = std::find(sampled_cases.begin(), sampled_cases.end(), entry["case"]) != sampled_cases.end();
        for (const auto& layer : entry["layers"])
        {
            all.insert(layer.get<std::string>());
            if (in_sample)
                sampled.insert(layer.get<std::string>());
        }
    }
    BOOST_TEST(all.size() >= 17u);
    for (const auto& layer_class : all)
        BOOST_TEST(sampled.count(layer_class) == 1u, layer_class << " is in no sampled case");
}

BOOST_AUTO_TEST_CASE(invalid_models_exit_2_with_one_line_and_no_output)
{
    ScratchDir scratch;
    for (const auto& entry : fs::directory_iterator(data_dir / "reference/invalid"))
    {
        const fs::path dir = entry.path(), out = scratch.path / "bad.h5";
        if (!entry.is_directory())
            continue;
        BOOST_TEST_CONTEXT(dir.filename().string())
        {
            Run run = xkeras("predict " + q(dir / "model.h5") + " " + q(dir / "input.h5") + " " + q(out));
            BOOST_TEST(run.status == 2);
            BOOST_TEST(run.out.rfind("xkeras: ", 0) == 0u, run.out);
            BOOST_TEST(std::count(run.out.begin(), run.out.end(), '\n') == 1);
            BOOST_TEST(!fs::exists(out));
        }
    }
}

BOOST_AUTO_TEST_CASE(usage_and_file_errors)
{
    ScratchDir scratch;
    const fs::path model = data_dir / "reference/valid/c001_conv2d/model.h5", out = scratch.path / "o.h5";
    BOOST_TEST(xkeras("").status == 2);
    BOOST_TEST(xkeras("frobnicate").status == 2);
    BOOST_TEST(xkeras("predict " + q(model)).status == 2);
    Run missing = xkeras("predict " + q(scratch.path / "nope.h5") + " " + q(model) + " " + q(out));
    BOOST_TEST(missing.status == 2);
    BOOST_TEST(missing.out.find("nope.h5") != std::string::npos, missing.out);
    Run no_upstream = xkeras("grad " + q(model) + " " + q(data_dir / "keras_files/cases/dl4j__conv1d_k3_s2_d1_cl_same/input.h5") + " " + q(out));
    BOOST_TEST(no_upstream.status == 2);
    BOOST_TEST(!fs::exists(out));
    std::ofstream(scratch.path / "text.h5") << "not hdf5";
    Run not_h5 = xkeras("summary " + q(scratch.path / "text.h5"));
    BOOST_TEST(not_h5.status == 2);
    BOOST_TEST(not_h5.out.find("text.h5") != std::string::npos, not_h5.out);
}

BOOST_AUTO_TEST_CASE(thread_count_from_the_option_and_the_environment)
{
    ScratchDir scratch;
    const fs::path dir = data_dir / "reference/valid/c001_conv2d", out = scratch.path / "y.h5";
    const std::string args = "predict " + q(dir / "model.h5") + " " + q(dir / "input.h5") + " " + q(out);
    Run one = xkeras("--threads 1 " + args);
    BOOST_TEST_REQUIRE(one.status == 0, one.out);
    const Tensor<float> y1 = h5::File::open_read(out.string()).read<float>("y");
    Run env = xkeras_env("XKERAS_NUM_THREADS=2", args);
    BOOST_TEST_REQUIRE(env.status == 0, env.out);
    BOOST_TEST((h5::File::open_read(out.string()).read<float>("y") == y1));

    for (const char* bad : {"--threads 0 ", "--threads -3 ", "--threads many "})
    {
        Run run = xkeras(bad + args);
        BOOST_TEST(run.status == 2, bad);
        BOOST_TEST(run.out.find("--threads") != std::string::npos, run.out);
    }
    Run bad_env = xkeras_env("XKERAS_NUM_THREADS=lots", args);
    BOOST_TEST(bad_env.status == 2);
    BOOST_TEST(bad_env.out.find("XKERAS_NUM_THREADS must be a positive integer. Received XKERAS_NUM_THREADS='lots'") !=
                   std::string::npos,
               bad_env.out);
}

BOOST_AUTO_TEST_CASE(check_numerics_from_the_environment_names_the_layer)
{
    // A Dense kernel of 1e30 on inputs of 1e10 overflows float: silently without the variable, an error
    // naming the layer with XKERAS_CHECK_NUMERICS=1.
    ScratchDir scratch;
    Sequential model("overflow");
    model.set_input({-1, 3});
    model.add(make_layer("Dense", {{"units", 2}, {"name", "huge"}, {"kernel_initializer", "ones"}}));
    auto& kernel = model.layer("huge").weights()[0]->variable.value();
    std::fill(kernel.begin(), kernel.end(), 1e30f);
    const fs::path saved = scratch.path / "m.h5", in = scratch.path / "x.h5", out = scratch.path / "y.h5";
    model.save(saved.string());
    h5::write_atomically(in.string(), [&](h5::File& f) { f.write("x", Tensor<float>({2, 3}, 1e10f)); });
    const std::string args = "predict " + q(saved) + " " + q(in) + " " + q(out);
    Run plain = xkeras(args);
    BOOST_TEST(plain.status == 0, plain.out);
    fs::remove(out);
    Run checked = xkeras_env("XKERAS_CHECK_NUMERICS=1", args);
    BOOST_TEST(checked.status == 2);
    BOOST_TEST(checked.out.find("Inf in the output of Dense layer 'huge'") != std::string::npos, checked.out);
    BOOST_TEST(!fs::exists(out));
}

BOOST_AUTO_TEST_CASE(summary_lists_layers_shapes_and_parameters)
{
    Run run = xkeras("summary " + q(data_dir / "reference/valid/c006_conv2d_transpose_zero_padding2d_up_sampling2d/model.h5"));
    BOOST_TEST_REQUIRE(run.status == 0, run.out);
    for (const char* fragment : {"Model: \"sequential\"", "conv2d_transpose (Conv2DTranspose)", "(None, 8, 10, 3)", "21",
                                 "zero_padding2d (ZeroPadding2D)", "(None, 10, 22, 3)", "Total params: 21",
                                 "Trainable params: 21", "Non-trainable params: 0"})
        BOOST_TEST(run.out.find(fragment) != std::string::npos, fragment << " missing from\n" << run.out);
}

BOOST_AUTO_TEST_CASE(summary_and_predict_on_the_mnist_cnn_model)
{
    // The architecture examples/mnist_cnn saves: Keras's mnist_cnn has 1,199,882 parameters.
    ScratchDir scratch;
    Sequential model = test::mnist_cnn();
    model.compile("adam", "categorical_crossentropy", {"accuracy"});
    const fs::path saved = scratch.path / "mnist_cnn.h5", in = scratch.path / "x.h5", out = scratch.path / "y.h5";
    model.save(saved.string());
    Run summary = xkeras("summary " + q(saved));
    BOOST_TEST_REQUIRE(summary.status == 0, summary.out);
    for (const char* fragment : {"Model: \"mnist_cnn\"", "(None, 24, 24, 64)", "(None, 9216)", "1,179,776",
                                 "Total params: 1,199,882"})
        BOOST_TEST(summary.out.find(fragment) != std::string::npos, fragment << " missing from\n" << summary.out);
    const Tensor<float> x = test::random_tensor({3, 28, 28, 1}, 5) * 0.5 + 0.5;
    h5::write_atomically(in.string(), [&](h5::File& f) { f.write("x", tensor_cast<float>(Tensor<double>(x))); });
    Run predict = xkeras("predict " + q(saved) + " " + q(in) + " " + q(out));
    BOOST_TEST_REQUIRE(predict.status == 0, predict.out);
    const Tensor<float> y = h5::File::open_read(out.string()).read<float>("y");
    std::string why;
    BOOST_TEST(test::close_to_scale(y, model.predict(tensor_cast<float>(Tensor<double>(x))), 1e-6, &why), why);
}

BOOST_AUTO_TEST_CASE(gradcheck_passes_on_every_layer_family)
{
    for (const char* c : {"c000_conv1d_conv1d_1", "c003_separable_conv1d_zero_padding1d_up_sampling1d",
                          "c006_conv2d_transpose_zero_padding2d_up_sampling2d", "c010_cropping3d_conv3d_up_sampling3d"})
    {
        const fs::path dir = data_dir / "reference/valid" / c;
        Run run = xkeras("gradcheck " + q(dir / "model.h5") + " " + q(dir / "input.h5"));
        BOOST_TEST(run.status == 0, c << ":\n" << run.out);
        BOOST_TEST(run.out.find("gradcheck passed") != std::string::npos, run.out);
        BOOST_TEST(run.out.find("worst relative error") != std::string::npos);
    }
    Run random_input = xkeras("gradcheck " + q(data_dir / "reference/valid/c001_conv2d/model.h5"));
    BOOST_TEST(random_input.status == 0, random_input.out);
}

BOOST_AUTO_TEST_CASE(gradcheck_passes_on_depthwise_dense_pooling_and_normalization_layers)
{
    // The families the reference cases lack, in a file of each format, with weights far from their
    // initial values (a zero bias or a unit variance would hide a wrong gradient).
    ScratchDir scratch;
    Sequential model("families");
    model.set_input({-1, 9, 9, 3});
    model.add(make_layer("DepthwiseConv2D", {{"kernel_size", 3}, {"depth_multiplier", 2}, {"activation", "tanh"}}));
    model.add(make_layer("BatchNormalization", json::object()));
    model.add(make_layer("MaxPooling2D", {{"pool_size", 2}}));
    model.add(make_layer("AveragePooling2D", {{"pool_size", 2}, {"padding", "same"}}));
    model.add(make_layer("Flatten"));
    model.add(make_layer("Dense", {{"units", 4}, {"activation", "softmax"}, {"lora_rank", 2}}));
    std::uint64_t seed = 40;
    for (auto* w : model.weights())
    {
        Tensor<double> v = test::random_tensor(shape_of(w->variable.value()), seed++);
        if (w->name == "moving_variance")
            v = xt::abs(v) + 0.5;
        w->variable.value() = tensor_cast<float>(v);
    }
    for (const char* name : {"families.h5", "families.keras"})
    {
        const fs::path path = scratch.path / name;
        model.save(path.string());
        Run run = xkeras("gradcheck " + q(path));
        BOOST_TEST_CONTEXT(name << ":\n" << run.out)
        {
            BOOST_TEST(run.status == 0);
            BOOST_TEST(run.out.find("gradcheck passed") != std::string::npos);
            for (const char* layer : {"(DepthwiseConv2D)", "(BatchNormalization)", "(MaxPooling2D)",
                                      "(AveragePooling2D)", "(Flatten)", "(Dense)"})
                BOOST_TEST(run.out.find(layer) != std::string::npos, layer);
            std::size_t ok = 0;
            for (std::size_t at = run.out.find(": ok\n"); at != std::string::npos; at = run.out.find(": ok\n", at + 1))
                ++ok;
            BOOST_TEST(ok == model.layers().size());
        }
    }
}

BOOST_AUTO_TEST_CASE(convert_moves_weights_between_layouts)
{
    ScratchDir scratch;
    const fs::path model = data_dir / "reference/valid/c004_separable_conv2d_cropping2d/model.h5";
    const fs::path k3 = scratch.path / "w.weights.h5", back = scratch.path / "w.h5";
    BOOST_TEST_REQUIRE(xkeras("convert " + q(model) + " " + q(model) + " " + q(k3)).status == 0);
    BOOST_TEST_REQUIRE(xkeras("convert " + q(model) + " " + q(k3) + " " + q(back)).status == 0);
    auto original = load_model<float>(model.string());
    auto reloaded = load_model<float>(model.string());
    for (auto* w : reloaded->weights())
        w->variable.value().fill(0.f);
    load_weights(*reloaded, back.string());
    auto a = original->weights(), b = reloaded->weights();
    BOOST_REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i)
        BOOST_TEST(a[i]->variable.value() == b[i]->variable.value());
    BOOST_TEST(xkeras("convert " + q(model) + " " + q(back) + " " + q(scratch.path / "x.h5")).status == 2);
}

BOOST_AUTO_TEST_CASE(convert_moves_models_between_h5_and_keras)
{
    // A compiled tf.keras file to a Keras 3 archive and back: the same weights, predictions and optimizer
    // state (under Keras 3's rules from the archive on), and every verb reads the archive.
    ScratchDir scratch;
    const fs::path case_dir = data_dir / "keras_files/cases/dl4j__conv1d_k3_s2_d1_cl_same";
    const fs::path h5 = case_dir / "model.h5", archive = scratch.path / "model.keras", back = scratch.path / "back.h5";
    Run to_keras = xkeras("convert " + q(h5) + " " + q(archive));
    BOOST_TEST_REQUIRE(to_keras.status == 0, to_keras.out);
    Run to_h5 = xkeras("convert " + q(archive) + " " + q(back));
    BOOST_TEST_REQUIRE(to_h5.status == 0, to_h5.out);
    Model original = Model::load(h5.string()), from_archive = Model::load(archive.string()),
          round_trip = Model::load(back.string());
    for (Model* m : {&from_archive, &round_trip})
    {
        BOOST_TEST_REQUIRE(m->compiled());
        BOOST_TEST(m->optimizer().class_name() == original.optimizer().class_name());
        BOOST_TEST((m->optimizer().rules() == UpdateRules::keras3));
        BOOST_TEST(m->optimizer().iterations() == original.optimizer().iterations());
        auto a = original.weights(), b = m->weights();
        BOOST_TEST_REQUIRE(a.size() == b.size());
        for (std::size_t i = 0; i < a.size(); ++i)
            BOOST_TEST(a[i]->variable.value() == b[i]->variable.value());
    }

    const fs::path y_h5 = scratch.path / "y_h5.h5", y_keras = scratch.path / "y_keras.h5";
    BOOST_TEST_REQUIRE(xkeras("predict " + q(h5) + " " + q(case_dir / "input.h5") + " " + q(y_h5)).status == 0);
    Run predict = xkeras("predict " + q(archive) + " " + q(case_dir / "input.h5") + " " + q(y_keras));
    BOOST_TEST_REQUIRE(predict.status == 0, predict.out);
    BOOST_TEST(h5::File::open_read(y_h5.string()).read<float>("y") ==
               h5::File::open_read(y_keras.string()).read<float>("y"));
    Run summary = xkeras("summary " + q(archive));
    BOOST_TEST(summary.status == 0, summary.out);
    BOOST_TEST(summary.out.find("Total params") != std::string::npos, summary.out);

    // Weights from an archive into another layout; a weights file is not a model.
    const fs::path weights = scratch.path / "w.weights.h5";
    BOOST_TEST(xkeras("convert " + q(h5) + " " + q(archive) + " " + q(weights)).status == 0);
    const fs::path rebuilt = scratch.path / "rebuilt.keras";
    BOOST_TEST(xkeras("convert " + q(h5) + " " + q(weights) + " " + q(rebuilt)).status == 0);
    auto from_weights = load_model<float>(rebuilt.string());
    auto want = original.weights(), got = from_weights->weights();
    BOOST_TEST_REQUIRE(want.size() == got.size());
    for (std::size_t i = 0; i < want.size(); ++i)
        BOOST_TEST(want[i]->variable.value() == got[i]->variable.value());
    BOOST_TEST(xkeras("convert " + q(h5) + " " + q(archive) + " " + q(scratch.path / "same.keras")).status == 2);
    Run not_model = xkeras("convert " + q(weights) + " " + q(scratch.path / "x.keras"));
    BOOST_TEST(not_model.status == 2);
    BOOST_TEST(not_model.out.find("is a weights file") != std::string::npos, not_model.out);
    BOOST_TEST(!fs::exists(scratch.path / "x.keras"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(graph_models)

// A two-input, two-output graph with a shared layer and a nested model, saved as tf.keras writes it: the tool
// reads x0, x1 and writes y0, y1 (dx0, dx1 for grad), and agrees with the library run in process.
BOOST_AUTO_TEST_CASE(summary_predict_grad_and_gradcheck_on_a_graph)
{
    ScratchDir scratch;
    reset_layer_names();
    auto inner_in = Input({3}, "inner_in");
    LayerRef inner_dense = make_layer("Dense", {{"units", 3}, {"activation", "tanh"}, {"name", "inner_dense"}});
    auto inner = std::make_shared<Functional>(std::vector{inner_in}, std::vector{inner_dense(inner_in)}, "inner");
    auto a = Input({3}, "a"), b = Input({3}, "b");
    LayerRef shared = make_layer("Dense", {{"units", 3}, {"activation", "sigmoid"}, {"name", "shared"}});
    LayerRef nested(std::static_pointer_cast<BasicModel<float>>(inner));
    LayerRef head = make_layer("Dense", {{"units", 2}, {"name", "head"}});
    Functional model({a, b}, {head(nested(shared(a))), shared(b)}, "graph");
    const fs::path model_path = scratch.path / "graph.h5", input = scratch.path / "in.h5", out = scratch.path / "out.h5";
    save_model(model, model_path.string());
    const Tensor<float> xa = tensor_cast<float>(random_tensor({4, 3}, 1)), xb = tensor_cast<float>(random_tensor({4, 3}, 2));
    const Tensor<float> ua = tensor_cast<float>(random_tensor({4, 2}, 3)), ub = tensor_cast<float>(random_tensor({4, 3}, 4));
    h5::write_atomically(input.string(), [&](h5::File& f) {
        f.write("x0", xa);
        f.write("x1", xb);
        f.write("upstream0", ua);
        f.write("upstream1", ub);
    });

    Run summary = xkeras("summary " + q(model_path));
    BOOST_TEST(summary.status == 0, summary.out);
    for (const char* text : {"Connected to", "inner (Functional)", "['shared[0][0]']", "shared (Dense)", "b (InputLayer)"})
        BOOST_TEST(summary.out.find(text) != std::string::npos, text << " in\n" << summary.out);

    BOOST_TEST_REQUIRE(xkeras("predict " + q(model_path) + " " + q(input) + " " + q(out)).status == 0);
    const std::vector<Tensor<float>> xs{xa, xb}, ups{ua, ub};
    auto want = model.predict(xs);
    {
        auto f = h5::File::open_read(out.string());
        check_close("y0", f.read<float>("y0"), want[0]);
        check_close("y1", f.read<float>("y1"), want[1]);
        BOOST_TEST(!f.exists("y"));
    }

    BOOST_TEST_REQUIRE(xkeras("grad " + q(model_path) + " " + q(input) + " " + q(out)).status == 0);
    auto grads = model.gradients(xs, ups);
    {
        auto f = h5::File::open_read(out.string());
        check_close("dx0", f.read<float>("dx0"), grads.inputs[0]);
        check_close("dx1", f.read<float>("dx1"), grads.inputs[1]);
        check_close("inner kernel", f.read<float>("model_weights/inner/inner_dense/kernel:0"), grads.weights[2]);
        check_close("shared kernel", f.read<float>("model_weights/shared/shared/kernel:0"), grads.weights[0]);
    }

    Run check = xkeras("gradcheck " + q(model_path) + " " + q(input));
    BOOST_TEST(check.status == 0, check.out);
    // One line per layer call: the shared layer twice, the nested model once as a whole.
    std::size_t shared_lines = 0, pos = 0;
    while ((pos = check.out.find("shared (Dense)", pos)) != std::string::npos)
        ++shared_lines, ++pos;
    BOOST_TEST(shared_lines == 2u, check.out);
    BOOST_TEST(check.out.find("inner (Functional)") != std::string::npos, check.out);
    BOOST_TEST(check.out.find("gradcheck passed") != std::string::npos, check.out);

    // A missing input dataset names it and what the model expects.
    h5::write_atomically(input.string(), [&](h5::File& f) { f.write("x0", xa); });
    Run missing = xkeras("predict " + q(model_path) + " " + q(input) + " " + q(out));
    BOOST_TEST(missing.status == 2);
    BOOST_TEST(missing.out.find("dataset 'x1' not found") != std::string::npos, missing.out);
    BOOST_TEST(missing.out.find("a, b") != std::string::npos, missing.out);
}

BOOST_AUTO_TEST_SUITE_END()
