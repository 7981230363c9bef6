#pragma once
// The layer contract, written once here:
//  - A layer is configured from a Keras config (the same keys and defaults as tf.keras 2.x) and reports
//    it back with get_config().
//  - build(input_shape) creates the weights through add_weight, in Keras's order and with Keras's names;
//    weights() lists them in that order (the order of the HDF5 files).
//  - forward(x) computes the layer's pre-activation output; call() applies the activation, records one
//    tape entry and adds the activity penalty (divided by the batch size, as tf.keras 2.x does).
//  - backward(x, dz) *adds* dL/dx into *dx (when dx is given) and dL/dw into each trainable weight's
//    gradient; it never overwrites.
//  - Several inputs (merge layers): the general form is the `_inputs` family (compute_output_shapes,
//    build_weights_inputs, check_inputs, forward_inputs, backward_inputs) over spans of inputs; its defaults
//    adapt the one-input virtuals above, so a one-input layer overrides only those. call() is written once,
//    for both.
// Layers are pure tensor code: no tape, HDF5 or TBB in a layer file.
#include "framework/keras/activations.hpp"
#include "framework/keras/config.hpp"
#include "framework/keras/constraints.hpp"
#include "framework/keras/initializers.hpp"
#include "framework/keras/lora.hpp"
#include "framework/keras/regularizers.hpp"
#include "framework/keras/registry.hpp"
#include "framework/engine/tape.hpp"

