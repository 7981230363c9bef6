// xkeras: Keras model files from the command line.
//
//   xkeras summary   MODEL.h5
//   xkeras predict   MODEL.h5 INPUT.h5 OUTPUT.h5     (x -> y)
//   xkeras grad      MODEL.h5 INPUT.h5 OUTPUT.h5     (x, upstream -> y, dx, model_weights/...)
//   xkeras gradcheck MODEL.h5 [INPUT.h5]
//   xkeras convert   MODEL.h5 IN OUT                  (weights: tf.keras .h5 <-> Keras 3 .weights.h5)
//
// Exit status: 0 success, 1 a failed gradient check, 2 bad input or usage (one line on stderr). Output files
// are written atomically: a failed command leaves none behind.
#include "framework/gradcheck.hpp"
#include "framework/io/hdf5_file.hpp"
#include "framework/io/keras_h5.hpp"
#include "framework/parallel.hpp"
#include "framework/sequential.hpp"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <cstdio>
#include <string>

using namespace xk;

namespace
{
    constexpr int exit_failed_check = 1;
    constexpr int exit_bad_input = 2;

    void summary(const std::string& model_path) { fmt::print("{}", load_model<float>(model_path).summary()); }

    void predict(const std::string& model_path, const std::string& input_path, const std::string& output_path)
    {
        auto model = load_model<float>(model_path);
        const Tensor<float> x = h5::File::open_read(input_path).read<float>("x");
        const Tensor<float> y = model.predict(x);
        h5::write_atomically(output_path, [&](h5::File& out) { out.write("y", y); });
    }

    void grad(const std::string& model_path, const std::string& input_path, const std::string& output_path)
    {
        auto model = load_model<float>(model_path);
        auto input = h5::File::open_read(input_path);
        XK_CHECK(input.exists("upstream"), io_error, "'", input_path,
                 "': dataset 'upstream' not found (grad needs x and the upstream gradient of y).");
        auto result = model.gradients(input.read<float>("x"), input.read<float>("upstream"));
        h5::write_atomically(output_path, [&](h5::File& out) {
            out.write("y", result.y);
            out.write("dx", result.dx);
            // The gradients sit where the weights sit in a model file: model_weights/<layer>/<layer>/<w>:0.
            std::vector<std::string> layer_names;
            std::size_t k = 0;
            for (std::size_t i = 0; i < model.size(); ++i)
            {
                auto& layer = model.layer(i);
                const std::string group = "model_weights/" + layer.name();
                layer_names.push_back(layer.name());
                out.create_group(group);
                std::vector<std::string> weight_names;
                auto trainable = layer.trainable_weights();
                for (auto* w : layer.weights())
                {
                    weight_names.push_back(layer.weight_path(*w));
                    bool trained = std::find(trainable.begin(), trainable.end(), w) != trainable.end();
                    // Non-trainable weights (moving statistics) get no gradient from the loss: zeros.
                    out.write(group + "/" + layer.weight_path(*w),
                              trained ? result.weights.at(k++) : Tensor<float>(w->variable.value().shape(), 0.f));
                }
                out.write_string_list_attribute(group, "weight_names", weight_names);
            }
            out.create_group("model_weights");
            out.write_string_list_attribute("model_weights", "layer_names", layer_names);
        });
    }

    int gradcheck(const std::string& model_path, const std::string& input_path)
    {
        auto model = load_model<double>(model_path);
        Tensor<double> x;
        if (!input_path.empty())
        {
            x = h5::File::open_read(input_path).read<double>("x");
            // Two samples are enough to exercise every path; a whole batch only costs time.
            if (x.dimension() > 0 && x.shape()[0] > 2)
                x = Tensor<double>(xt::view(x, xt::range(0, 2)));
        }
        else
        {
            XK_CHECK(model.input_shape().has_value(), value_error, "'", model_path,
                     "' declares no input shape; give an INPUT.h5 with a dataset 'x'.");
            Shape shape{2};
            for (std::size_t i = 1; i < model.input_shape()->size(); ++i)
            {
                long d = (*model.input_shape())[i];
                XK_CHECK(d > 0, value_error, "'", model_path, "' has an unknown input dimension ", i,
                         "; give an INPUT.h5 with a dataset 'x'.");
                shape.push_back(std::size_t(d));
            }
            x = random_tensor(shape, 7);
        }
        bool all_ok = true;
        for (std::size_t i = 0; i < model.size(); ++i)
        {
            auto& layer = model.layer(i);
            auto report = check_layer_gradients(layer, x, i, false, /*max_entries=*/256);
            all_ok = all_ok && report.ok;
            fmt::print("{:<32} worst relative error {:.3e} at {} over {} entries: {}\n",
                       layer.name() + " (" + layer.class_name() + ")", report.worst_error, report.worst_at,
                       report.checked, report.ok ? "ok" : "FAILED");
            x = layer.predict(x);
        }
        fmt::print("{}\n", all_ok ? "gradcheck passed" : "gradcheck FAILED");
        return all_ok ? 0 : exit_failed_check;
    }

