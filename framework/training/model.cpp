#include "framework/training/model.hpp"

#include "framework/engine/check_numerics.hpp"
#include "framework/engine/ops.hpp"
#include "framework/engine/random.hpp"
#include "framework/io/keras_archive.hpp"
#include "framework/io/keras_h5.hpp"
#include "framework/training/keras3_compile.hpp"

#include <fmt/format.h>

#include <cmath>
#include <numeric>

namespace xk
{
    namespace
    {
        /// Rows `index[begin..end)` of a batch-first tensor, copied into one contiguous batch.
        xk::Tensor<float> gather_rows(const xk::Tensor<float>& t, const std::vector<std::size_t>& index,
                                      std::size_t begin, std::size_t end)
        {
            Shape shape = shape_of(t);
            const std::size_t row = t.size() / shape[0];
            shape[0] = end - begin;
            xk::Tensor<float> out = xk::Tensor<float>::from_shape(shape);
            for (std::size_t i = begin; i < end; ++i)
                std::copy_n(t.data() + index[i] * row, row, out.data() + (i - begin) * row);
            return out;
        }

        std::vector<std::size_t> identity_order(std::size_t n)
        {
            std::vector<std::size_t> index(n);
            std::iota(index.begin(), index.end(), std::size_t(0));
            return index;
        }

        Tensors row_range(const Tensors& ts, std::size_t begin, std::size_t end)
        {
            Tensors out;
            for (const auto& t : ts)
                out.push_back(gather_rows(t, identity_order(t.shape()[0]), begin, end));
            return out;
        }

        /// Per output from a list (one entry each) or a dict keyed by output name; `one` applies everywhere.
        template <class V, class Make>
        std::vector<V> per_output(const json& value, const std::vector<std::string>& outputs, const char* what,
                                  const std::string& model, Make make, std::optional<V> absent = std::nullopt)
        {
            std::vector<V> out;
            if (value.is_array())
            {
                XK_CHECK(value.size() == outputs.size(), value_error, "Model '", model, "': `", what,
                         "` has ", value.size(), " entries but the model has ", outputs.size(),
                         " outputs. Give one entry per output, or a dict keyed by output name.");
                for (const auto& v : value)
                    out.push_back(make(v));
                return out;
            }
            for (const auto& [key, v] : value.items())
                XK_CHECK(std::find(outputs.begin(), outputs.end(), key) != outputs.end(), value_error, "Model '", model,
                         "': `", what, "` names '", key, "', which is not an output. Outputs: ",
                         fmt::format("{}", fmt::join(outputs, ", ")), ".");
            for (const auto& name : outputs)
            {
                if (value.contains(name))
                    out.push_back(make(value[name]));
                else
                {
                    XK_CHECK(absent.has_value(), value_error, "Model '", model, "': `", what,
                             "` has no entry for output '", name, "'.");
                    out.push_back(*absent);
                }
            }
            return out;
        }

        bool is_identifier_object(const json& value)
        {
            return value.is_object() && value.contains("class_name");
        }
    }

    // ---------------------------------------------------------------- construction

    Model::Model(std::vector<SymbolicTensor> inputs, std::vector<SymbolicTensor> outputs, std::string name)
        : m_network(std::make_unique<Functional>(std::move(inputs), std::move(outputs), std::move(name)))
    {
    }

    Model::Model(ModelPtr<float> network) : m_network(std::move(network))
    {
        XK_CHECK(m_network != nullptr, value_error, "Model: the network cannot be null.");
    }

    BasicVariable<float> Model::call(Tape& tape, const Variable& x, bool training)
    {
        auto out = m_network->call(tape, std::span<const Variable>(&x, 1), training);
        XK_CHECK(out.size() == 1, value_error, where(), " has ", out.size(),
                 " outputs; call it with a list of inputs to receive them all.");
        return out[0];
    }

    // ---------------------------------------------------------------- compile

    void Model::compile(const json& optimizer, const json& loss, const std::vector<json>& metrics)
    {
        compile(optimizer, loss, json(metrics), nullptr);
    }

