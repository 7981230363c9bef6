#include "framework/training/callbacks.hpp"
#include "framework/io/keras_h5.hpp"
#include "framework/training/model.hpp"

#include <fmt/core.h>

#include <cmath>
#include <fstream>
#include <regex>

namespace xk
{
    Model& Callback::model() const
    {
        XK_CHECK(m_model, value_error, "This callback is not attached to a model (fit() attaches it).");
        return *m_model;
    }

    void History::on_train_begin(const Logs&)
    {
        epoch.clear();
        history.clear();
    }

    void History::on_epoch_end(int e, const Logs& logs)
    {
        epoch.push_back(e);
        for (const auto& [key, value] : logs)
            history[key].push_back(value);
    }

    bool monitor_improves_upward(const std::string& monitor, const std::string& mode)
    {
        XK_CHECK(mode == "auto" || mode == "min" || mode == "max", value_error,
                 "Callback mode must be one of \"auto\", \"min\", \"max\". Received mode=\"", mode, "\".");
        if (mode != "auto")
            return mode == "max";
        return monitor.find("acc") != std::string::npos || monitor.rfind("fmeasure") != std::string::npos;
    }

    namespace
    {
        bool improved(double current, double best, double min_delta, bool upward)
        {
            return upward ? current - min_delta > best : current + min_delta < best;
        }

        std::vector<std::vector<float>> copy_weights(Model& model)
        {
            std::vector<std::vector<float>> out;
            for (auto* w : model.weights())
                out.emplace_back(w->variable.value().begin(), w->variable.value().end());
            return out;
        }

        void restore_weights(Model& model, const std::vector<std::vector<float>>& saved)
        {
            auto weights = model.weights();
            for (std::size_t i = 0; i < weights.size() && i < saved.size(); ++i)
                std::copy(saved[i].begin(), saved[i].end(), weights[i]->variable.value().begin());
        }

        /// The monitored value, or nullopt with Keras's warning when the logs lack it.
        std::optional<double> monitored(const Logs& logs, const std::string& monitor, const char* who)
        {
            if (const double* v = find_log(logs, monitor))
                return *v;
            std::string available;
            for (const auto& [k, v] : logs)
                available += (available.empty() ? "" : ",") + k;
            fmt::print(stderr, "WARNING: {} conditioned on metric `{}` which is not available. Available metrics are: {}\n",
                       who, monitor, available);
            return std::nullopt;
        }
    }

    EarlyStopping::EarlyStopping(Options options)
        : m_options(std::move(options)), m_upward(monitor_improves_upward(m_options.monitor, m_options.mode))
    {
        XK_CHECK(m_options.patience >= 0, value_error, "EarlyStopping: patience must be >= 0. Received ",
                 m_options.patience, ".");
        m_options.min_delta = std::abs(m_options.min_delta);
    }

    void EarlyStopping::on_train_begin(const Logs&)
    {
        m_wait = 0;
        m_stopped_epoch = -1;
        m_best_epoch = 0;
        m_best = m_upward ? -INFINITY : INFINITY;
        m_best_weights.clear();
    }

    void EarlyStopping::on_epoch_end(int epoch, const Logs& logs)
    {
        auto current = monitored(logs, m_options.monitor, "Early stopping");
        if (!current || epoch < m_options.start_from_epoch)
            return;
        if (m_options.restore_best_weights && m_best_weights.empty())
            m_best_weights = copy_weights(model());
        ++m_wait;
        if (improved(*current, m_best, m_options.min_delta, m_upward))
        {
            m_best = *current;
            m_best_epoch = epoch;
            if (m_options.restore_best_weights)
                m_best_weights = copy_weights(model());
            // Keras only resets the wait when the baseline (if any) is beaten too.
            if (!m_options.baseline || improved(*current, *m_options.baseline, m_options.min_delta, m_upward))
                m_wait = 0;
        }
        if (m_wait >= m_options.patience && epoch > 0)
        {
            m_stopped_epoch = epoch;
            model().stop_training = true;
            if (m_options.restore_best_weights && !m_best_weights.empty())
                restore_weights(model(), m_best_weights);
        }
    }

    void EarlyStopping::on_train_end(const Logs&)
    {
        if (m_stopped_epoch >= 0)
            fmt::print("Epoch {}: early stopping\n", m_stopped_epoch + 1);
    }

    ModelCheckpoint::ModelCheckpoint(std::string filepath, Options options)
        : m_filepath(std::move(filepath)), m_options(std::move(options)),
          m_upward(monitor_improves_upward(m_options.monitor, m_options.mode))
    {
        XK_CHECK(!m_filepath.empty(), value_error, "ModelCheckpoint: filepath must not be empty.");
    }

    void ModelCheckpoint::on_train_begin(const Logs&) { m_best.reset(); }

