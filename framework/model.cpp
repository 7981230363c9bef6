#include "framework/model.hpp"
#include "framework/check_numerics.hpp"
#include "framework/io/keras_h5.hpp"
#include "framework/ops.hpp"
#include "framework/random.hpp"

#include <fmt/core.h>

#include <cmath>
#include <numeric>

namespace xk
{
    namespace
    {
        /// Rows `index[begin..end)` of a batch-first tensor, copied into one contiguous batch.
        xk::Tensor<float> gather_rows(const xk::Tensor<float>& t, const std::vector<std::size_t>& index, std::size_t begin,
                                  std::size_t end)
        {
            Shape shape = shape_of(t);
            const std::size_t row = t.size() / shape[0];
            shape[0] = end - begin;
            xk::Tensor<float> out = xk::Tensor<float>::from_shape(shape);
            for (std::size_t i = begin; i < end; ++i)
                std::copy_n(t.data() + index[i] * row, row, out.data() + (i - begin) * row);
            return out;
        }

        xk::Tensor<float> row_range(const xk::Tensor<float>& t, std::size_t begin, std::size_t end)
        {
            std::vector<std::size_t> index(t.shape()[0]);
            std::iota(index.begin(), index.end(), std::size_t(0));
            return gather_rows(t, index, begin, end);
        }
    }

    void Sequential::compile(const json& optimizer, const json& loss, const std::vector<json>& metrics)
    {
        std::vector<Metric> resolved;
        for (const auto& m : metrics)
            resolved.push_back(get_metric(m));
        compile(get_optimizer(optimizer), get_loss(loss), std::move(resolved));
    }

    void Sequential::compile(OptimizerPtr optimizer, Loss loss, std::vector<Metric> metrics)
    {
        XK_CHECK(optimizer != nullptr, value_error, "Sequential '", name(), "': compile needs an optimizer.");
        m_optimizer = std::move(optimizer);
        m_loss = std::move(loss);
        m_metrics = std::move(metrics);
    }

    Optimizer& Sequential::optimizer()
    {
        XK_CHECK(m_optimizer, value_error, "Sequential '", name(),
                 "': you must compile your model before training/testing. Use `model.compile(optimizer, loss)`.");
        return *m_optimizer;
    }

    const Loss& Sequential::loss() const
    {
        XK_CHECK(m_loss, value_error, "Sequential '", name(),
                 "': you must compile your model before training/testing. Use `model.compile(optimizer, loss)`.");
        return *m_loss;
    }

    void Sequential::check_data(const xk::Tensor<float>& x, const xk::Tensor<float>& y, const char* what) const
    {
        XK_CHECK(x.dimension() >= 1 && x.shape()[0] > 0, value_error, "Sequential '", name(), "': ", what,
                 " got an empty input x of shape ", shape_str(shape_of(x)), ".");
        XK_CHECK(y.dimension() >= 1 && y.shape()[0] == x.shape()[0], value_error, "Sequential '", name(), "': ", what,
                 ": x and y must have the same number of samples. Received x of shape ", shape_str(shape_of(x)),
                 " and y of shape ", shape_str(shape_of(y)), ".");
    }

    double Sequential::train_step(const xk::Tensor<float>& x, const xk::Tensor<float>& y)
    {
        Tape tape;
        Variable y_pred = call(tape, Variable(x), /*training=*/true);
        Variable total = loss()(tape, y, y_pred);
        // Keras's training loss includes every layer's activity penalties and weight penalties.
        for (const auto& extra : std::vector<Variable>(tape.losses()))
            total = ops::add(tape, total, extra);
        total = ops::add(tape, total, regularization_loss(tape));
        if (check_numerics_enabled())
            check_finite(total.value(), "the loss '" + loss().name() + "'", "Sequential '" + name() + "'");
        tape.backward(total);
        optimizer().apply_gradients(*this);
        for (auto* w : weights())
            w->variable.zero_grad();
        for (auto& m : m_metrics)
            m.update_state(y, y_pred.value());
        return double(total.value()());
    }

    Logs Sequential::train_on_batch(const xk::Tensor<float>& x, const xk::Tensor<float>& y)
    {
        check_data(x, y, "train_on_batch");
        for (auto& m : m_metrics)
            m.reset_state();
        Logs logs{{"loss", train_step(x, y)}};
        for (const auto& m : m_metrics)
            logs.emplace_back(m.name(), m.result());
        return logs;
    }

