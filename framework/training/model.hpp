#pragma once
// xk::Model: Keras's training API (compile / fit / evaluate / predict / train_on_batch / save / load) over any
// float model: a functional graph (Model(inputs, outputs)), a Sequential (xk::Sequential is a Model, as in
// Keras) or whatever load_model read. Several inputs are a list of arrays in the model's input order; several
// outputs take a loss each (one for all, a list, or a dict by output name), loss_weights, and metrics per
// output, and their logs are named as Keras names them (dense_1_loss, val_dense_1_accuracy).
#include "framework/training/callbacks.hpp"
#include "framework/models/functional.hpp"
#include "framework/training/losses.hpp"
#include "framework/training/metrics.hpp"
#include "framework/models/sequential.hpp"
#include "optim/optimizer.hpp"

#include <optional>

namespace xk
{
    struct CompileArguments; // framework/training/keras3_compile.hpp

    using Tensors = std::vector<xk::Tensor<float>>;

    /// fit()'s validation_data: one array per input and per output (or a single x and y).
    struct ValidationData
    {
        Tensors x, y;
        ValidationData(Tensors x_, Tensors y_) : x(std::move(x_)), y(std::move(y_)) {}
        ValidationData(xk::Tensor<float> x_, xk::Tensor<float> y_) : x{std::move(x_)}, y{std::move(y_)} {}
    };

    struct FitOptions
    {
        std::size_t batch_size = 32;
        int epochs = 1;
        int verbose = 1;                 ///< 0 silent, 1 progress bar, 2 one line per epoch
        double validation_split = 0.0;   ///< the last fraction of x, y (taken before shuffling, as Keras)
        std::optional<ValidationData> validation_data;
        bool shuffle = true;
        std::vector<CallbackPtr> callbacks;
        int initial_epoch = 0;
    };

    class Model : public BasicModel<float>
    {
    public:
        using Tensor = xk::Tensor<float>;

        /// Keras's Model(inputs, outputs): the functional graph between them.
        Model(std::vector<SymbolicTensor> inputs, std::vector<SymbolicTensor> outputs, std::string name = {});
        /// Takes over a network (load_model, model_from_config).
        explicit Model(ModelPtr<float> network);
        Model(Model&&) noexcept = default;
        Model& operator=(Model&&) noexcept = default;

        /// The model without the training state.
        BasicModel<float>& network() const { return *m_network; }

        std::string class_name() const override { return m_network->class_name(); }
        const std::string& name() const override { return m_network->name(); }
        std::vector<BasicLayer<float>*> layers() const override { return m_network->layers(); }
        std::vector<std::string> input_names() const override { return m_network->input_names(); }
        std::vector<std::string> output_names() const override { return m_network->output_names(); }
        std::vector<PartialShape> input_shapes() const override { return m_network->input_shapes(); }
        std::vector<PartialShape> compute_output_shapes(std::span<const PartialShape> shapes) const override
        {
            return m_network->compute_output_shapes(shapes);
        }
        bool built() const override { return m_network->built(); }
        void build(std::span<const PartialShape> shapes) override { m_network->build(shapes); }
        using BasicModel<float>::call;
        std::vector<Variable> call(Tape& tape, std::span<const Variable> inputs, bool training = false) override
        {
            return m_network->call(tape, inputs, training);
        }
        /// One input, one output.
        Variable call(Tape& tape, const Variable& x, bool training = false);
        json get_config() const override { return m_network->get_config(); }
        std::string summary() const override { return m_network->summary(); }

        /// Keras's compile: optimizer, loss and metrics by identifier ("adam", {"class_name": ...}, ...). The
        /// loss is one for every output, a list (one per output) or a dict by output name; each metric applies
        /// to every output.
        void compile(const json& optimizer, const json& loss, const std::vector<json>& metrics = {});
        /// As Keras's compile(optimizer, loss, metrics, loss_weights): metrics a list (for every output), a list
        /// of lists or a dict by output name (per output); loss_weights null, a list or a dict by output name.
        void compile(const json& optimizer, const json& loss, const json& metrics, const json& loss_weights);
        void compile(OptimizerPtr optimizer, Loss loss, std::vector<Metric> metrics = {});
        /// Per output: the losses, their weights and the metrics, one entry per output.
        void compile(OptimizerPtr optimizer, std::vector<Loss> losses, std::vector<double> loss_weights,
                     std::vector<std::vector<Metric>> metrics);
        bool compiled() const { return m_optimizer != nullptr; }
        Optimizer& optimizer();
        /// The loss of output `output` (the only one for a single-output model).
        const Loss& loss(std::size_t output = 0) const;

