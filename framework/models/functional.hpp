#pragma once
// Keras's functional API: symbolic tensors (Keras's KerasTensor) flow from xk::Input through layers called on
// them, and BasicFunctional is the graph from some of them (inputs) to others (outputs): residual blocks,
// U-Net skips, several inputs and outputs, a layer shared by two call sites, a whole model called as a layer.
//
//   auto x = xk::Input({28, 28, 1});
//   xk::LayerRef conv = xk::make_layer("Conv2D", {{"filters", 8}, {"kernel_size", 3}});
//   auto y = conv(x);
//   xk::Model model({x}, {y});                   // framework/training/model.hpp: the training API
//
// A layer call builds the layer on first use and checks the shapes, so shape errors surface where the graph
// is written, as in Keras.
#include "framework/models/basic_model.hpp"
#include "layers/registry.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace xk
{
    template <class T>
    class BasicSymbolicTensor;

    /// One call of a layer in a graph (Keras's Node): the layer, the tensors it was called on, the shapes it
    /// produced. Input nodes have an InputLayer and no inputs.
    template <class T>
    struct GraphNode
    {
        std::shared_ptr<BasicLayer<T>> layer;
        std::vector<BasicSymbolicTensor<T>> inputs;
        std::vector<PartialShape> output_shapes;
        std::uint64_t serial = 0; ///< creation order: a layer's calls are numbered in it, as Keras numbers nodes
        bool is_input() const { return inputs.empty(); }
    };

    /// Output `index` of a graph node: what a layer call on symbolic tensors returns.
    template <class T>
    class BasicSymbolicTensor
    {
    public:
        BasicSymbolicTensor() = default;
        BasicSymbolicTensor(std::shared_ptr<GraphNode<T>> node, std::size_t index);

        bool defined() const { return m_node != nullptr; }
        /// Batch first, -1 for None.
        const PartialShape& shape() const;
        BasicLayer<T>& layer() const;
        const std::shared_ptr<GraphNode<T>>& node() const { return m_node; }
        std::size_t index() const { return m_index; }
        bool operator==(const BasicSymbolicTensor& other) const
        {
            return m_node == other.m_node && m_index == other.m_index;
        }

    private:
        std::shared_ptr<GraphNode<T>> m_node;
        std::size_t m_index = 0;
    };

    /// Keras's Input(shape, batch_size, name): `shape` without the batch dimension (-1 for None).
    template <class T>
    BasicSymbolicTensor<T> BasicInput(const PartialShape& shape, std::string name = {},
                                      std::optional<long> batch_size = std::nullopt);

    /// A layer that graphs call: shared by every graph that calls it (a layer called twice uses its weights
    /// twice, and their gradients add up). Made from make_layer's result or from a model (nested models).
    template <class T>
    class BasicLayerRef
    {
    public:
        BasicLayerRef(LayerPtr<T> layer);
        BasicLayerRef(std::shared_ptr<BasicLayer<T>> layer);
        /// A model as a layer of the graphs that call it.
        BasicLayerRef(std::shared_ptr<BasicModel<T>> model);

        /// One input, one output.
        BasicSymbolicTensor<T> operator()(const BasicSymbolicTensor<T>& x) const;
        /// Several inputs (merge layers), one output.
        BasicSymbolicTensor<T> operator()(const std::vector<BasicSymbolicTensor<T>>& inputs) const;
        /// Every output (a nested model of several outputs).
        std::vector<BasicSymbolicTensor<T>> call_all(const std::vector<BasicSymbolicTensor<T>>& inputs) const;

        BasicLayer<T>& operator*() const { return *m_layer; }
        BasicLayer<T>* operator->() const { return m_layer.get(); }
        const std::shared_ptr<BasicLayer<T>>& shared() const { return m_layer; }

    private:
        std::shared_ptr<BasicLayer<T>> m_layer;
    };

    /// A graph of layers from input tensors to output tensors; Keras's Functional model.
    template <class T>
    class BasicFunctional : public BasicModel<T>
    {
    public:
        using Tensor = xk::Tensor<T>;
        using Variable = BasicVariable<T>;
        using SymbolicTensor = BasicSymbolicTensor<T>;
        using BasicModel<T>::call;

        /// The graph between `inputs` (each made by Input) and `outputs`. Rejected with Keras's messages: an
        /// input that is not an Input, an output that needs a tensor the inputs do not give ("Graph
        /// disconnected"), an input no output depends on, two layers of one name.
        BasicFunctional(std::vector<SymbolicTensor> inputs, std::vector<SymbolicTensor> outputs, std::string name = {});

        std::string class_name() const override { return "Functional"; }
        const std::string& name() const override { return m_name; }
        std::vector<BasicLayer<T>*> layers() const override { return m_layers; }
        std::vector<std::string> input_names() const override;
        std::vector<std::string> output_names() const override;
        std::vector<PartialShape> input_shapes() const override;
        std::vector<PartialShape> compute_output_shapes(std::span<const PartialShape> input_shapes) const override;
        void build(std::span<const PartialShape> input_shapes) override;
        std::vector<Variable> call(BasicTape<T>& tape, std::span<const Variable> inputs, bool training = false) override;
        json get_config() const override;
        std::string summary() const override;

        const std::vector<SymbolicTensor>& inputs() const { return m_inputs; }
        const std::vector<SymbolicTensor>& outputs() const { return m_outputs; }
        /// Every layer call but the inputs, in the order call() runs them.
        const std::vector<std::shared_ptr<GraphNode<T>>>& nodes() const { return m_nodes; }

        /// From a functional config: tf.keras 2.x ("Model" / "Functional": inbound_nodes as
        /// [[name, node, tensor, kwargs], ...]) or Keras 3 ({"args": [...]} with keras_history). Unknown
        /// layers, node indices past a layer's calls, cycles and duplicate names are value_errors naming the
        /// layer.
        static BasicFunctional from_config(const json& config);

        /// Keras's numbering of a node among its layer's calls in this model (a nested model's first call is
        /// 1: its node 0 is the one that created it).
        std::size_t config_node_index(const GraphNode<T>* node) const;

    private:
        json node_reference(const SymbolicTensor& tensor) const;

        std::string m_name;
        std::vector<SymbolicTensor> m_inputs, m_outputs;
        std::vector<std::shared_ptr<GraphNode<T>>> m_nodes; ///< every node but the inputs, in an order that runs
        std::vector<std::shared_ptr<BasicLayer<T>>> m_owned;
        std::vector<BasicLayer<T>*> m_layers; ///< Keras's model.layers order
    };

    using SymbolicTensor = BasicSymbolicTensor<float>;
    using LayerRef = BasicLayerRef<float>;
    using Functional = BasicFunctional<float>;

    /// Keras's Input(shape, name) for float models.
    inline SymbolicTensor Input(const PartialShape& shape, std::string name = {},
                                std::optional<long> batch_size = std::nullopt)
    {
        return BasicInput<float>(shape, std::move(name), batch_size);
    }
}
