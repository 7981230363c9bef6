// xkeras_bench: times one training step per benchmark case, the way ../shared/bench/torch_bench.py times
// PyTorch, and prints the same JSON keys: {case: {"ms", "gflops"}, model: {"ms", "samples_per_s"}}.
//
//   xkeras_bench CASES.json [--threads N] [--only name,name] [--reps R] [--phases]
//
// A layer case is built from its Keras config through the layer registry, called on a tape in float32 on a
// random input, and differentiated with an upstream gradient of ones (to the input and to every weight).
// A model row is one train_on_batch of the Keras example model with the optimizer and loss torch_bench.py
// uses (the graph rows resnet_block and unet_small: bench/torch_graphs.py's); resnet_block also reports the
// same layers without the shortcut, as a Sequential (sequential_ms). Each time is the median of R steps after a warm-up of at least two steps and 0.3 s. Only the JSON
// goes to stdout; --phases adds forward / backward timings per case on stderr. Exit status 2 on bad input.
#include "framework/keras/layer.hpp"
#include "framework/training/model.hpp"
#include "framework/engine/parallel.hpp"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <functional>
#include <numeric>
#include <random>
#include <set>
#include <sstream>

using namespace xk;

namespace
{
    constexpr int exit_bad_input = 2;
    constexpr int warmup_steps = 2; // as torch_bench.py
    // ... and at least this much time: on these VMs a fresh process's second core reaches full speed only after
    // some 100 ms of work (conv2d_dilated: 6-8 ms steps for up to 12 steps, then 3 ms), which two of our
    // few-millisecond steps do not give, while PyTorch's 20-150 ms steps do.
    constexpr double warmup_seconds = 0.3;

    /// Runs step() (which returns its seconds) for the warm-up: at least warmup_steps times and warmup_seconds.
    template <class Step>
    void warm_up(Step&& step)
    {
        double spent = 0;
        for (int r = 0; r < warmup_steps || spent < warmup_seconds; ++r)
            spent += step();
    }

    // Every checksum of every step lands here, so no result can be optimized away; printed on stderr.
    double g_checksum = 0.0;

    double seconds_of(const std::function<void()>& work)
    {
        auto t0 = std::chrono::steady_clock::now();
        work();
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }

    double median(std::vector<double> v)
    {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2]; // torch_bench.py's ts[len(ts) // 2]
    }

    double round_to(double v, int digits)
    {
        const double scale = std::pow(10.0, digits);
        return std::round(v * scale) / scale;
    }

    Tensor<float> random_normal(const Shape& shape, std::uint64_t seed)
    {
        Tensor<float> t = Tensor<float>::from_shape(shape);
        std::mt19937_64 rng(seed);
        std::normal_distribution<float> dist(0.f, 1.f);
        for (auto& v : t)
            v = dist(rng);
        return t;
    }

    double checksum_of(const Tensor<float>& t) { return t.size() ? double(t.data()[0]) + double(t.data()[t.size() - 1]) : 0.0; }

    std::vector<long> int_list(const json& config, const char* key, std::size_t rank, long fallback)
    {
        if (!config.contains(key))
            return std::vector<long>(rank, fallback);
        const json& v = config.at(key);
        if (v.is_number_integer())
            return std::vector<long>(rank, v.get<long>());
        auto out = v.get<std::vector<long>>();
        XK_CHECK(out.size() == rank, value_error, "'", key, "' must have ", rank, " entries, received ", v.dump(), ".");
        return out;
    }

    long product(const std::vector<long>& v) { return std::accumulate(v.begin(), v.end(), 1L, std::multiplies<long>()); }

    /// Forward FLOPs of a case (2 per multiply-add, bias and activation ignored), counted exactly as
    /// torch_bench.py counts them, with the output spatial size it derives.
    double forward_flops(const std::string& layer, const json& config, const Shape& input, const std::string& where)
    {
        const std::size_t nd = input.size() - 2;
        const double batch = double(input[0]);
        const long channels = long(input.back());
        std::vector<long> spatial(input.begin() + 1, input.end() - 1);
        const auto k = int_list(config, "kernel_size", nd, 1);
        const auto s = int_list(config, "strides", nd, 1);
        const auto d = int_list(config, "dilation_rate", nd, 1);
        const std::string pad = config.value("padding", "valid");
        const bool transpose = layer.size() > 9 && layer.substr(layer.size() - 9) == "Transpose";
        std::vector<long> out(nd);
        for (std::size_t i = 0; i < nd; ++i)
        {
            const long n = spatial[i];
            if (transpose)
                out[i] = pad == "same" ? n * s[i] : (n - 1) * s[i] + k[i];
            else if (pad == "same")
                out[i] = (n + s[i] - 1) / s[i];
            else if (pad == "causal")
                out[i] = n;
            else
                out[i] = (n - (k[i] - 1) * d[i] - 1) / s[i] + 1;
        }
        const long dm = config.value("depth_multiplier", 1L);
        if (layer == "Conv1D" || layer == "Conv2D" || layer == "Conv3D")
            return 2.0 * batch * double(product(out)) * double(config.at("filters").get<long>()) * double(product(k)) * double(channels);
        if (layer == "DepthwiseConv2D" || layer == "DepthwiseConv1D")
            return 2.0 * batch * double(product(out)) * double(channels * dm) * double(product(k));
        if (layer == "SeparableConv1D" || layer == "SeparableConv2D")
            return 2.0 * batch * double(product(out)) * double(channels * dm) *
                   double(product(k) + config.at("filters").get<long>());
        if (transpose)
            return 2.0 * batch * double(product(spatial)) * double(channels) * double(product(k)) *
                   double(config.at("filters").get<long>());
        if (layer.rfind("UpSampling", 0) == 0)
            return 0.0;
        throw value_error(where + ": no FLOP count for layer '" + layer + "'.");
    }

    struct Options
    {
        int reps = 7;
        bool phases = false;
    };

    /// Drops every gradient so each step starts from zero, as a training step after zero_grad does.
    void clear_gradients(Layer& layer, const Variable& x)
    {
        x.zero_grad();
        for (auto* w : layer.weights())
            w->variable.zero_grad();
    }

    double step_checksum(Layer& layer, const Variable& x, const Variable& y)
    {
        double sum = checksum_of(y.value());
        if (x.requires_grad())
            sum += checksum_of(x.grad());
        for (auto* w : layer.weights())
            if (w->variable.requires_grad())
                sum += checksum_of(w->variable.grad());
        return sum;
    }

    /// One training step of the layer: forward on the tape, then backward with an upstream of ones.
    double time_layer_step(Layer& layer, const Variable& x)
    {
        clear_gradients(layer, x);
        Variable y;
        const double t = seconds_of([&] {
            Tape tape;
            y = layer.call(tape, x, /*training=*/true);
            tape.backward(y, full<float>(shape_of(y.value()), 1.f));
        });
        g_checksum += step_checksum(layer, x, y);
        return t;
    }

    /// --phases: forward alone, then backward alone (all, input only, weights only), medians on stderr.
    void report_phases(const std::string& name, Layer& layer, Variable& x, int reps)
    {
        auto backward_median = [&](bool to_input, bool to_weights) {
            x.set_requires_grad(to_input);
            layer.set_trainable(to_weights);
            auto phases = [&] {
                clear_gradients(layer, x);
                Tape tape;
                Variable y;
                const double tf = seconds_of([&] { y = layer.call(tape, x, true); });
                const double tb = seconds_of([&] { tape.backward(y, full<float>(shape_of(y.value()), 1.f)); });
                g_checksum += step_checksum(layer, x, y);
                return std::pair{tf, tb};
            };
            warm_up([&] {
                const auto [tf, tb] = phases();
                return tf + tb;
            });
            std::vector<double> fwd, bwd;
            for (int r = 0; r < reps; ++r)
            {
                const auto [tf, tb] = phases();
                fwd.push_back(tf);
                bwd.push_back(tb);
            }
            return std::pair{median(fwd), median(bwd)};
        };
        const auto [fwd, bwd_all] = backward_median(true, true);
        const double bwd_input = backward_median(true, false).second;
        const double bwd_weights = layer.weights().empty() ? 0.0 : backward_median(false, true).second;
        x.set_requires_grad(true);
        layer.set_trainable(true);
        fmt::print(stderr, "phases {:<24} forward {:8.3f} ms  backward {:8.3f} ms  (to input only {:8.3f} ms, to weights only {:8.3f} ms)\n",
                   name, fwd * 1e3, bwd_all * 1e3, bwd_input * 1e3, bwd_weights * 1e3);
    }

    json run_layer_case(const json& spec, const Options& options)
    {
        const std::string name = spec.at("name").get<std::string>();
        const std::string where = "case '" + name + "'";
        XK_CHECK(spec.contains("layer") && spec.contains("input") && spec.contains("config"), value_error, where,
                 ": expected keys 'layer', 'input' and 'config', received ", spec.dump(), ".");
        const std::string class_name = spec.at("layer").get<std::string>();
        const json& config = spec.at("config");
        const Shape input = spec.at("input").get<Shape>();
        XK_CHECK(input.size() >= 3, value_error, where, ": 'input' must be [batch, spatial..., channels], received ",
                 spec.at("input").dump(), ".");
        const double flops = forward_flops(class_name, config, input, where);

        auto layer = make_layer<float>(class_name, config);
        Variable x(random_normal(input, 1), /*requires_grad=*/true, "x");

        warm_up([&] { return time_layer_step(*layer, x); });
        std::vector<double> times;
        for (int r = 0; r < options.reps; ++r)
            times.push_back(time_layer_step(*layer, x));
        if (options.phases)
            report_phases(name, *layer, x, options.reps);
        const double t = median(times);
        json row{{"ms", round_to(t * 1e3, 3)}, {"gflops", nullptr}};
        if (flops > 0)
            row["gflops"] = round_to(3.0 * flops / t / 1e9, 1);
        return row;
    }

    Sequential mnist_cnn(const Shape& input)
    {
        Sequential model("mnist_cnn");
        model.set_input({-1, long(input[0]), long(input[1]), long(input[2])});
        model.add(make_layer("Conv2D", {{"filters", 32}, {"kernel_size", 3}, {"activation", "relu"}}));
        model.add(make_layer("Conv2D", {{"filters", 64}, {"kernel_size", 3}, {"activation", "relu"}}));
        model.add(make_layer("MaxPooling2D", {{"pool_size", 2}}));
        model.add(make_layer("Dropout", {{"rate", 0.25}}));
        model.add(make_layer("Flatten"));
        model.add(make_layer("Dense", {{"units", 128}, {"activation", "relu"}}));
        model.add(make_layer("Dropout", {{"rate", 0.5}}));
        model.add(make_layer("Dense", {{"units", 10}, {"activation", "softmax"}}));
        return model;
    }

    Sequential cifar10_cnn(const Shape& input)
    {
        Sequential model("cifar10_cnn");
        model.set_input({-1, long(input[0]), long(input[1]), long(input[2])});
        model.add(make_layer("Conv2D", {{"filters", 32}, {"kernel_size", 3}, {"padding", "same"}, {"activation", "relu"}}));
        model.add(make_layer("Conv2D", {{"filters", 32}, {"kernel_size", 3}, {"activation", "relu"}}));
        model.add(make_layer("MaxPooling2D", {{"pool_size", 2}}));
        model.add(make_layer("Dropout", {{"rate", 0.25}}));
        model.add(make_layer("Conv2D", {{"filters", 64}, {"kernel_size", 3}, {"padding", "same"}, {"activation", "relu"}}));
        model.add(make_layer("Conv2D", {{"filters", 64}, {"kernel_size", 3}, {"activation", "relu"}}));
        model.add(make_layer("MaxPooling2D", {{"pool_size", 2}}));
        model.add(make_layer("Dropout", {{"rate", 0.25}}));
        model.add(make_layer("Flatten"));
        model.add(make_layer("Dense", {{"units", 512}, {"activation", "relu"}}));
        model.add(make_layer("Dropout", {{"rate", 0.5}}));
        model.add(make_layer("Dense", {{"units", 10}, {"activation", "softmax"}}));
        return model;
    }

    SymbolicTensor apply(const json& config, const std::string& class_name, const SymbolicTensor& x)
    {
        LayerRef layer = make_layer(class_name, config);
        return layer(x);
    }

    /// One residual block as ResNets use it (torch_graphs.py builds the same): relu(x + BN(conv(relu(BN(conv(x))))))
    /// with 3x3 same convolutions keeping the width, then global average pooling and a 10-way softmax.
    /// `skip` false gives the same layers without the shortcut, as a Sequential: the graph's cost beside it.
    std::unique_ptr<Model> resnet_block(const Shape& input, bool skip)
    {
        const long filters = long(input[2]);
        const json conv = {{"filters", filters}, {"kernel_size", 3}, {"padding", "same"}};
        if (!skip)
        {
            auto model = std::make_unique<Sequential>("resnet_block_chain");
            model->set_input({-1, long(input[0]), long(input[1]), filters});
            model->add(make_layer("Conv2D", conv));
            model->add(make_layer("BatchNormalization"));
            model->add(make_layer("Activation", {{"activation", "relu"}}));
            model->add(make_layer("Conv2D", conv));
            model->add(make_layer("BatchNormalization"));
            model->add(make_layer("Activation", {{"activation", "relu"}}));
            model->add(make_layer("GlobalAveragePooling2D"));
            model->add(make_layer("Dense", {{"units", 10}, {"activation", "softmax"}}));
            return model;
        }
        auto x = Input({long(input[0]), long(input[1]), filters});
        auto y = apply({{"activation", "relu"}}, "Activation", apply({}, "BatchNormalization", apply(conv, "Conv2D", x)));
        y = apply({}, "BatchNormalization", apply(conv, "Conv2D", y));
        LayerRef add = make_layer("Add");
        auto out = apply({{"activation", "relu"}}, "Activation", add({x, y}));
        out = apply({{"units", 10}, {"activation", "softmax"}}, "Dense", apply({}, "GlobalAveragePooling2D", out));
        return std::make_unique<Model>(std::vector{x}, std::vector{out}, "resnet_block");
    }

    /// A two-level U-Net (torch_graphs.py builds the same): 16 and 32 filters down, 64 at the bottom,
    /// Conv2DTranspose up with Concatenate skips, a 1x1 sigmoid convolution to a mask.
    std::unique_ptr<Model> unet_small(const Shape& input)
    {
        auto conv = [](long filters, const SymbolicTensor& x) {
            return apply({{"filters", filters}, {"kernel_size", 3}, {"padding", "same"}, {"activation", "relu"}}, "Conv2D", x);
        };
        auto up = [](long filters, const SymbolicTensor& x) {
            return apply({{"filters", filters}, {"kernel_size", 2}, {"strides", 2}}, "Conv2DTranspose", x);
        };
        auto pool = [](const SymbolicTensor& x) { return apply({{"pool_size", 2}}, "MaxPooling2D", x); };
        auto x = Input({long(input[0]), long(input[1]), long(input[2])});
        auto c1 = conv(16, x);
        auto c2 = conv(32, pool(c1));
        auto bottom = conv(64, pool(c2));
        LayerRef cat2 = make_layer("Concatenate"), cat1 = make_layer("Concatenate");
        auto d2 = conv(32, cat2({up(32, bottom), c2}));
        auto d1 = conv(16, cat1({up(16, d2), c1}));
        auto mask = apply({{"filters", 1}, {"kernel_size", 1}, {"activation", "sigmoid"}}, "Conv2D", d1);
        return std::make_unique<Model>(std::vector{x}, std::vector{mask}, "unet_small");
    }

    /// --phases for a model: each layer call alone, forward and backward (upstream of ones) on the values the
    /// model gives it, in training mode; what the step spends beyond them is the loss, the optimizer and the
    /// glue (for a graph, its bookkeeping too).
    void report_model_phases(const std::string& name, Model& model, const Tensor<float>& x, double step, int reps)
    {
        struct Call
        {
            Layer* layer;
            std::vector<const GraphNode<float>*> sources; // the producers of its inputs (a graph), or none
            std::vector<std::size_t> indices;
        };
        std::vector<Call> calls;
        if (auto* graph = dynamic_cast<Functional*>(&model.network()))
            for (const auto& node : graph->nodes())
            {
                Call c{node->layer.get(), {}, {}};
                for (const auto& t : node->inputs)
                {
                    c.sources.push_back(t.node().get());
                    c.indices.push_back(t.index());
                }
                calls.push_back(c);
            }
        else
            for (auto* layer : model.layers())
                calls.push_back({layer, {}, {}});
        std::map<const GraphNode<float>*, Tensor<float>> values;
        if (auto* graph = dynamic_cast<Functional*>(&model.network()))
            values[graph->inputs()[0].node().get()] = x;
        Tensor<float> chain = x;
        double layers_total = 0;
        for (std::size_t i = 0; i < calls.size(); ++i)
        {
            Layer& layer = *calls[i].layer;
            std::vector<Variable> in;
            if (calls[i].sources.empty())
                in.emplace_back(chain, /*requires_grad=*/i > 0); // the model's input needs no gradient
            else
                for (const auto* source : calls[i].sources)
                    in.emplace_back(values.at(source), source != calls[0].sources[0]);
            Tensor<float> output;
            auto phases = [&] {
                for (auto& v : in)
                    clear_gradients(layer, v);
                Tape tape;
                Variable y;
                const double tf = seconds_of([&] { y = layer.call(tape, in, true).at(0); });
                const double tb = seconds_of([&] { tape.backward(y, full<float>(shape_of(y.value()), 1.f)); });
                g_checksum += step_checksum(layer, in[0], y);
                output = y.value();
                return std::pair{tf, tb};
            };
            warm_up([&] {
                const auto [tf, tb] = phases();
                return tf + tb;
            });
            std::vector<double> fwd, bwd;
            for (int r = 0; r < reps; ++r)
            {
                const auto [tf, tb] = phases();
                fwd.push_back(tf);
                bwd.push_back(tb);
            }
            for (auto* w : layer.weights())
                w->variable.zero_grad(); // leave the model as train_on_batch expects it
            const double f = median(fwd), b = median(bwd);
            layers_total += f + b;
            fmt::print(stderr, "phases {}/{:<24} forward {:8.3f} ms  backward {:8.3f} ms  output {}\n", name,
                       layer.name(), f * 1e3, b * 1e3, shape_str(shape_of(output)));
            if (auto* graph = dynamic_cast<Functional*>(&model.network()))
                values[graph->nodes()[i].get()] = output;
            chain = std::move(output);
        }
        fmt::print(stderr, "phases {}: layers {:.3f} ms of a {:.3f} ms step; loss, optimizer and the rest {:.3f} ms\n",
                   name, layers_total * 1e3, step * 1e3, (step - layers_total) * 1e3);
    }

    json run_model(const json& spec, const Options& options)
    {
        const std::string name = spec.at("name").get<std::string>();
        const std::size_t batch = spec.at("batch").get<std::size_t>();
        const Shape input = spec.at("input").get<Shape>();
        XK_CHECK(input.size() == 3 && batch > 0, value_error, "model '", name,
                 "': expected a positive 'batch' and 'input' [height, width, channels], received ", spec.dump(), ".");
        static const std::set<std::string> known = {"mnist_cnn", "cifar10_cnn", "resnet_block", "unet_small"};
        XK_CHECK(known.count(name), value_error, "model '", name,
                 "': unknown model row; expected mnist_cnn, cifar10_cnn, resnet_block or unet_small.");
        auto make = [&](bool skip) -> std::unique_ptr<Model> {
            if (name == "mnist_cnn")
                return std::make_unique<Sequential>(mnist_cnn(input));
            if (name == "cifar10_cnn")
                return std::make_unique<Sequential>(cifar10_cnn(input));
            if (name == "resnet_block")
                return resnet_block(input, skip);
            return unet_small(input);
        };
        std::unique_ptr<Model> owned = make(true);
        Model& model = *owned;
        const bool segmentation = name == "unet_small";
        // torch_bench.py: Adam(lr 1e-3) and cross-entropy, no metrics; the U-Net: binary cross-entropy.
        auto compile = [&](Model& m) {
            m.compile(json{{"class_name", "Adam"}, {"config", {{"learning_rate", 1e-3}}}},
                      segmentation ? "binary_crossentropy" : "categorical_crossentropy");
        };
        compile(model);

        Shape x_shape{batch};
        x_shape.insert(x_shape.end(), input.begin(), input.end());
        const Tensor<float> x = random_normal(x_shape, 2);
        std::mt19937_64 rng(3);
        Tensor<float> y;
        if (segmentation)
        {
            y = Tensor<float>({batch, input[0], input[1], std::size_t(1)}, 0.f);
            for (auto& v : y)
                v = float(rng() % 2);
        }
        else
        {
            y = Tensor<float>({batch, std::size_t(10)}, 0.f);
            for (std::size_t i = 0; i < batch; ++i)
                y(i, rng() % 10) = 1.f;
        }

        auto median_step = [&](Model& m) {
            auto step = [&] {
                Logs logs;
                const double t = seconds_of([&] { logs = m.train_on_batch(x, y); });
                for (const auto& [key, value] : logs)
                    g_checksum += value;
                return t;
            };
            warm_up(step);
            std::vector<double> times;
            for (int r = 0; r < options.reps; ++r)
                times.push_back(step());
            return median(times);
        };
        const double t = median_step(model);
        if (options.phases)
            report_model_phases(name, model, x, t, options.reps);
        json row = {{"ms", round_to(t * 1e3, 3)}, {"samples_per_s", round_to(double(batch) / t, 1)}};
        if (name == "resnet_block")
        {
            // The same layers without the shortcut, as a Sequential: what the graph costs beyond them.
            std::unique_ptr<Model> chain = make(false);
            compile(*chain);
            row["sequential_ms"] = round_to(median_step(*chain) * 1e3, 3);
        }
        return row;
    }

    json read_cases(const std::string& path)
    {
        std::ifstream in(path);
        XK_CHECK(in.good(), io_error, "cannot open cases file '", path, "'.");
        json spec;
        try
        {
            spec = json::parse(in);
        }
        catch (const json::exception& e)
        {
            throw value_error("cases file '" + path + "' is not valid JSON: " + e.what());
        }
        XK_CHECK(spec.is_object() && spec.contains("cases") && spec.at("cases").is_array(), value_error, "cases file '",
                 path, "': expected an object with a 'cases' array (and optionally 'models').");
        for (const char* list : {"cases", "models"})
            if (spec.contains(list))
                for (const auto& entry : spec.at(list))
                    XK_CHECK(entry.is_object() && entry.contains("name") && entry.at("name").is_string(), value_error,
                             "cases file '", path, "': every entry of '", list, "' needs a 'name', received ",
                             entry.dump(), ".");
        return spec;
    }
}