    void Model::compile(const json& optimizer, const json& loss, const json& metrics, const json& loss_weights)
    {
        const std::vector<std::string> outputs = output_names();
        const std::string model = name();
        std::vector<Loss> losses;
        if (loss.is_string() || is_identifier_object(loss))
            losses.assign(outputs.size(), get_loss(loss));
        else
        {
            XK_CHECK(loss.is_array() || loss.is_object(), value_error, "Model '", model,
                     "': `loss` must be an identifier, a list or a dict. Received ", loss.dump(), ".");
            losses = per_output<Loss>(loss, outputs, "loss", model, [](const json& v) { return get_loss(v); });
        }
        std::vector<double> weights(outputs.size(), 1.0);
        if (!loss_weights.is_null())
            weights = per_output<double>(loss_weights, outputs, "loss_weights", model, [&](const json& v) {
                XK_CHECK(v.is_number(), value_error, "Model '", model, "': `loss_weights` entries must be numbers. Received ",
                         v.dump(), ".");
                return v.get<double>();
            }, 1.0);
        // Metrics: a flat list applies to every output; a list of lists or a dict gives each output its own.
        auto metric_list = [](const json& v) {
            std::vector<Metric> out;
            if (v.is_array())
                for (const auto& m : v)
                    out.push_back(get_metric(m));
            else if (!v.is_null())
                out.push_back(get_metric(v));
            return out;
        };
        std::vector<std::vector<Metric>> per;
        const bool nested = metrics.is_array() && !metrics.empty() &&
                            std::all_of(metrics.begin(), metrics.end(), [](const json& m) { return m.is_array(); });
        if (metrics.is_null())
            per.assign(outputs.size(), {});
        else if (nested || (metrics.is_object() && !is_identifier_object(metrics)))
            per = per_output<std::vector<Metric>>(metrics, outputs, "metrics", model, metric_list,
                                                  std::vector<Metric>{});
        else
            per.assign(outputs.size(), metric_list(metrics));
        compile(get_optimizer(optimizer), std::move(losses), std::move(weights), std::move(per));
    }

    void Model::compile(OptimizerPtr optimizer, Loss loss, std::vector<Metric> metrics)
    {
        const std::size_t n = output_count();
        compile(std::move(optimizer), std::vector<Loss>(n, loss), std::vector<double>(n, 1.0),
                std::vector<std::vector<Metric>>(n, metrics));
    }

    void Model::compile(OptimizerPtr optimizer, std::vector<Loss> losses, std::vector<double> loss_weights,
                        std::vector<std::vector<Metric>> metrics)
    {
        XK_CHECK(optimizer != nullptr, value_error, where(), ": compile needs an optimizer.");
        const std::size_t n = output_count();
        XK_CHECK(losses.size() == n && loss_weights.size() == n && metrics.size() == n, value_error, where(),
                 ": compile needs one loss, loss weight and metric list per output (", n, " outputs); received ",
                 losses.size(), ", ", loss_weights.size(), " and ", metrics.size(), ".");
        m_optimizer = std::move(optimizer);
        m_losses = std::move(losses);
        m_loss_weights = std::move(loss_weights);
        m_metrics = std::move(metrics);
    }

    Optimizer& Model::optimizer()
    {
        XK_CHECK(m_optimizer, value_error, where(),
                 ": you must compile your model before training/testing. Use `model.compile(optimizer, loss)`.");
        return *m_optimizer;
    }

    const Loss& Model::loss(std::size_t output) const
    {
        XK_CHECK(!m_losses.empty(), value_error, where(),
                 ": you must compile your model before training/testing. Use `model.compile(optimizer, loss)`.");
        XK_CHECK(output < m_losses.size(), value_error, where(), " has ", m_losses.size(), " outputs; no output ",
                 output, ".");
        return m_losses[output];
    }

    // ---------------------------------------------------------------- one step