    void convert(const std::string& model_path, const std::string& in_path, const std::string& out_path)
    {
        XK_CHECK(is_keras3_weights_path(in_path) != is_keras3_weights_path(out_path), value_error,
                 "convert moves weights between the tf.keras .h5 layout and Keras 3's .weights.h5: exactly one of '",
                 in_path, "' and '", out_path, "' must end in .weights.h5.");
        auto model = load_model<float>(model_path);
        load_weights(model, in_path);
        save_weights(model, out_path);
    }
}

int main(int argc, char** argv)
{
    CLI::App app{"xkeras: Keras HDF5 model files from the command line"};
    app.require_subcommand(1);
    std::string model_path, input_path, output_path, in_path;
    int threads = 0;
    app.add_option("--threads", threads,
                   "worker threads for the whole run (default: XKERAS_NUM_THREADS, else every core)")
        ->check(CLI::PositiveNumber);

    auto* summary_cmd = app.add_subcommand("summary", "Print a Keras-like summary of MODEL.h5");
    summary_cmd->add_option("MODEL", model_path, "a Keras model file")->required();

    auto* predict_cmd = app.add_subcommand("predict", "Read dataset x from INPUT.h5, write y to OUTPUT.h5");
    auto* grad_cmd = app.add_subcommand(
        "grad", "Read x and upstream from INPUT.h5; write y, dx and model_weights/... gradients of "
                "sum(y * upstream) + the model's regularization losses");
    for (auto* cmd : {predict_cmd, grad_cmd})
    {
        cmd->add_option("MODEL", model_path, "a Keras model file")->required();
        cmd->add_option("INPUT", input_path, "an HDF5 file with dataset x (batch first)")->required();
        cmd->add_option("OUTPUT", output_path, "the HDF5 file to write")->required();
    }

    auto* gradcheck_cmd = app.add_subcommand("gradcheck", "Finite-difference check of every layer in double precision");
    gradcheck_cmd->add_option("MODEL", model_path, "a Keras model file")->required();
    gradcheck_cmd->add_option("INPUT", input_path, "an HDF5 file with dataset x (default: random input)");

    auto* convert_cmd = app.add_subcommand("convert", "Convert weights between tf.keras .h5 and Keras 3 .weights.h5");
    convert_cmd->add_option("MODEL", model_path, "the model file giving the architecture")->required();
    convert_cmd->add_option("IN", in_path, "weights to read")->required();
    convert_cmd->add_option("OUT", output_path, "weights to write")->required();

    try
    {
        app.parse(argc, argv);
    }
    catch (const CLI::CallForHelp& e)
    {
        return app.exit(e);
    }
    catch (const CLI::ParseError& e)
    {
        app.exit(e);
        return exit_bad_input;
    }

    try
    {
        if (threads > 0)
            set_num_threads(threads);
        else
            num_threads(); // reads XKERAS_NUM_THREADS now, so a bad value is reported before any work
        if (summary_cmd->parsed())
            summary(model_path);
        else if (predict_cmd->parsed())
            predict(model_path, input_path, output_path);
        else if (grad_cmd->parsed())
            grad(model_path, input_path, output_path);
        else if (gradcheck_cmd->parsed())
            return gradcheck(model_path, input_path);
        else if (convert_cmd->parsed())
            convert(model_path, in_path, output_path);
        return 0;
    }
    catch (const std::exception& e)
    {
        fmt::print(stderr, "xkeras: {}\n", e.what());
        return exit_bad_input;
    }
}