int main(int argc, char** argv)
{
    std::string cases_path, only_list;
    int threads = 2;
    Options options;
    CLI::App app{"xkeras_bench: one training step per case, as JSON (the keys of torch_bench.py)"};
    app.add_option("CASES", cases_path, "a cases.json file (see bench/cases.json)")->required();
    app.add_option("--threads", threads, "worker threads")->capture_default_str()->check(CLI::PositiveNumber);
    app.add_option("--only", only_list, "comma-separated case or model names to run");
    app.add_option("--reps", options.reps, "timed steps per case (median), after a warm-up of at least 2 steps and 0.3 s")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    app.add_flag("--phases", options.phases, "also print forward / backward timings per case on stderr");
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
        const json spec = read_cases(cases_path);
        std::set<std::string> only;
        std::stringstream list(only_list);
        for (std::string item; std::getline(list, item, ',');)
            if (!item.empty())
                only.insert(item);
        std::set<std::string> known;
        for (const char* key : {"cases", "models"})
            if (spec.contains(key))
                for (const auto& entry : spec.at(key))
                    known.insert(entry.at("name").get<std::string>());
        for (const auto& name : only)
            XK_CHECK(known.count(name), value_error, "--only: no case or model named '", name, "' in '", cases_path,
                     "'.");

        set_num_threads(threads);
        json result = json::object();
        for (const auto& c : spec.at("cases"))
        {
            const std::string name = c.at("name").get<std::string>();
            if (only.empty() || only.count(name))
            {
                fmt::print(stderr, "xkeras_bench: {}\n", name);
                result[name] = run_layer_case(c, options);
            }
        }
        if (spec.contains("models"))
            for (const auto& m : spec.at("models"))
            {
                const std::string name = m.at("name").get<std::string>();
                if (only.empty() || only.count(name))
                {
                    fmt::print(stderr, "xkeras_bench: {}\n", name);
                    result[name] = run_model(m, options);
                }
            }
        fmt::print(stderr, "xkeras_bench: checksum {:.6g}\n", g_checksum);
        fmt::print("{}\n", result.dump(1));
        return 0;
    }
    catch (const std::exception& e)
    {
        fmt::print(stderr, "xkeras_bench: {}\n", e.what());
        return exit_bad_input;
    }
}