    std::size_t Model::check_data(const Tensors& x, const Tensors& y, const char* what) const
    {
        XK_CHECK(x.size() == input_count(), value_error, where(), ": ", what, " expects ", input_count(),
                 " input array(s) (", fmt::format("{}", fmt::join(input_names(), ", ")), "), but it received ", x.size(),
                 ".");
        XK_CHECK(y.empty() || y.size() == output_count(), value_error, where(), ": ", what, " expects ", output_count(),
                 " target array(s) (", fmt::format("{}", fmt::join(output_names(), ", ")), "), but it received ",
                 y.size(), ".");
        XK_CHECK(x[0].dimension() >= 1 && x[0].shape()[0] > 0, value_error, where(), ": ", what,
                 " got an empty input x of shape ", shape_str(shape_of(x[0])), ".");
        const std::size_t n = x[0].shape()[0];
        auto check_rows = [&](const Tensors& ts, const char* which) {
            for (std::size_t i = 0; i < ts.size(); ++i)
                XK_CHECK(ts[i].dimension() >= 1 && ts[i].shape()[0] == n, value_error, where(), ": ", what,
                         ": x and y must have the same number of samples. Received x of shape ",
                         shape_str(shape_of(x[0])), " and ", which, "[", i, "] of shape ", shape_str(shape_of(ts[i])),
                         ".");
        };
        check_rows(x, "x");
        check_rows(y, "y");
        return n;
    }

    Model::Batch Model::gather(const Tensors& x, const Tensors& y, const std::vector<std::size_t>& index,
                               std::size_t begin, std::size_t end) const
    {
        Batch batch;
        for (const auto& t : x)
            batch.x.push_back(gather_rows(t, index, begin, end));
        for (const auto& t : y)
            batch.y.push_back(gather_rows(t, index, begin, end));
        return batch;
    }

    BasicVariable<float> Model::total_loss(Tape& tape, const Tensors& y, const std::vector<Variable>& y_pred,
                                           std::vector<double>& output_losses)
    {
        output_losses.assign(y_pred.size(), 0.0);
        Variable total;
        for (std::size_t i = 0; i < y_pred.size(); ++i)
        {
            Variable term = loss(i)(tape, y[i], y_pred[i]);
            output_losses[i] = double(term.value()());
            if (m_loss_weights[i] != 1.0)
                term = ops::scale(tape, term, float(m_loss_weights[i]));
            total = total.defined() ? ops::add(tape, total, term) : term;
        }
        // Keras's training loss includes every layer's activity penalties and weight penalties.
        for (const auto& extra : std::vector<Variable>(tape.losses()))
            total = ops::add(tape, total, extra);
        return ops::add(tape, total, regularization_loss(tape));
    }

    double Model::train_step(const Batch& batch, std::vector<double>& output_losses)
    {
        Tape tape;
        std::vector<Variable> xs(batch.x.begin(), batch.x.end());
        std::vector<Variable> y_pred = call(tape, xs, /*training=*/true);
        Variable total = total_loss(tape, batch.y, y_pred, output_losses);
        if (check_numerics_enabled())
            check_finite(total.value(), "the loss '" + loss().name() + "'", where());
        // Keras 3's trainers differentiate optimizer.scale_loss(loss); the optimizer divides the factor back.
        if (const auto& factor = optimizer().loss_scale_factor())
            tape.backward(ops::scale(tape, total, static_cast<float>(*factor)));
        else
            tape.backward(total);
        optimizer().apply_gradients(trainable_weights(), trainable_weight_paths());
        for (auto* w : weights())
            w->variable.zero_grad();
        for (std::size_t i = 0; i < y_pred.size(); ++i)
            for (auto& m : m_metrics[i])
                m.update_state(batch.y[i], y_pred[i].value());
        return double(total.value()());
    }

    std::string Model::metric_log_name(std::size_t output, const Metric& metric) const
    {
        // Keras prefixes a metric with its output's name when there are several outputs (unless the name, read
        // back from a file, already has it).
        if (output_count() == 1)
            return metric.name();
        const std::string prefix = output_names()[output] + "_";
        return metric.name().rfind(prefix, 0) == 0 ? metric.name() : prefix + metric.name();
    }

