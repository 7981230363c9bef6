// xkeras: Keras model files from the command line.
//
//   xkeras summary   MODEL
//   xkeras predict   MODEL INPUT.h5 OUTPUT.h5        (x -> y)
//   xkeras grad      MODEL INPUT.h5 OUTPUT.h5        (x, upstream -> y, dx, model_weights/...)
//   xkeras gradcheck MODEL [INPUT.h5]
//   xkeras convert   IN OUT                          (models: tf.keras .h5 <-> Keras 3 .keras, training state too)
//   xkeras convert   MODEL IN OUT                    (weights: tf.keras .h5, Keras 3 .weights.h5, .keras)
//
// MODEL is a model file, .h5 or .keras (chosen by the extension, as Keras does).
// Sequential and functional models alike. A model of several inputs reads datasets x0, x1, ... (in the order
// of its inputs) instead of x; several outputs write y0, y1, ... (and take upstream0, upstream1, ...; grad
// writes dx0, dx1, ...).
//
// Exit status: 0 success, 1 a failed gradient check, 2 bad input or usage (one line on stderr). Output files
// are written atomically: a failed command leaves none behind.
#include "framework/keras/gradcheck.hpp"
#include "framework/io/hdf5_file.hpp"
#include "framework/io/keras_archive.hpp"
#include "framework/io/keras_h5.hpp"
#include "framework/engine/parallel.hpp"
#include "framework/models/functional.hpp"
#include "framework/training/model.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <map>
#include <string>

using namespace xk;

namespace
{
    constexpr int exit_failed_check = 1;
    constexpr int exit_bad_input = 2;

    /// One dataset per input or output: "x" when there is one, "x0", "x1", ... in the model's order otherwise.
    std::vector<std::string> dataset_names(const std::string& stem, std::size_t count)
    {
        if (count == 1)
            return {stem};
        std::vector<std::string> out;
        for (std::size_t i = 0; i < count; ++i)
            out.push_back(stem + std::to_string(i));
        return out;
    }

    template <class T>
    std::vector<Tensor<T>> read_datasets(const h5::File& file, const std::string& stem, std::size_t count,
                                         const std::string& why)
    {
        std::vector<Tensor<T>> out;
        for (const auto& name : dataset_names(stem, count))
        {
            XK_CHECK(file.exists(name), io_error, "'", file.path(), "': dataset '", name, "' not found (", why, ").");
            out.push_back(file.read<T>(name));
        }
        return out;
    }

    std::string inputs_why(const BasicModel<float>& model)
    {
        return model.input_count() == 1 ? std::string("the model's input is dataset x")
                                        : fmt::format("the model's {} inputs are datasets x0..x{}, in the order {}",
                                                      model.input_count(), model.input_count() - 1,
                                                      fmt::join(model.input_names(), ", "));
    }

    void summary(const std::string& model_path) { fmt::print("{}", load_model<float>(model_path)->summary()); }

    void predict(const std::string& model_path, const std::string& input_path, const std::string& output_path)
    {
        auto model = load_model<float>(model_path);
        const auto x = read_datasets<float>(h5::File::open_read(input_path), "x", model->input_count(), inputs_why(*model));
        const auto y = model->predict(x);
        const auto names = dataset_names("y", y.size());
        h5::write_atomically(output_path, [&](h5::File& out) {
            for (std::size_t i = 0; i < y.size(); ++i)
                out.write(names[i], y[i]);
        });
    }