    History Sequential::fit(const xk::Tensor<float>& x_all, const xk::Tensor<float>& y_all, const FitOptions& options)
    {
        check_data(x_all, y_all, "fit");
        XK_CHECK(options.batch_size > 0, value_error, "fit: batch_size must be positive. Received batch_size=",
                 options.batch_size, ".");
        XK_CHECK(options.epochs >= 0, value_error, "fit: epochs must be >= 0. Received epochs=", options.epochs, ".");
        XK_CHECK(options.initial_epoch >= 0, value_error, "fit: initial_epoch must be >= 0. Received initial_epoch=",
                 options.initial_epoch, ".");
        XK_CHECK(options.validation_split >= 0.0 && options.validation_split < 1.0, value_error,
                 "fit: validation_split must be in [0, 1). Received validation_split=", options.validation_split, ".");
        loss(); // compiled?

        // validation_split takes the last samples, before any shuffling (Keras's train_validation_split).
        xk::Tensor<float> x = x_all, y = y_all;
        std::optional<std::pair<xk::Tensor<float>, xk::Tensor<float>>> validation = options.validation_data;
        const std::size_t total = x_all.shape()[0];
        if (options.validation_split > 0.0 && !validation)
        {
            const std::size_t split = std::size_t(std::floor(double(total) * (1.0 - options.validation_split)));
            XK_CHECK(split > 0 && split < total, value_error, "fit: validation_split=", options.validation_split,
                     " leaves no training or no validation samples out of ", total, ".");
            validation = {row_range(x_all, split, total), row_range(y_all, split, total)};
            x = row_range(x_all, 0, split);
            y = row_range(y_all, 0, split);
        }
        if (validation)
            check_data(validation->first, validation->second, "fit (validation data)");

        auto history = std::make_shared<History>();
        std::vector<CallbackPtr> callbacks{history};
        callbacks.insert(callbacks.end(), options.callbacks.begin(), options.callbacks.end());
        for (auto& c : callbacks)
            c->set_model(this);

        const std::size_t n = x.shape()[0];
        const std::size_t steps = (n + options.batch_size - 1) / options.batch_size;
        std::vector<std::size_t> order(n);
        std::iota(order.begin(), order.end(), std::size_t(0));
        Rng rng = make_rng();
        stop_training = false;
        for (auto& c : callbacks)
            c->on_train_begin({});
        Logs logs;
        for (int epoch = options.initial_epoch; epoch < options.epochs && !stop_training; ++epoch)
        {
            if (options.verbose)
                fmt::print("Epoch {}/{}\n", epoch + 1, options.epochs);
            for (auto& c : callbacks)
                c->on_epoch_begin(epoch, {});
            if (options.shuffle)
                std::shuffle(order.begin(), order.end(), rng);
            for (auto& m : m_metrics)
                m.reset_state();
            Mean running_loss("loss");
            Progbar bar(steps, options.verbose);
            for (std::size_t step = 0; step < steps && !stop_training; ++step)
            {
                const std::size_t begin = step * options.batch_size, end = std::min(n, begin + options.batch_size);
                for (auto& c : callbacks)
                    c->on_train_batch_begin(int(step), {});
                double batch_loss = train_step(gather_rows(x, order, begin, end), gather_rows(y, order, begin, end));
                running_loss.update_state(batch_loss, double(end - begin));
                logs = {{"loss", running_loss.result()}};
                for (const auto& m : m_metrics)
                    logs.emplace_back(m.name(), m.result());
                for (auto& c : callbacks)
                    c->on_train_batch_end(int(step), logs);
                if (step + 1 < steps)
                    bar.update(step + 1, logs);
            }
            if (validation)
                for (const auto& [key, value] : evaluate(validation->first, validation->second, options.batch_size))
                    logs.emplace_back("val_" + key, value);
            bar.update(steps, logs, /*finalize=*/true);
            for (auto& c : callbacks)
                c->on_epoch_end(epoch, logs);
        }
        for (auto& c : callbacks)
            c->on_train_end(logs);
        return *history;
    }