    Logs Model::make_logs(double loss, const std::vector<double>& output_losses,
                          const std::vector<std::vector<Metric>>& metrics) const
    {
        Logs logs{{"loss", loss}};
        const auto outputs = output_names();
        if (outputs.size() > 1)
            for (std::size_t i = 0; i < outputs.size(); ++i)
                logs.emplace_back(outputs[i] + "_loss", output_losses[i]);
        for (std::size_t i = 0; i < metrics.size(); ++i)
            for (const auto& m : metrics[i])
                logs.emplace_back(metric_log_name(i, m), m.result());
        return logs;
    }

    Logs Model::train_on_batch(const Tensors& x, const Tensors& y)
    {
        check_data(x, y, "train_on_batch");
        loss();
        for (auto& ms : m_metrics)
            for (auto& m : ms)
                m.reset_state();
        std::vector<double> output_losses;
        double total = train_step({x, y}, output_losses);
        return make_logs(total, output_losses, m_metrics);
    }

    Logs Model::train_on_batch(const Tensor& x, const Tensor& y)
    {
        return train_on_batch(Tensors{x}, Tensors{y});
    }

    // ---------------------------------------------------------------- fit, evaluate, predict

    History Model::fit(const Tensor& x, const Tensor& y, const FitOptions& options)
    {
        return fit(Tensors{x}, Tensors{y}, options);
    }

    History Model::fit(const Tensors& x_all, const Tensors& y_all, const FitOptions& options)
    {
        const std::size_t total = check_data(x_all, y_all, "fit");
        XK_CHECK(y_all.size() == output_count(), value_error, where(), ": fit needs a target array per output.");
        XK_CHECK(options.batch_size > 0, value_error, "fit: batch_size must be positive. Received batch_size=",
                 options.batch_size, ".");
        XK_CHECK(options.epochs >= 0, value_error, "fit: epochs must be >= 0. Received epochs=", options.epochs, ".");
        XK_CHECK(options.initial_epoch >= 0, value_error, "fit: initial_epoch must be >= 0. Received initial_epoch=",
                 options.initial_epoch, ".");
        XK_CHECK(options.validation_split >= 0.0 && options.validation_split < 1.0, value_error,
                 "fit: validation_split must be in [0, 1). Received validation_split=", options.validation_split, ".");
        loss(); // compiled?

        // validation_split takes the last samples, before any shuffling (Keras's train_validation_split).
        Tensors x = x_all, y = y_all;
        std::optional<ValidationData> validation = options.validation_data;
        if (options.validation_split > 0.0 && !validation)
        {
            const std::size_t split = std::size_t(std::floor(double(total) * (1.0 - options.validation_split)));
            XK_CHECK(split > 0 && split < total, value_error, "fit: validation_split=", options.validation_split,
                     " leaves no training or no validation samples out of ", total, ".");
            validation = ValidationData(row_range(x_all, split, total), row_range(y_all, split, total));
            x = row_range(x_all, 0, split);
            y = row_range(y_all, 0, split);
        }
        if (validation)
            check_data(validation->x, validation->y, "fit (validation data)");

        auto history = std::make_shared<History>();
        std::vector<CallbackPtr> callbacks{history};
        callbacks.insert(callbacks.end(), options.callbacks.begin(), options.callbacks.end());
        for (auto& c : callbacks)
            c->set_model(this);

        const std::size_t n = x[0].shape()[0];
        const std::size_t steps = (n + options.batch_size - 1) / options.batch_size;
        std::vector<std::size_t> order = identity_order(n);
        Rng rng = make_rng();
        stop_training = false;
        for (auto& c : callbacks)
            c->on_train_begin({});
        Logs logs;
        const std::size_t outputs = output_count();
        for (int epoch = options.initial_epoch; epoch < options.epochs && !stop_training; ++epoch)
        {
            if (options.verbose)
                fmt::print("Epoch {}/{}\n", epoch + 1, options.epochs);
            for (auto& c : callbacks)
                c->on_epoch_begin(epoch, {});
            if (options.shuffle)
                std::shuffle(order.begin(), order.end(), rng);
            for (auto& ms : m_metrics)
                for (auto& m : ms)
                    m.reset_state();
            Mean running_loss("loss");
            std::vector<Mean> running_outputs(outputs);
            Progbar bar(steps, options.verbose);
            for (std::size_t step = 0; step < steps && !stop_training; ++step)
            {
                const std::size_t begin = step * options.batch_size, end = std::min(n, begin + options.batch_size);
                for (auto& c : callbacks)
                    c->on_train_batch_begin(int(step), {});
                std::vector<double> output_losses;
                double batch_loss = train_step(gather(x, y, order, begin, end), output_losses);
                running_loss.update_state(batch_loss, double(end - begin));
                std::vector<double> means;
                for (std::size_t i = 0; i < outputs; ++i)
                {
                    running_outputs[i].update_state(output_losses[i], double(end - begin));
                    means.push_back(running_outputs[i].result());
                }
                logs = make_logs(running_loss.result(), means, m_metrics);
                for (auto& c : callbacks)
                    c->on_train_batch_end(int(step), logs);
                if (step + 1 < steps)
                    bar.update(step + 1, logs);
            }
            if (validation)
                for (const auto& [key, value] : evaluate(validation->x, validation->y, options.batch_size))
                    logs.emplace_back("val_" + key, value);
            bar.update(steps, logs, /*finalize=*/true);
            for (auto& c : callbacks)
                c->on_epoch_end(epoch, logs);
        }
        // Keras 3's fit: with use_ema the weights take their moving averages once training is over.
        if (options.epochs > options.initial_epoch)
            optimizer().finalize_variable_values(trainable_weights());
        for (auto& c : callbacks)
            c->on_train_end(logs);
        return *history;
    }