    void grad(const std::string& model_path, const std::string& input_path, const std::string& output_path)
    {
        auto model = load_model<float>(model_path);
        auto input = h5::File::open_read(input_path);
        const auto x = read_datasets<float>(input, "x", model->input_count(), inputs_why(*model));
        const auto upstream = read_datasets<float>(input, "upstream", model->output_count(),
                                                   "grad needs x and the upstream gradient of each output");
        auto result = model->gradients(x, upstream);
        h5::write_atomically(output_path, [&](h5::File& out) {
            const auto y_names = dataset_names("y", result.outputs.size());
            for (std::size_t i = 0; i < result.outputs.size(); ++i)
                out.write(y_names[i], result.outputs[i]);
            const auto dx_names = dataset_names("dx", result.inputs.size());
            for (std::size_t i = 0; i < result.inputs.size(); ++i)
                out.write(dx_names[i], result.inputs[i]);
            // The gradients sit where the weights sit in a model file: model_weights/<layer>/<layer>/<w>:0.
            std::vector<std::string> layer_names;
            auto trainable = model->trainable_weights();
            for (auto* layer : model->layers())
            {
                const std::string group = "model_weights/" + layer->name();
                layer_names.push_back(layer->name());
                out.create_group(group);
                std::vector<std::string> weight_names;
                for (auto* w : layer->weights())
                {
                    weight_names.push_back(layer->weight_path(*w));
                    auto at = std::find(trainable.begin(), trainable.end(), w);
                    // Non-trainable weights (moving statistics) get no gradient from the loss: zeros.
                    out.write(group + "/" + layer->weight_path(*w),
                              at != trainable.end() ? result.weights.at(std::size_t(at - trainable.begin()))
                                                    : Tensor<float>(w->variable.value().shape(), 0.f));
                }
                out.write_string_list_attribute(group, "weight_names", weight_names);
            }
            out.create_group("model_weights");
            out.write_string_list_attribute("model_weights", "layer_names", layer_names);
        });
    }

    /// A random input of the model's declared shape, two samples.
    Tensor<double> random_input(const PartialShape& shape, const std::string& model_path, std::uint64_t seed)
    {
        Shape full{2};
        for (std::size_t i = 1; i < shape.size(); ++i)
        {
            XK_CHECK(shape[i] > 0, value_error, "'", model_path, "' has an unknown input dimension ", i,
                     "; give an INPUT.h5 with the input datasets.");
            full.push_back(std::size_t(shape[i]));
        }
        return random_tensor(full, seed);
    }

    int gradcheck(const std::string& model_path, const std::string& input_path)
    {
        auto model = load_model<double>(model_path);
        std::vector<Tensor<double>> xs;
        if (!input_path.empty())
        {
            std::vector<std::string> names = dataset_names("x", model->input_count());
            const auto file = h5::File::open_read(input_path);
            for (const auto& name : names)
            {
                XK_CHECK(file.exists(name), io_error, "'", input_path, "': dataset '", name, "' not found.");
                Tensor<double> x = file.read<double>(name);
                // Two samples are enough to exercise every path; a whole batch only costs time.
                if (x.dimension() > 0 && x.shape()[0] > 2)
                    x = Tensor<double>(xt::view(x, xt::range(0, 2)));
                xs.push_back(std::move(x));
            }
        }
        else
        {
            const auto shapes = model->input_shapes();
            XK_CHECK(!shapes.empty(), value_error, "'", model_path,
                     "' declares no input shape; give an INPUT.h5 with a dataset 'x'.");
            for (std::size_t i = 0; i < shapes.size(); ++i)
                xs.push_back(random_input(shapes[i], model_path, 7 + i));
        }

        // Each layer call is checked on the values that reach it.
        bool all_ok = true;
        std::size_t index = 0;
        auto check = [&](BasicLayer<double>& layer, const std::vector<Tensor<double>>& inputs) {
            auto report = check_layer_gradients(layer, inputs, index++, false, /*max_entries=*/256);
            all_ok = all_ok && report.ok;
            fmt::print("{:<32} worst relative error {:.3e} at {} over {} entries: {}\n",
                       layer.name() + " (" + layer.class_name() + ")", report.worst_error, report.worst_at,
                       report.checked, report.ok ? "ok" : "FAILED");
        };
        if (auto* graph = dynamic_cast<BasicFunctional<double>*>(model.get()))
        {
            std::map<const GraphNode<double>*, std::vector<Tensor<double>>> values;
            for (std::size_t i = 0; i < graph->inputs().size(); ++i)
                values[graph->inputs()[i].node().get()] = {xs[i]};
            for (const auto& node : graph->nodes())
            {
                std::vector<Tensor<double>> inputs;
                for (const auto& t : node->inputs)
                    inputs.push_back(values.at(t.node().get()).at(t.index()));
                check(*node->layer, inputs);
                NoGradGuard no_grad;
                BasicTape<double> tape;
                std::vector<BasicVariable<double>> vars(inputs.begin(), inputs.end());
                for (auto& y : node->layer->call(tape, vars, false))
                    values[node.get()].push_back(y.value());
            }
        }
        else
        {
            Tensor<double> x = xs.at(0);
            for (auto* layer : model->layers())
            {
                check(*layer, {x});
                x = layer->predict(x);
            }
        }
        fmt::print("{}\n", all_ok ? "gradcheck passed" : "gradcheck FAILED");
        return all_ok ? 0 : exit_failed_check;
    }

