#pragma once
// xk::Sequential: Keras's Sequential model with its training API, compile / fit / evaluate / predict /
// train_on_batch, on top of the layer stack of BasicSequential<float>.
#include "framework/callbacks.hpp"
#include "framework/losses.hpp"
#include "framework/metrics.hpp"
#include "framework/sequential.hpp"
#include "optim/optimizer.hpp"

#include <optional>

namespace xk
{
    struct FitOptions
    {
        std::size_t batch_size = 32;
        int epochs = 1;
        int verbose = 1;                 ///< 0 silent, 1 progress bar, 2 one line per epoch
        double validation_split = 0.0;   ///< the last fraction of x, y (taken before shuffling, as Keras)
        std::optional<std::pair<xk::Tensor<float>, xk::Tensor<float>>> validation_data;
        bool shuffle = true;
        std::vector<CallbackPtr> callbacks;
        int initial_epoch = 0;
    };

    class Sequential : public BasicSequential<float>
    {
    public:
        explicit Sequential(std::string name = {}) : BasicSequential<float>(std::move(name)) {}
        /// Takes over a loaded or configured stack (load_model, model_from_config).
        Sequential(BasicSequential<float>&& network) : BasicSequential<float>(std::move(network)) {}

        /// Keras's compile: optimizer, loss and metrics by identifier ("adam", {"class_name": ...}, ...).
        void compile(const json& optimizer, const json& loss, const std::vector<json>& metrics = {});
        void compile(OptimizerPtr optimizer, Loss loss, std::vector<Metric> metrics = {});
        bool compiled() const { return m_optimizer != nullptr; }
        Optimizer& optimizer();
        const Loss& loss() const;

        /// Trains for `epochs` over (x, y), batch by batch, printing Keras's progress display; returns the
        /// History (also the first callback every fit gets).
        History fit(const xk::Tensor<float>& x, const xk::Tensor<float>& y, const FitOptions& options = {});
        /// Loss and metrics over (x, y), in batches, in inference mode.
        Logs evaluate(const xk::Tensor<float>& x, const xk::Tensor<float>& y, std::size_t batch_size = 32, int verbose = 0);
        /// Outputs for x, computed in batches in inference mode.
        xk::Tensor<float> predict(const xk::Tensor<float>& x, std::size_t batch_size = 32);
        /// One optimizer step on one batch; the batch's loss and metrics.
        Logs train_on_batch(const xk::Tensor<float>& x, const xk::Tensor<float>& y);

        /// Set by a callback (EarlyStopping, TerminateOnNaN) to end fit() after the current batch or epoch.
        bool stop_training = false;

        /// Keras's training_config JSON (loss, metrics, optimizer_config), as model.save stores it.
        json training_config() const;
        /// model.save: architecture, weights and, when compiled, the optimizer's state.
        void save(const std::string& path);
        /// load_model, compiled again from the file's training_config when it has one.
        static Sequential load(const std::string& path);

    private:
        double train_step(const xk::Tensor<float>& x, const xk::Tensor<float>& y);
        void check_data(const xk::Tensor<float>& x, const xk::Tensor<float>& y, const char* what) const;

        OptimizerPtr m_optimizer;
        std::optional<Loss> m_loss;
        std::vector<Metric> m_metrics;
    };
}