    Logs Model::evaluate(const Tensor& x, const Tensor& y, std::size_t batch_size, int verbose)
    {
        return evaluate(Tensors{x}, Tensors{y}, batch_size, verbose);
    }

    Logs Model::evaluate(const Tensors& x, const Tensors& y, std::size_t batch_size, int verbose)
    {
        const std::size_t n = check_data(x, y, "evaluate");
        XK_CHECK(y.size() == output_count(), value_error, where(), ": evaluate needs a target array per output.");
        XK_CHECK(batch_size > 0, value_error, "evaluate: batch_size must be positive. Received batch_size=", batch_size,
                 ".");
        loss();
        auto metrics = m_metrics; // evaluation keeps the training metrics' running state intact
        for (auto& ms : metrics)
            for (auto& m : ms)
                m.reset_state();
        Mean running_loss("loss");
        std::vector<Mean> running_outputs(output_count());
        const std::size_t steps = (n + batch_size - 1) / batch_size;
        Progbar bar(steps, verbose);
        Logs logs;
        for (std::size_t step = 0; step < steps; ++step)
        {
            const std::size_t begin = step * batch_size, end = std::min(n, begin + batch_size);
            const Tensors xb = row_range(x, begin, end), yb = row_range(y, begin, end);
            NoGradGuard no_grad;
            Tape tape;
            std::vector<Variable> xs(xb.begin(), xb.end());
            std::vector<Variable> y_pred = call(tape, xs, false);
            std::vector<double> output_losses;
            Variable total = total_loss(tape, yb, y_pred, output_losses);
            running_loss.update_state(double(total.value()()), double(end - begin));
            std::vector<double> means;
            for (std::size_t i = 0; i < y_pred.size(); ++i)
            {
                running_outputs[i].update_state(output_losses[i], double(end - begin));
                means.push_back(running_outputs[i].result());
                for (auto& m : metrics[i])
                    m.update_state(yb[i], y_pred[i].value());
            }
            logs = make_logs(running_loss.result(), means, metrics);
            bar.update(step + 1, logs);
        }
        return logs;
    }