#include <atomic>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace xk
{
    /// The largest weight a layer may create (2^31 elements, 8 GiB of float32): configs asking for more are
    /// rejected before allocating, with the layer and shape in the message, rather than failing in the allocator.
    inline constexpr std::size_t max_weight_elements = std::size_t(1) << 31;

    template <class T>
    struct Weight
    {
        std::string name; ///< Keras's short name: "kernel", "bias", "depthwise_kernel", ...
        BasicVariable<T> variable;
        std::optional<Regularizer> regularizer;
        std::optional<Constraint> constraint;
        bool trainable = true;
    };

    /// What forward leaves for backward (a dropout mask, pooling indices...).
    template <class T>
    struct LayerCache
    {
        bool training = false;
        std::vector<Tensor<T>> tensors;
    };

    /// Keras's to_snake_case: "Conv2DTranspose" -> "conv2d_transpose".
    std::string to_snake_case(const std::string& class_name);
    /// Keras 3's naming.to_snake_case, whose words differ ("RMSprop" -> "rm_sprop"): the keys of its weights
    /// files and its default optimizer names.
    std::string keras3_snake_case(const std::string& class_name);
    /// Keras's unique layer names: conv2d, conv2d_1, conv2d_2, ... (zero_based = false: input_1, input_2, ...).
    std::string unique_layer_name(const std::string& prefix, bool zero_based = true);
    /// Keras's clear_session() for names: the next conv2d is "conv2d" again.
    void reset_layer_names();

    /// Keras rejects keyword arguments it does not know; so do we. The base Layer keys are always allowed;
    /// `where` names the layer in the message.
    void check_config_keys(const json& config, const std::string& where, const std::vector<std::string>& layer_keys);
    /// Options of Keras 3 that xkeras does not implement (LoRA, quantization, optional inputs): accepted unset
    /// (absent, null, false or 0), as Keras's configs carry them; a set one is a value_error naming `feature`.
    void require_unset_options(const json& config, const std::string& where, const std::vector<std::string>& keys,
                               const std::string& feature);

    template <class T>
    class BasicLayer
    {
    public:
        using Tensor = xk::Tensor<T>;
        using Variable = BasicVariable<T>;

        virtual ~BasicLayer() = default;
        BasicLayer(const BasicLayer&) = delete;
        BasicLayer& operator=(const BasicLayer&) = delete;

        /// The Keras class name ("Conv2D"), the registry key.
        virtual std::string class_name() const = 0;
        const std::string& name() const { return m_name; }
        bool trainable() const { return m_trainable; }
        virtual void set_trainable(bool trainable);

        virtual bool built() const { return m_built.load(std::memory_order_acquire); }
        /// Validates the input shapes (batch first, -1 for None) and creates the weights. Called by call()
        /// on first use; a second build is an error.
        void build(std::span<const PartialShape> input_shapes);
        void build(const PartialShape& input_shape) { build(std::span<const PartialShape>(&input_shape, 1)); }
        /// The shape the layer built for (batch -1); input_shapes() for a layer of several inputs.
        const PartialShape& input_shape() const;
        const std::vector<PartialShape>& input_shapes() const { return m_input_shapes; }

        virtual PartialShape compute_output_shape(const PartialShape& input_shape) const = 0;
        /// The shapes of the outputs for these inputs. The default takes exactly one input and asks
        /// compute_output_shape; merge layers and nested models override it.
        virtual std::vector<PartialShape> compute_output_shapes(std::span<const PartialShape> input_shapes) const;

        /// Weights in Keras's order: trainable first, then non-trainable, each in creation order.
        virtual std::vector<Weight<T>*> weights();
        std::vector<const Weight<T>*> weights() const;
        virtual std::vector<Weight<T>*> trainable_weights();
        virtual std::size_t count_params() const;
        /// "conv2d/kernel:0", the name tf.keras 2.x files store.
        /// A nested model names each weight after its own layer.
        virtual std::string weight_path(const Weight<T>& weight) const { return m_name + "/" + weight.name + ":0"; }

        /// Keras's config: name, trainable, dtype (and batch_input_shape when given), then the layer's own keys.
        virtual json get_config() const;
        /// Keras 3's get_config, for `.keras` files: get_config() unless the layer's Keras 3 arguments differ;
        /// value_error naming the layer when Keras 3 has no way to express the configuration.
        virtual json keras3_config() const { return get_config(); }

        /// Runs the layer on the tape: builds on first use, checks the inputs, forward, activation, activity
        /// penalty, and one backward entry. The layer must outlive the tape's backward pass. A nested model
        /// overrides it to run its graph on the same tape.
        virtual std::vector<Variable> call(BasicTape<T>& tape, std::span<const Variable> inputs, bool training = false);
        /// One input, one output.
        Variable call(BasicTape<T>& tape, const Variable& x, bool training = false);
        /// Keras's call on symbolic tensors (framework/models/functional.hpp): builds on first use, else checks the
        /// inputs against the built layer; returns the output shapes.
        std::vector<PartialShape> call_symbolic(std::span<const PartialShape> input_shapes);

        /// Inference on a tensor, recording nothing.
        Tensor predict(const Tensor& x);

        const Activation& activation() const { return m_activation; }
        const std::optional<Regularizer>& activity_regularizer() const { return m_activity_regularizer; }

        /// Keras 3's enable_lora(rank, lora_alpha) on a built layer (framework/keras/lora.hpp): Dense and
        /// Conv1D-3D adapt their kernel; any other layer, an unbuilt one, or a second call is a value_error.
        virtual void enable_lora(long rank, std::optional<double> alpha = std::nullopt);
        bool lora_enabled() const { return m_lora.has_value(); }
        const LoraOptions& lora_options() const { return m_lora_options; }

        /// Keras 3's save_own_variables: the values `.keras` and `.weights.h5` files store for this layer (vars/0,
        /// 1, ...): weights() in order, or under LoRA each weight but the factors in creation order, the kernel
        /// merged with its adapter.
        std::vector<Tensor> saved_variables() const;
        /// Keras 3's load_own_variables: the weights those stored values load into, in the same order. A weight
        /// not listed (LoRA's factors) is zeroed by a load, as Keras does.
        std::vector<Weight<T>*> loaded_variables();

    protected:
        /// Reads the base keys (name, trainable, dtype, batch_input_shape/batch_shape, input_shape).
        BasicLayer(const json& config, const std::string& class_name);

        virtual void build_weights(const PartialShape& input_shape) {}
        /// Rank and channel checks against the built layer, with messages naming the layer.
        virtual void check_input(const PartialShape& input_shape) const {}

        virtual Tensor forward(const Tensor& x, LayerCache<T>& cache) const = 0;
        virtual void backward(const Tensor& x, const Tensor& dz, const LayerCache<T>& cache, Tensor* dx) = 0;

        // The general form over several inputs; each default requires one input and calls the form above.
        virtual void build_weights_inputs(std::span<const PartialShape> input_shapes);
        virtual void check_inputs(std::span<const PartialShape> input_shapes) const;
        virtual Tensor forward_inputs(std::span<const Tensor* const> inputs, LayerCache<T>& cache) const;
        /// Adds dL/d(input i) into *dinputs[i] where it is not null, and dL/dw into the weights' gradients.
        virtual void backward_inputs(std::span<const Tensor* const> inputs, const Tensor& dz,
                                     const LayerCache<T>& cache, std::span<Tensor* const> dinputs);

        /// The value_error of a one-input layer given several inputs.
        void require_one_input(std::size_t count) const;

        /// Creates a weight; a shape of more than max_weight_elements elements is a value_error naming the layer.
        Weight<T>& add_weight(const std::string& name, const Shape& shape, const InitializerPtr& initializer,
                              const std::optional<Regularizer>& regularizer = std::nullopt,
                              const std::optional<Constraint>& constraint = std::nullopt, bool trainable = true);

        /// Keras 3's enable_lora on `kernel`, a weight of this layer whose last axis is the outputs (nullptr
        /// before build): freezes it (no gradient, no penalty: Keras 3 sums trainable weights' penalties only) and
        /// creates lora_kernel_a and lora_kernel_b with the kernel's regularizer. A kernel constraint is a
        /// value_error, as in Keras.
        void adapt_kernel(Weight<T>* kernel, const LoraOptions& options, const std::optional<Regularizer>& regularizer,
                          const std::optional<Constraint>& kernel_constraint);
        /// The kernel-constraint check of adapt_kernel alone: a build with lora_rank calls it before creating
        /// any weight, so a refused build leaves the layer as it was.
        void require_lora_compatible(const std::optional<Constraint>& kernel_constraint) const;
        /// The kernel to compute with: `kernel`'s value or, under LoRA, the merged kernel, made in `storage`.
        const Tensor& kernel_in_use(const Weight<T>& kernel, Tensor& storage) const;
        /// Where the gradient of the kernel in use is to be added: the kernel's gradient buffer (nullptr when it
        /// is not trained) or, under LoRA, `storage` (zeros; nullptr when the factors are not trained). Then
        /// pass the same storage to finish_kernel_gradient.
        Tensor* kernel_gradient(Weight<T>& kernel, Tensor& storage);
        /// Under LoRA, the factors' gradients from the merged kernel's gradient in `storage`; otherwise nothing.
        void finish_kernel_gradient(const Tensor& storage);

        /// lora_rank / lora_alpha as configured (before build) or as enabled; written by the layer's get_config.
        LoraOptions m_lora_options;

        /// "Conv2D layer 'conv2d_1'": prefix for error messages.
        std::string where() const { return class_name() + " layer '" + m_name + "'"; }

        /// The weight's gradient buffer when it is being trained, else nullptr.
        static Tensor* grad_of(Weight<T>& weight)
        {
            return weight.variable.requires_grad() ? &weight.variable.grad_buffer() : nullptr;
        }

        Activation m_activation;
        std::optional<Regularizer> m_activity_regularizer;

    private:
        std::string m_name;
        bool m_trainable = true;
        std::atomic<bool> m_built{false}; // atomic: concurrent predicts on an unbuilt layer build it once
        std::string m_dtype = "float32";
        std::optional<PartialShape> m_batch_input_shape;
        std::vector<PartialShape> m_input_shapes;
        std::deque<Weight<T>> m_weights; // a deque: add_weight never moves the weights layers hold references to

        struct LoraAdapter
        {
            Weight<T>* kernel;
            Weight<T>* a;
            Weight<T>* b;
        };
        std::optional<LoraAdapter> m_lora;
    };

    using Layer = BasicLayer<float>;

    template <class T>
    using LayerPtr = std::unique_ptr<BasicLayer<T>>;

    /// Rethrows the current value_error with "<class_name> layer '<name>': " in front when its message does
    /// not name a layer yet (an unknown initializer, regularizer or constraint string, say).
    [[noreturn]] void rethrow_naming_layer(const std::string& class_name, const json& config);

    /// {"class_name": ..., "config": ...}
    template <class T>
    json serialize(const BasicLayer<T>& layer)
    {
        return {{"class_name", layer.class_name()}, {"config", layer.get_config()}};
    }
}