    /// A model file to another format: architecture, weights and, when compiled, the training state (the
    /// optimizer under Keras 3's rules in a .keras file, with a warning where its update differs).
    void convert_model(const std::string& in_path, const std::string& out_path)
    {
        for (const auto& path : {in_path, out_path})
            XK_CHECK(!is_keras3_weights_path(path), value_error, "convert IN OUT converts model files (.h5, .keras); '",
                     path, "' is a weights file: give the model too (convert MODEL IN OUT).");
        Model model = Model::load(in_path);
        model.save(out_path);
    }

    /// Weights read from IN (a tf.keras .h5, a Keras 3 .weights.h5 or a .keras archive) into MODEL's
    /// architecture, written to OUT in the other layout (a .keras OUT is the whole model with them).
    void convert_weights(const std::string& model_path, const std::string& in_path, const std::string& out_path)
    {
        const auto layout = [](const std::string& path) {
            return is_keras_archive_path(path) ? 2 : is_keras3_weights_path(path) ? 1 : 0;
        };
        XK_CHECK(layout(in_path) != layout(out_path), value_error,
                 "convert MODEL IN OUT moves weights between layouts (tf.keras .h5, Keras 3 .weights.h5, .keras): '",
                 in_path, "' and '", out_path, "' have the same one.");
        auto model = load_model<float>(model_path);
        load_weights(*model, in_path);
        if (is_keras_archive_path(out_path))
            save_model(*model, out_path);
        else
            save_weights(*model, out_path);
    }
}

int main(int argc, char** argv)
{
    CLI::App app{"xkeras: Keras model files (.h5, .keras) from the command line"};
    app.require_subcommand(1);
    std::string model_path, input_path, output_path;
    std::vector<std::string> convert_files;
    int threads = 0;
    app.add_option("--threads", threads,
                   "worker threads for the whole run (default: XKERAS_NUM_THREADS, else every core)")
        ->check(CLI::PositiveNumber);

    auto* summary_cmd = app.add_subcommand("summary", "Print a Keras-like summary of MODEL");
    summary_cmd->add_option("MODEL", model_path, "a Keras model file (.h5 or .keras)")->required();

    app.footer("A model of several inputs reads datasets x0, x1, ... (in the order of the model's inputs) instead of "
               "x; several outputs are written as y0, y1, ... (grad: upstream0, ... in, dx0, ... out).");
    auto* predict_cmd = app.add_subcommand("predict", "Read dataset x from INPUT.h5, write y to OUTPUT.h5");
    auto* grad_cmd = app.add_subcommand(
        "grad", "Read x and upstream from INPUT.h5; write y, dx and model_weights/... gradients of "
                "sum(y * upstream) + the model's regularization losses");
    for (auto* cmd : {predict_cmd, grad_cmd})
    {
        cmd->add_option("MODEL", model_path, "a Keras model file (.h5 or .keras)")->required();
        cmd->add_option("INPUT", input_path, "an HDF5 file with dataset x (batch first)")->required();
        cmd->add_option("OUTPUT", output_path, "the HDF5 file to write")->required();
    }

    auto* gradcheck_cmd = app.add_subcommand("gradcheck", "Finite-difference check of every layer in double precision");
    gradcheck_cmd->add_option("MODEL", model_path, "a Keras model file (.h5 or .keras)")->required();
    gradcheck_cmd->add_option("INPUT", input_path, "an HDF5 file with dataset x (default: random input)");

    auto* convert_cmd = app.add_subcommand(
        "convert", "IN OUT: convert a model between .h5 and .keras; MODEL IN OUT: convert weights between tf.keras "
                   ".h5, Keras 3 .weights.h5 and .keras (MODEL gives the architecture)");
    convert_cmd->add_option("FILES", convert_files, "IN OUT, or MODEL IN OUT")->required()->expected(2, 3);

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
        {
            if (convert_files.size() == 2)
                convert_model(convert_files[0], convert_files[1]);
            else
                convert_weights(convert_files[0], convert_files[1], convert_files[2]);
        }
        return 0;
    }
    catch (const std::exception& e)
    {
        fmt::print(stderr, "xkeras: {}\n", e.what());
        return exit_bad_input;
    }
}