    Tensors Model::predict(const Tensors& x, std::size_t batch_size)
    {
        const std::size_t n = check_data(x, {}, "predict");
        XK_CHECK(batch_size > 0, value_error, "predict: batch_size must be positive. Received batch_size=", batch_size,
                 ".");
        Tensors out;
        for (std::size_t begin = 0; begin < n; begin += batch_size)
        {
            const std::size_t end = std::min(n, begin + batch_size);
            Tensors yb = m_network->predict(row_range(x, begin, end));
            if (begin == 0)
                for (const auto& y : yb)
                {
                    Shape shape = shape_of(y);
                    shape[0] = n;
                    out.push_back(Tensor::from_shape(shape));
                }
            for (std::size_t i = 0; i < yb.size(); ++i)
                std::copy(yb[i].begin(), yb[i].end(), out[i].data() + begin * (out[i].size() / n));
        }
        return out;
    }

    xk::Tensor<float> Model::predict(const Tensor& x, std::size_t batch_size)
    {
        Tensors out = predict(Tensors{x}, batch_size);
        XK_CHECK(out.size() == 1, value_error, where(), " has ", out.size(),
                 " outputs; predict with a list of inputs returns them all.");
        return std::move(out[0]);
    }

    // ---------------------------------------------------------------- files

    json Model::training_config() const
    {
        if (!m_optimizer || m_losses.empty())
            return nullptr;
        const auto outputs = output_names();
        json metrics = json::array();
        for (std::size_t i = 0; i < m_metrics.size(); ++i)
        {
            json list = json::array();
            for (const auto& m : m_metrics[i])
                list.push_back(serialize(m));
            metrics.push_back(list);
        }
        // One output: tf.keras writes the loss and a flat metric list; several: a loss per output.
        json loss = serialize(m_losses[0]);
        if (outputs.size() > 1)
        {
            loss = json::array();
            for (const auto& l : m_losses)
                loss.push_back(serialize(l));
        }
        else
            metrics = metrics.empty() ? json::array() : metrics[0];
        json weights = nullptr;
        if (std::any_of(m_loss_weights.begin(), m_loss_weights.end(), [](double w) { return w != 1.0; }))
            weights = m_loss_weights;
        return {{"loss", loss},
                {"metrics", metrics},
                {"weighted_metrics", nullptr},
                {"loss_weights", weights},
                {"optimizer_config", {{"class_name", m_optimizer->class_name()}, {"config", m_optimizer->get_config()}}}};
    }

    void Model::save(const std::string& path)
    {
        if (!compiled())
        {
            save_model(*m_network, path);
            return;
        }
        if (is_keras_archive_path(path))
        {
            // A .keras file holds a Keras 3 optimizer: the same state under Keras 3's names and order, built
            // as compile_from_config builds it on load so the variable counts agree.
            std::unique_ptr<Optimizer> keras3 = optimizer().as_keras3();
            keras3->build(trainable_weights(), trainable_weight_paths());
            SavedTraining<float> training{keras3_compile_config(training_config(), *keras3), {}};
            for (auto& [name, value] : keras3->get_weights())
                training.optimizer_variables.push_back(std::move(value));
            save_model_keras(*m_network, path, &training);
            return;
        }
        SavedOptimizer<float> state{training_config(), optimizer().get_weights()};
        save_model(*m_network, path, &state);
    }

    namespace
    {
        /// Keras's answer to a training configuration naming what it cannot build: the model loads uncompiled.
        void warn_uncompiled(const std::string& path, const std::string& why)
        {
            fmt::print(stderr,
                       "WARNING: The model in '{}' is loaded uncompiled: its training configuration cannot be "
                       "compiled here ({}). Call compile() before training it.\n",
                       path, why);
        }
    }

    bool Model::compile_saved(const CompileArguments& arguments, const std::string& path, const char* config_name)
    {
        try
        {
            compile(arguments.optimizer, arguments.loss, arguments.metrics, arguments.loss_weights);
            return true;
        }
        catch (const unknown_identifier_error& e)
        {
            warn_uncompiled(path, e.what());
            return false;
        }
        catch (const value_error& e)
        {
            throw value_error(
                detail::concat("Cannot compile the model saved in '", path, "' from its ", config_name, ": ", e.what()));
        }
    }