    Logs Sequential::evaluate(const xk::Tensor<float>& x, const xk::Tensor<float>& y, std::size_t batch_size, int verbose)
    {
        check_data(x, y, "evaluate");
        XK_CHECK(batch_size > 0, value_error, "evaluate: batch_size must be positive. Received batch_size=", batch_size,
                 ".");
        std::vector<Metric> metrics = m_metrics; // evaluation keeps the training metrics' running state intact
        for (auto& m : metrics)
            m.reset_state();
        Mean running_loss("loss");
        const std::size_t n = x.shape()[0], steps = (n + batch_size - 1) / batch_size;
        Progbar bar(steps, verbose);
        Logs logs;
        for (std::size_t step = 0; step < steps; ++step)
        {
            const std::size_t begin = step * batch_size, end = std::min(n, begin + batch_size);
            const xk::Tensor<float> xb = row_range(x, begin, end), yb = row_range(y, begin, end);
            NoGradGuard no_grad;
            Tape tape;
            Variable y_pred = call(tape, Variable(xb), false);
            Variable total = loss()(tape, yb, y_pred);
            for (const auto& extra : std::vector<Variable>(tape.losses()))
                total = ops::add(tape, total, extra);
            total = ops::add(tape, total, regularization_loss(tape));
            running_loss.update_state(double(total.value()()), double(end - begin));
            for (auto& m : metrics)
                m.update_state(yb, y_pred.value());
            logs = {{"loss", running_loss.result()}};
            for (const auto& m : metrics)
                logs.emplace_back(m.name(), m.result());
            bar.update(step + 1, logs);
        }
        return logs;
    }

    xk::Tensor<float> Sequential::predict(const xk::Tensor<float>& x, std::size_t batch_size)
    {
        XK_CHECK(x.dimension() >= 1 && x.shape()[0] > 0, value_error, "Sequential '", name(),
                 "': predict got an empty input of shape ", shape_str(shape_of(x)), ".");
        XK_CHECK(batch_size > 0, value_error, "predict: batch_size must be positive. Received batch_size=", batch_size,
                 ".");
        const std::size_t n = x.shape()[0];
        xk::Tensor<float> out;
        for (std::size_t begin = 0; begin < n; begin += batch_size)
        {
            const std::size_t end = std::min(n, begin + batch_size);
            xk::Tensor<float> yb = BasicSequential<float>::predict(row_range(x, begin, end));
            if (begin == 0)
            {
                Shape shape = shape_of(yb);
                shape[0] = n;
                out = xk::Tensor<float>::from_shape(shape);
            }
            std::copy(yb.begin(), yb.end(), out.data() + begin * (out.size() / n));
        }
        return out;
    }

    json Sequential::training_config() const
    {
        if (!m_optimizer || !m_loss)
            return nullptr;
        json metrics = json::array();
        for (const auto& m : m_metrics)
            metrics.push_back(serialize(m));
        return {{"loss", serialize(*m_loss)},
                {"metrics", metrics},
                {"weighted_metrics", nullptr},
                {"loss_weights", nullptr},
                {"optimizer_config", {{"class_name", m_optimizer->class_name()}, {"config", m_optimizer->get_config()}}}};
    }

    void Sequential::save(const std::string& path)
    {
        if (!compiled())
        {
            save_model(*this, path);
            return;
        }
        SavedOptimizer<float> state{training_config(), optimizer().get_weights()};
        save_model(*this, path, &state);
    }

    Sequential Sequential::load(const std::string& path)
    {
        Sequential model(load_model<float>(path));
        SavedOptimizer<float> state = load_optimizer_state<float>(path);
        const json& config = state.training_config;
        if (config.is_object() && config.contains("optimizer_config") && config.contains("loss"))
        {
            std::vector<json> metrics;
            if (config.contains("metrics") && config["metrics"].is_array())
                for (const auto& m : config["metrics"])
                    metrics.push_back(m);
            try
            {
                model.compile(config["optimizer_config"], config["loss"], metrics);
            }
            catch (const value_error& e)
            {
                throw value_error(detail::concat("Cannot compile the model saved in '", path,
                                                 "' from its training_config: ", e.what()));
            }
            if (!state.weights.empty())
            {
                Optimizer& optimizer = model.optimizer();
                optimizer.build(model);
                std::vector<OptimizerWeight> weights = state.weights;
                // An optimizer saved before its first step holds only the iteration count (its slots did not
                // exist yet); fresh slots are exactly what it would have had.
                if (weights.size() == 1)
                {
                    std::vector<OptimizerWeight> fresh = optimizer.get_weights();
                    fresh[0] = weights[0];
                    weights = std::move(fresh);
                }
                try
                {
                    optimizer.set_weights(weights);
                }
                catch (const value_error& e)
                {
                    // Keras's load_model: a saved state that does not fit is a warning, and training restarts
                    // from a fresh optimizer.
                    fmt::print(stderr,
                               "WARNING: Error in loading the saved optimizer state from '{}' ({}). As a result, "
                               "your model is starting with a freshly initialized optimizer.\n",
                               path, e.what());
                    model.compile(config["optimizer_config"], config["loss"], metrics);
                }
            }
        }
        return model;
    }
}
