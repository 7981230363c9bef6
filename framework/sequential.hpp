#pragma once
// A linear stack of layers: the network that the files and the CLI work with, in float or double.
// Functional models whose graph is a single chain load into it too. xk::Sequential (framework/model.hpp)
// adds Keras's training API (compile, fit, evaluate) to the float one.
#include "framework/layer.hpp"

#include <optional>
#include <string>
#include <vector>

namespace xk
{
    template <class T>
    class BasicSequential
    {
    public:
        using Tensor = xk::Tensor<T>;
        using Variable = BasicVariable<T>;

        /// An empty model; unnamed models are "sequential", "sequential_1", ... as in Keras.
        explicit BasicSequential(std::string name = {});
        BasicSequential(BasicSequential&&) noexcept = default;
        BasicSequential& operator=(BasicSequential&&) noexcept = default;

        const std::string& name() const { return m_name; }

        /// Appends a layer; when the model's input shape is known the layer is built at once, so shape errors
        /// surface here as in Keras.
        void add(LayerPtr<T> layer);
        /// Removes the last layer.
        void pop();

        std::size_t size() const { return m_layers.size(); }
        BasicLayer<T>& layer(std::size_t i) { return *m_layers.at(i); }
        const BasicLayer<T>& layer(std::size_t i) const { return *m_layers.at(i); }
        /// The layer called `name`; value_error if none.
        BasicLayer<T>& layer(const std::string& name);

        /// Declares the input (Keras's InputLayer): batch first, -1 for None.
        void set_input(const PartialShape& batch_shape, std::string input_name = {});
        const std::optional<PartialShape>& input_shape() const { return m_input_shape; }
        const std::string& input_name() const { return m_input_name; }

        bool built() const;
        /// Builds every layer in turn with the shape flowing through the stack.
        void build(const PartialShape& input_shape);
        PartialShape compute_output_shape(const PartialShape& input_shape) const;

        /// Runs the stack on the tape (builds on first use). Activity penalties go to tape.losses().
        Variable call(BasicTape<T>& tape, const Variable& x, bool training = false);
        /// Inference, recording nothing.
        Tensor predict(const Tensor& x);

        /// The weight penalties of every layer, summed on the tape (a 0-d variable; zero without regularizers).
        Variable regularization_loss(BasicTape<T>& tape);

        /// What `gradients` returns: the output, and the gradients of the loss with respect to the input and
        /// to every trainable weight (in trainable_weights() order).
        struct Gradients
        {
            Tensor y;
            Tensor dx;
            std::vector<Tensor> weights;
            double loss = 0.0;
        };
        /// loss = sum(y * upstream) + the model's regularization losses as tf.keras 2.x adds them (weight
        /// penalties, and activity penalties divided by the batch size). Weight gradients start from zero.
        Gradients gradients(const Tensor& x, const Tensor& upstream, bool training = false);

        /// Every layer's weights in layer order, each layer's in Keras's order.
        std::vector<Weight<T>*> weights();
        std::vector<Weight<T>*> trainable_weights();
        std::size_t count_params() const;

        /// Keras's model.summary() table: each layer's name, class, output shape and parameter count, then
        /// the totals.
        std::string summary() const;

        /// {"name": ..., "layers": [InputLayer config, layer configs...]} as tf.keras 2.x writes it.
        json get_config() const;
        /// From a Sequential config: the dict form or Keras 2.0-2.1's bare list of layers.
        static BasicSequential from_config(const json& config);

    private:
        std::string m_name;
        std::optional<PartialShape> m_input_shape;
        std::string m_input_name;
        std::vector<LayerPtr<T>> m_layers;
    };

    /// A model_config document {"class_name": "Sequential" | "Model" | "Functional", "config": {...}}. A
    /// functional model must be a single chain from one input to one output; anything else is rejected with
    /// a message naming the layer where the chain branches.
    template <class T = float>
    BasicSequential<T> model_from_config(const json& model_config);
}