        /// Trains for `epochs` over (x, y), batch by batch, printing Keras's progress display; returns the
        /// History (also the first callback every fit gets). One array per input and per output.
        History fit(const Tensors& x, const Tensors& y, const FitOptions& options = {});
        History fit(const Tensor& x, const Tensor& y, const FitOptions& options = {});
        /// Loss and metrics over (x, y), in batches, in inference mode.
        Logs evaluate(const Tensors& x, const Tensors& y, std::size_t batch_size = 32, int verbose = 0);
        Logs evaluate(const Tensor& x, const Tensor& y, std::size_t batch_size = 32, int verbose = 0);
        /// Outputs for x, computed in batches in inference mode.
        Tensors predict(const Tensors& x, std::size_t batch_size = 32);
        /// One input, one output.
        Tensor predict(const Tensor& x, std::size_t batch_size = 32);
        /// One optimizer step on one batch; the batch's loss and metrics.
        Logs train_on_batch(const Tensors& x, const Tensors& y);
        Logs train_on_batch(const Tensor& x, const Tensor& y);

        /// Set by a callback (EarlyStopping, TerminateOnNaN) to end fit() after the current batch or epoch.
        bool stop_training = false;

        /// Keras's training_config JSON (loss, metrics, loss_weights, optimizer_config), as model.save stores it.
        json training_config() const;
        /// model.save: architecture, weights and, when compiled, the optimizer's state.
        void save(const std::string& path);
        /// load_model, compiled again from the file's training_config (a .keras file's compile_config) when it
        /// has one; uncompiled, with a warning, when that names something xkeras lacks (a custom loss, ...).
        static Model load(const std::string& path);

    protected:
        /// Compiles from a file's training_config and restores the optimizer's saved state.
        void restore_training(const std::string& path);
        /// The same from a .keras archive's compile_config and /optimizer/vars.
        void restore_keras_training(const std::string& path);
        /// compile() with a file's arguments: false (and a warning) when they name what xkeras lacks; a
        /// value_error naming the file and `config_name` for arguments Keras would refuse.
        bool compile_saved(const CompileArguments& arguments, const std::string& path, const char* config_name);
        /// set_weights of a saved optimizer state; one that does not fit warns and compiles a fresh optimizer.
        void restore_optimizer(const std::vector<OptimizerWeight>& weights, const CompileArguments& arguments,
                               const std::string& path);

        ModelPtr<float> m_network;

    private:
        struct Batch
        {
            Tensors x, y;
        };
        Batch gather(const Tensors& x, const Tensors& y, const std::vector<std::size_t>& index, std::size_t begin,
                     std::size_t end) const;
        /// The weighted sum of the outputs' losses plus the penalties; `output_losses` gets each output's loss.
        Variable total_loss(Tape& tape, const Tensors& y, const std::vector<Variable>& y_pred,
                            std::vector<double>& output_losses);
        double train_step(const Batch& batch, std::vector<double>& output_losses);
        std::size_t check_data(const Tensors& x, const Tensors& y, const char* what) const;
        /// "loss", then each output's loss (several outputs), then the metrics, named as Keras names them.
        Logs make_logs(double loss, const std::vector<double>& output_losses,
                       const std::vector<std::vector<Metric>>& metrics) const;
        std::string metric_log_name(std::size_t output, const Metric& metric) const;

        OptimizerPtr m_optimizer;
        std::vector<Loss> m_losses;
        std::vector<double> m_loss_weights;
        std::vector<std::vector<Metric>> m_metrics;
    };

    /// Keras's Sequential with the training API: a Model whose network is a BasicSequential.
    class Sequential : public Model
    {
    public:
        explicit Sequential(std::string name = {});
        /// Takes over a loaded or configured stack.
        Sequential(BasicSequential<float>&& network);

        BasicSequential<float>& stack() const { return static_cast<BasicSequential<float>&>(*m_network); }

        void add(LayerPtr<float> layer) { stack().add(std::move(layer)); }
        void pop() { stack().pop(); }
        std::size_t size() const { return stack().size(); }
        using Model::layer;
        BasicLayer<float>& layer(std::size_t i) const { return stack().layer(i); }
        void set_input(const PartialShape& batch_shape, std::string input_name = {})
        {
            stack().set_input(batch_shape, std::move(input_name));
        }
        const std::optional<PartialShape>& input_shape() const { return stack().input_shape(); }
        using Model::build;
        void build(const PartialShape& input_shape) { stack().build(input_shape); }
        PartialShape compute_output_shape(const PartialShape& input_shape) const
        {
            return stack().compute_output_shape(input_shape);
        }

        /// load_model of a Sequential file (value_error naming the file for any other model class).
        static Sequential load(const std::string& path);
    };
}