    void Model::restore_optimizer(const std::vector<OptimizerWeight>& weights, const CompileArguments& arguments,
                                  const std::string& path)
    {
        try
        {
            optimizer().set_weights(weights);
        }
        catch (const value_error& e)
        {
            // Keras's load_model: a saved state that does not fit is a warning, and training restarts from a
            // fresh optimizer.
            fmt::print(stderr,
                       "WARNING: Error in loading the saved optimizer state from '{}' ({}). As a result, your model is "
                       "starting with a freshly initialized optimizer.\n",
                       path, e.what());
            compile(arguments.optimizer, arguments.loss, arguments.metrics, arguments.loss_weights);
        }
    }

    void Model::restore_keras_training(const std::string& path)
    {
        SavedTraining<float> saved = load_training_keras<float>(path);
        if (saved.compile_config.is_null())
            return;
        CompileArguments arguments;
        try
        {
            arguments = compile_arguments_of(saved.compile_config, path);
        }
        catch (const unknown_identifier_error& e)
        {
            warn_uncompiled(path, e.what());
            return;
        }
        if (!compile_saved(arguments, path, "compile_config"))
            return;
        Optimizer& opt = optimizer();
        opt.build(trainable_weights(), trainable_weight_paths());
        if (saved.optimizer_variables.empty())
            return;
        std::vector<OptimizerWeight> weights = opt.get_weights();
        // BaseOptimizer.load_own_variables: a count that differs (an optimizer saved before its first step, or
        // by tf.keras 2.x without a learning-rate variable) is skipped with a warning.
        if (weights.size() != saved.optimizer_variables.size())
        {
            fmt::print(stderr,
                       "WARNING: Skipping variable loading for optimizer '{}' of '{}', because it has {} variables "
                       "whereas the saved optimizer has {} variables.\n",
                       opt.name(), path, weights.size(), saved.optimizer_variables.size());
            return;
        }
        for (std::size_t i = 0; i < weights.size(); ++i)
            weights[i].second = std::move(saved.optimizer_variables[i]);
        restore_optimizer(weights, arguments, path);
    }

    void Model::restore_training(const std::string& path)
    {
        if (is_keras_archive_path(path))
        {
            restore_keras_training(path);
            return;
        }
        SavedOptimizer<float> state = load_optimizer_state<float>(path);
        const json& config = state.training_config;
        if (!(config.is_object() && config.contains("optimizer_config") && config.contains("loss")))
            return;
        const CompileArguments arguments{config["optimizer_config"], config["loss"],
                                         config.value("metrics", json::array()),
                                         config.value("loss_weights", json(nullptr))};
        if (!compile_saved(arguments, path, "training_config") || state.weights.empty())
            return;
        Optimizer& opt = optimizer();
        opt.build(trainable_weights(), trainable_weight_paths());
        std::vector<OptimizerWeight> weights = state.weights;
        // An optimizer saved before its first step holds only the iteration count (its slots did not exist
        // yet); fresh slots are exactly what it would have had.
        if (weights.size() == 1)
        {
            std::vector<OptimizerWeight> fresh = opt.get_weights();
            fresh[0] = weights[0];
            weights = std::move(fresh);
        }
        restore_optimizer(weights, arguments, path);
    }

    Model Model::load(const std::string& path)
    {
        Model model(load_model<float>(path));
        model.restore_training(path);
        return model;
    }

    // ---------------------------------------------------------------- Sequential

    Sequential::Sequential(std::string name) : Model(std::make_unique<BasicSequential<float>>(std::move(name))) {}

    Sequential::Sequential(BasicSequential<float>&& network)
        : Model(std::make_unique<BasicSequential<float>>(std::move(network)))
    {
    }

    Sequential Sequential::load(const std::string& path)
    {
        ModelPtr<float> network = load_model<float>(path);
        auto* stack = dynamic_cast<BasicSequential<float>*>(network.get());
        XK_CHECK(stack != nullptr, value_error, "The model in '", path, "' is a ", network->class_name(),
                 " model, not a Sequential: load it with xk::Model::load.");
        Sequential model(std::move(*stack));
        model.restore_training(path);
        return model;
    }
}
