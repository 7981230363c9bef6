#pragma once
// The model interface that every tier takes: BasicSequential and BasicFunctional implement it; the files, the
// optimizer, the callbacks, the training API (xk::Model) and the CLI see only this. A model has inputs and
// outputs (each a batch-first tensor), layers in Keras's model.layers order, and the weights of those layers.
// ModelLayer makes a model a layer of another model (Keras's nested models).
#include "framework/keras/layer.hpp"

#include <memory>
#include <span>
#include <string>
#include <vector>

namespace xk
{
    template <class T>
    class BasicModel
    {
    public:
        using Tensor = xk::Tensor<T>;
        using Variable = BasicVariable<T>;

        virtual ~BasicModel() = default;

        /// "Sequential" or "Functional", as the files name the class.
        virtual std::string class_name() const = 0;
        virtual const std::string& name() const = 0;

        /// Keras's model.layers: a functional model's InputLayers included, a Sequential's left out. Each
        /// shared layer once. The model owns them.
        virtual std::vector<BasicLayer<T>*> layers() const = 0;

        /// The input layers' names, in the order call() takes the inputs.
        virtual std::vector<std::string> input_names() const = 0;
        /// The output layers' names (Keras's output_names), in the order call() returns the outputs.
        virtual std::vector<std::string> output_names() const = 0;
        /// Declared input shapes, batch first (-1 for None); empty when the model does not know them yet.
        virtual std::vector<PartialShape> input_shapes() const = 0;
        /// The outputs' shapes for these inputs.
        virtual std::vector<PartialShape> compute_output_shapes(std::span<const PartialShape> input_shapes) const = 0;
        std::vector<PartialShape> output_shapes() const { return compute_output_shapes(input_shapes()); }

        virtual bool built() const;
        /// Builds every layer for these input shapes (a no-op for layers already built).
        virtual void build(std::span<const PartialShape> input_shapes) = 0;

        /// Runs the model on the tape, one variable per input, one per output. Activity penalties go to
        /// tape.losses().
        virtual std::vector<Variable> call(BasicTape<T>& tape, std::span<const Variable> inputs,
                                           bool training = false) = 0;

        /// {"name": ..., "layers": [...], ...}: the config tf.keras 2.x writes under model_config's "config".
        virtual json get_config() const = 0;
        /// Keras's model.summary() table.
        virtual std::string summary() const = 0;

        // ---- written once, on the interface

        std::size_t input_count() const { return input_names().size(); }
        std::size_t output_count() const { return output_names().size(); }

        /// Inference on whole tensors, recording nothing.
        std::vector<Tensor> predict(std::span<const Tensor> inputs);
        /// One input, one output.
        Tensor predict(const Tensor& x);

        /// The layer called `name` (value_error naming the model if none).
        BasicLayer<T>& layer(const std::string& name) const;

        /// Every layer's weights in layer order, each layer's in Keras's order (the order of the files).
        std::vector<Weight<T>*> weights() const;
        std::vector<Weight<T>*> trainable_weights() const;
        /// "conv2d/kernel" for each trainable weight, in trainable_weights() order: the names the optimizer's
        /// slots are saved under (a nested model's weights under its own layers' names, as tf.keras does).
        std::vector<std::string> trainable_weight_paths() const;
        std::size_t count_params() const;

        /// The weight penalties of every layer, summed on the tape (a 0-d variable; zero without regularizers).
        Variable regularization_loss(BasicTape<T>& tape) const;

        /// What `gradients` returns: the outputs, and the gradients of the loss with respect to every input
        /// and to every trainable weight (in trainable_weights() order).
        struct Gradients
        {
            std::vector<Tensor> outputs;
            std::vector<Tensor> inputs;
            std::vector<Tensor> weights;
            double loss = 0.0;
        };
        /// loss = sum over outputs of sum(y * upstream) + the model's regularization losses as tf.keras 2.x
        /// adds them (weight penalties, and activity penalties divided by the batch size). Weight gradients
        /// start from zero.
        Gradients gradients(std::span<const Tensor> inputs, std::span<const Tensor> upstream, bool training = false);

        /// Input count and shape checks with Keras's messages, before a call.
        void check_call_inputs(std::span<const PartialShape> shapes) const;

    protected:
        /// "Functional model 'model_1'": prefix for error messages.
        std::string where() const { return class_name() + " model '" + name() + "'"; }
    };

    template <class T>
    using ModelPtr = std::unique_ptr<BasicModel<T>>;

    /// A model as a layer of another model: its weights are the inner layers' (trainable first, then the
    /// rest, as Keras orders a model's weights), its config the inner model's, and call() runs the inner graph
    /// on the caller's tape.
    template <class T>
    class ModelLayer : public BasicLayer<T>
    {
    public:
        using Tensor = xk::Tensor<T>;
        using Variable = BasicVariable<T>;

        explicit ModelLayer(std::shared_ptr<BasicModel<T>> model);

        BasicModel<T>& model() const { return *m_model; }

        std::string class_name() const override { return m_model->class_name(); }
        bool built() const override { return m_model->built(); }
        void set_trainable(bool trainable) override;
        PartialShape compute_output_shape(const PartialShape& input_shape) const override;
        std::vector<PartialShape> compute_output_shapes(std::span<const PartialShape> input_shapes) const override;
        std::vector<Weight<T>*> weights() override;
        std::vector<Weight<T>*> trainable_weights() override;
        std::size_t count_params() const override;
        std::string weight_path(const Weight<T>& weight) const override;
        json get_config() const override { return m_model->get_config(); }
        std::vector<Variable> call(BasicTape<T>& tape, std::span<const Variable> inputs, bool training) override;

    protected:
        void build_weights_inputs(std::span<const PartialShape> input_shapes) override;
        void check_inputs(std::span<const PartialShape> input_shapes) const override
        {
            m_model->check_call_inputs(input_shapes);
        }
        // call() is overridden, so these per-tensor hooks are never reached.
        Tensor forward(const Tensor& x, LayerCache<T>&) const override;
        void backward(const Tensor&, const Tensor&, const LayerCache<T>&, Tensor*) override;

    private:
        std::shared_ptr<BasicModel<T>> m_model;
    };

    /// The model behind a layer when the layer is a nested model, else nullptr.
    template <class T>
    BasicModel<T>* nested_model(BasicLayer<T>& layer)
    {
        auto* nested = dynamic_cast<ModelLayer<T>*>(&layer);
        return nested ? &nested->model() : nullptr;
    }
}
