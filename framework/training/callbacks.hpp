#pragma once
// Keras's training callbacks. fit() calls them at the start and end of training, of each epoch and of each
// batch; `logs` carry the running values (loss, metrics, and val_* at epoch end).
#include "framework/training/progbar.hpp"

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace xk
{
    class Model;

    class Callback
    {
    public:
        virtual ~Callback() = default;
        virtual void on_train_begin(const Logs&) {}
        virtual void on_train_end(const Logs&) {}
        virtual void on_epoch_begin(int /*epoch*/, const Logs&) {}
        virtual void on_epoch_end(int /*epoch*/, const Logs&) {}
        virtual void on_train_batch_begin(int /*batch*/, const Logs&) {}
        virtual void on_train_batch_end(int /*batch*/, const Logs&) {}

        void set_model(Model* model) { m_model = model; }

    protected:
        Model& model() const;

    private:
        Model* m_model = nullptr;
    };

    using CallbackPtr = std::shared_ptr<Callback>;

    /// What fit() returns: every epoch's logs.
    class History : public Callback
    {
    public:
        std::vector<int> epoch;
        std::map<std::string, std::vector<double>> history;

        void on_train_begin(const Logs&) override;
        void on_epoch_end(int epoch, const Logs& logs) override;
    };

    /// "auto" picks "max" for accuracy-like monitors (Keras's rule: "acc" in the name), "min" otherwise.
    bool monitor_improves_upward(const std::string& monitor, const std::string& mode);

    /// Stops training when `monitor` stops improving by more than min_delta for `patience` epochs.
    class EarlyStopping : public Callback
    {
    public:
        struct Options
        {
            std::string monitor = "val_loss";
            double min_delta = 0.0;
            int patience = 0;
            std::string mode = "auto";
            std::optional<double> baseline;
            bool restore_best_weights = false;
            int start_from_epoch = 0;
        };
        explicit EarlyStopping(Options options);
        EarlyStopping() : EarlyStopping(Options{}) {}

        void on_train_begin(const Logs&) override;
        void on_epoch_end(int epoch, const Logs& logs) override;
        void on_train_end(const Logs&) override;
        /// The epoch (0-based) training stopped at, or -1.
        int stopped_epoch() const { return m_stopped_epoch; }

    private:
        Options m_options;
        bool m_upward;
        int m_wait = 0;
        int m_stopped_epoch = -1;
        int m_best_epoch = 0;
        double m_best = 0.0;
        std::vector<std::vector<float>> m_best_weights;
    };

    /// Saves the model (or only its weights) after each epoch, or only when `monitor` improved. The path may
    /// hold Keras's placeholders: "{epoch}", "{epoch:02d}", "{val_loss:.4f}" (any log name). Every save is
    /// atomic, so an interrupted run never leaves half a file.
    class ModelCheckpoint : public Callback
    {
    public:
        struct Options
        {
            std::string monitor = "val_loss";
            bool save_best_only = false;
            bool save_weights_only = false;
            std::string mode = "auto";
            int verbose = 0;
        };
        ModelCheckpoint(std::string filepath, Options options);
        explicit ModelCheckpoint(std::string filepath) : ModelCheckpoint(std::move(filepath), Options{}) {}

        void on_train_begin(const Logs&) override;
        void on_epoch_end(int epoch, const Logs& logs) override;
        /// The path with its placeholders filled for that epoch (1-based, as Keras names files) and logs.
        std::string format_path(int epoch, const Logs& logs) const;

    private:
        std::string m_filepath;
        Options m_options;
        bool m_upward;
        std::optional<double> m_best;
    };

    /// Multiplies the learning rate by `factor` when `monitor` has not improved for `patience` epochs.
    class ReduceLROnPlateau : public Callback
    {
    public:
        struct Options
        {
            std::string monitor = "val_loss";
            double factor = 0.1;
            int patience = 10;
            std::string mode = "auto";
            double min_delta = 1e-4;
            int cooldown = 0;
            double min_lr = 0.0;
            int verbose = 0;
        };
        explicit ReduceLROnPlateau(Options options);
        ReduceLROnPlateau() : ReduceLROnPlateau(Options{}) {}

        void on_train_begin(const Logs&) override;
        void on_epoch_end(int epoch, const Logs& logs) override;

    private:
        Options m_options;
        bool m_upward;
        std::optional<double> m_best;
        int m_wait = 0;
        int m_cooldown = 0;
    };

    /// Writes one CSV row per epoch: epoch, then the logs' keys in sorted order (as Keras does).
    class CSVLogger : public Callback
    {
    public:
        explicit CSVLogger(std::string filename, char separator = ',', bool append = false);
        void on_train_begin(const Logs&) override;
        void on_epoch_end(int epoch, const Logs& logs) override;

    private:
        std::string m_filename;
        char m_separator;
        bool m_append;
        bool m_header_written = false;
    };

    /// Stops training at the first batch whose loss is NaN or infinite.
    class TerminateOnNaN : public Callback
    {
    public:
        void on_train_batch_end(int batch, const Logs& logs) override;
    };

    /// Callbacks from plain functions (Keras's LambdaCallback); unset hooks do nothing.
    class LambdaCallback : public Callback
    {
    public:
        std::function<void(const Logs&)> train_begin, train_end;
        std::function<void(int, const Logs&)> epoch_begin, epoch_end, batch_begin, batch_end;

        void on_train_begin(const Logs& l) override { if (train_begin) train_begin(l); }
        void on_train_end(const Logs& l) override { if (train_end) train_end(l); }
        void on_epoch_begin(int e, const Logs& l) override { if (epoch_begin) epoch_begin(e, l); }
        void on_epoch_end(int e, const Logs& l) override { if (epoch_end) epoch_end(e, l); }
        void on_train_batch_begin(int b, const Logs& l) override { if (batch_begin) batch_begin(b, l); }
        void on_train_batch_end(int b, const Logs& l) override { if (batch_end) batch_end(b, l); }
    };
}
