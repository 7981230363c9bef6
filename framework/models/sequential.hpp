#pragma once
// A linear stack of layers, one input and one output, in float or double: Keras's Sequential as a
// BasicModel. xk::Sequential (framework/training/model.hpp) adds Keras's training API to the float one.
#include "framework/models/basic_model.hpp"
#include "layers/registry.hpp"

#include <optional>
#include <string>
#include <vector>

namespace xk
{
    template <class T>
    class BasicSequential : public BasicModel<T>
    {
    public:
        using Tensor = xk::Tensor<T>;
        using Variable = BasicVariable<T>;
        using BasicModel<T>::call;
        using BasicModel<T>::predict;
        using BasicModel<T>::layer;
        using BasicModel<T>::build;

        /// An empty model; unnamed models are "sequential", "sequential_1", ... as in Keras.
        explicit BasicSequential(std::string name = {});
        BasicSequential(BasicSequential&&) noexcept = default;
        BasicSequential& operator=(BasicSequential&&) noexcept = default;

        std::string class_name() const override { return "Sequential"; }
        const std::string& name() const override { return m_name; }
        std::vector<BasicLayer<T>*> layers() const override;
        std::vector<std::string> input_names() const override;
        std::vector<std::string> output_names() const override;
        std::vector<PartialShape> input_shapes() const override;
        std::vector<PartialShape> compute_output_shapes(std::span<const PartialShape> input_shapes) const override;
        void build(std::span<const PartialShape> input_shapes) override;
        std::vector<Variable> call(BasicTape<T>& tape, std::span<const Variable> inputs, bool training = false) override;
        json get_config() const override;
        std::string summary() const override;

        /// Appends a layer; when the model's input shape is known the layer is built at once, so shape errors
        /// surface here as in Keras.
        void add(LayerPtr<T> layer);
        /// Removes the last layer.
        void pop();

        std::size_t size() const { return m_layers.size(); }
        BasicLayer<T>& layer(std::size_t i) { return *m_layers.at(i); }
        const BasicLayer<T>& layer(std::size_t i) const { return *m_layers.at(i); }

        /// Declares the input (Keras's InputLayer): batch first, -1 for None.
        void set_input(const PartialShape& batch_shape, std::string input_name = {});
        const std::optional<PartialShape>& input_shape() const { return m_input_shape; }
        const std::string& input_name() const { return m_input_name; }

        /// Builds every layer in turn with the shape flowing through the stack.
        void build(const PartialShape& input_shape) { build(std::span<const PartialShape>(&input_shape, 1)); }
        PartialShape compute_output_shape(const PartialShape& input_shape) const;

        /// Runs the stack on the tape (builds on first use). Activity penalties go to tape.losses().
        Variable call(BasicTape<T>& tape, const Variable& x, bool training = false);
        /// From a Sequential config: the dict form or Keras 2.0-2.1's bare list of layers.
        static BasicSequential from_config(const json& config);

    private:
        std::string m_name;
        std::optional<PartialShape> m_input_shape;
        std::string m_input_name;
        std::vector<LayerPtr<T>> m_layers;
    };
}