    std::string ModelCheckpoint::format_path(int epoch, const Logs& logs) const
    {
        // "{name}" or "{name:spec}" with a fmt/Python-style spec, filled from epoch (1-based) and the logs.
        static const std::regex field(R"(\{([A-Za-z_][A-Za-z0-9_]*)(:[^}]*)?\})");
        std::string out;
        auto begin = std::sregex_iterator(m_filepath.begin(), m_filepath.end(), field);
        std::size_t last = 0;
        for (auto it = begin; it != std::sregex_iterator(); ++it)
        {
            out += m_filepath.substr(last, std::size_t(it->position()) - last);
            const std::string name = (*it)[1], spec = (*it)[2].matched ? (*it)[2].str() : std::string();
            if (name == "epoch")
                out += fmt::format(fmt::runtime("{" + spec + "}"), epoch + 1);
            else if (const double* v = find_log(logs, name))
                out += fmt::format(fmt::runtime("{" + spec + "}"), *v);
            else
                throw value_error("ModelCheckpoint: the file path '" + m_filepath + "' names `" + name +
                                  "`, which is not among the epoch's logs.");
            last = std::size_t(it->position() + it->length());
        }
        return out + m_filepath.substr(last);
    }

    void ModelCheckpoint::on_epoch_end(int epoch, const Logs& logs)
    {
        if (m_options.save_best_only)
        {
            auto current = monitored(logs, m_options.monitor, "Can save best model only with");
            if (!current)
                return;
            if (m_best && !improved(*current, *m_best, 0.0, m_upward))
            {
                if (m_options.verbose)
                    fmt::print("\nEpoch {}: {} did not improve from {:.5f}\n", epoch + 1, m_options.monitor, *m_best);
                return;
            }
            if (m_options.verbose)
                fmt::print("\nEpoch {}: {} improved to {:.5f}, saving model\n", epoch + 1, m_options.monitor, *current);
            m_best = *current;
        }
        const std::string path = format_path(epoch, logs);
        // Both savers write atomically: a checkpoint is never half a file.
        if (m_options.save_weights_only)
            save_weights(model(), path);
        else
            model().save(path);
    }

    ReduceLROnPlateau::ReduceLROnPlateau(Options options)
        : m_options(std::move(options)), m_upward(monitor_improves_upward(m_options.monitor, m_options.mode))
    {
        XK_CHECK(m_options.factor < 1.0, value_error,
                 "ReduceLROnPlateau does not support a factor >= 1.0. Received factor=", m_options.factor, ".");
    }

    void ReduceLROnPlateau::on_train_begin(const Logs&)
    {
        m_best.reset();
        m_wait = 0;
        m_cooldown = 0;
    }

    void ReduceLROnPlateau::on_epoch_end(int epoch, const Logs& logs)
    {
        auto current = monitored(logs, m_options.monitor, "Learning rate reduction is");
        if (!current)
            return;
        if (m_cooldown > 0)
        {
            --m_cooldown;
            m_wait = 0;
        }
        if (!m_best || improved(*current, *m_best, m_options.min_delta, m_upward))
        {
            m_best = *current;
            m_wait = 0;
            return;
        }
        if (m_cooldown > 0 || ++m_wait < m_options.patience)
            return;
        Optimizer& opt = model().optimizer();
        const double old_lr = opt.learning_rate_value();
        if (old_lr > m_options.min_lr)
        {
            const double new_lr = std::max(old_lr * m_options.factor, m_options.min_lr);
            opt.set_learning_rate(new_lr);
            if (m_options.verbose)
                fmt::print("\nEpoch {}: ReduceLROnPlateau reducing learning rate to {}.\n", epoch + 1, new_lr);
            m_cooldown = m_options.cooldown;
            m_wait = 0;
        }
    }

    CSVLogger::CSVLogger(std::string filename, char separator, bool append)
        : m_filename(std::move(filename)), m_separator(separator), m_append(append)
    {
    }

    void CSVLogger::on_train_begin(const Logs&)
    {
        m_header_written = m_append && std::ifstream(m_filename).peek() != std::ifstream::traits_type::eof();
        if (!m_append)
        {
            std::ofstream truncate(m_filename, std::ios::trunc);
            XK_CHECK(truncate, io_error, "CSVLogger: cannot write '", m_filename, "'.");
        }
    }

    void CSVLogger::on_epoch_end(int epoch, const Logs& logs)
    {
        Logs sorted = logs;
        std::sort(sorted.begin(), sorted.end());
        std::ofstream out(m_filename, std::ios::app);
        XK_CHECK(out, io_error, "CSVLogger: cannot write '", m_filename, "'.");
        if (!m_header_written)
        {
            out << "epoch";
            for (const auto& [key, value] : sorted)
                out << m_separator << key;
            out << "\n";
            m_header_written = true;
        }
        out << epoch;
        for (const auto& [key, value] : sorted)
            out << m_separator << fmt::format("{}", value);
        out << "\n";
    }

    void TerminateOnNaN::on_train_batch_end(int batch, const Logs& logs)
    {
        const double* loss = find_log(logs, "loss");
        if (loss && !std::isfinite(*loss))
        {
            fmt::print("Batch {}: Invalid loss, terminating training\n", batch);
            model().stop_training = true;
        }
    }
}
