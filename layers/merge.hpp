#pragma once
// Keras's merge layers (tf.keras 2.x keras/layers/merging): several inputs, one output, no weights.
//   Add, Subtract, Multiply, Average, Maximum, Minimum: elementwise over the inputs, folded left to right
//     as Keras does. Inputs of lower rank first gain axes of 1 right after the batch axis (_Merge.call's
//     expand_dims(x, axis=1)); then an extent of 1 broadcasts. The output shape is
//     _compute_elemwise_op_output_shape's: shapes aligned from the right, None wherever either is None.
//     Maximum and Minimum send the gradient where TensorFlow's maximum/minimum gradients do: to the left
//     operand on ties, so the first input holding the extreme value receives it.
//   Concatenate: along `axis` (default -1; negative counts from the end, the batch axis is 0); the other
//     extents must match where both are known.
//   Dot: Keras's backend.batch_dot of two inputs of rank >= 2 along `axes` (one int for both inputs, or one
//     per input), out[b, i..., j...] = sum_k x[b, i..k..] * y[b, j..k..]; a rank-1 result becomes (batch, 1).
//     `normalize` first applies tf.linalg.l2_normalize along the axes: x / sqrt(max(sum(x^2), 1e-12)).
// tf.keras 2.x accepts a list of a single input for every merge layer but Subtract and Dot (the result is that
// input). A lone tensor where a list is needed is Keras's "should be called on a list of inputs" error: the
// one-input forms (compute_output_shape, forward, backward) raise it.
#include "framework/keras/layer.hpp"

#include <array>
#include <span>
#include <string>
#include <vector>

namespace xk
{
    /// The rules every merge layer shares: validation of the input shapes among themselves at build and at
    /// each call (merge layers have no input spec, so a built layer takes any compatible shapes), and the
    /// one-input virtuals refused.
    template <class T>
    class MergeLayer : public BasicLayer<T>
    {
    public:
        using Tensor = xk::Tensor<T>;

        PartialShape compute_output_shape(const PartialShape& input_shape) const final;
        std::vector<PartialShape> compute_output_shapes(std::span<const PartialShape> input_shapes) const final
        {
            return {merged_shape(input_shapes)};
        }

    protected:
        /// Reads the base keys and rejects any key outside `layer_keys`.
        MergeLayer(const json& config, const std::string& class_name, const std::vector<std::string>& layer_keys);

        /// Keras's build and compute_output_shape in one: checks the shapes with Keras's messages and returns
        /// the output shape.
        virtual PartialShape merged_shape(std::span<const PartialShape> input_shapes) const = 0;
        /// Keras's message for one shape given where a list of shapes is needed.
        virtual std::string single_shape_message(const PartialShape& input_shape) const;

        void build_weights_inputs(std::span<const PartialShape> input_shapes) override { merged_shape(input_shapes); }
        void check_inputs(std::span<const PartialShape> input_shapes) const override { merged_shape(input_shapes); }

        Tensor forward(const Tensor& x, LayerCache<T>& cache) const final;
        void backward(const Tensor& x, const Tensor& dz, const LayerCache<T>& cache, Tensor* dx) final;

        /// "[(None, 3), (None, 4)]", as Python prints a list of shapes.
        static std::string shapes_str(std::span<const PartialShape> shapes);
        static std::vector<PartialShape> shapes_of(std::span<const Tensor* const> inputs);

    private:
        [[noreturn]] void refuse_single_tensor(const Tensor& x) const;
    };

    /// The elementwise family: broadcasting, the fold over the inputs, and the gradients summed back over the
    /// broadcast axes. Each layer supplies its arithmetic on inputs already broadcast to the output's shape.
    template <class T>
    class ElementwiseMerge : public MergeLayer<T>
    {
    public:
        using Tensor = xk::Tensor<T>;

    protected:
        ElementwiseMerge(const json& config, const std::string& class_name) : MergeLayer<T>(config, class_name, {}) {}

        PartialShape merged_shape(std::span<const PartialShape> input_shapes) const override;
        Tensor forward_inputs(std::span<const Tensor* const> inputs, LayerCache<T>& cache) const final;
        void backward_inputs(std::span<const Tensor* const> inputs, const Tensor& dz, const LayerCache<T>& cache,
                             std::span<Tensor* const> dinputs) final;

        /// out[e] = the merge of inputs[i][e], e < size.
        virtual void combine(std::span<const T* const> inputs, std::size_t size, T* out) const = 0;
        /// grads[i][e] += dL/d inputs[i][e] for dL/d out = dz; a null grads[i] is not wanted.
        virtual void combine_backward(std::span<const T* const> inputs, const T* dz, std::size_t size,
                                      std::span<T* const> grads) const = 0;
    };

    template <class T>
    class Add : public ElementwiseMerge<T>
    {
    public:
        explicit Add(const json& config) : ElementwiseMerge<T>(config, "Add") {}
        std::string class_name() const override { return "Add"; }

    protected:
        void combine(std::span<const T* const> inputs, std::size_t size, T* out) const override;
        void combine_backward(std::span<const T* const> inputs, const T* dz, std::size_t size,
                              std::span<T* const> grads) const override;
    };

    /// inputs[0] - inputs[1]: exactly two inputs.
    template <class T>
    class Subtract : public ElementwiseMerge<T>
    {
    public:
        explicit Subtract(const json& config) : ElementwiseMerge<T>(config, "Subtract") {}
        std::string class_name() const override { return "Subtract"; }

    protected:
        PartialShape merged_shape(std::span<const PartialShape> input_shapes) const override;
        void combine(std::span<const T* const> inputs, std::size_t size, T* out) const override;
        void combine_backward(std::span<const T* const> inputs, const T* dz, std::size_t size,
                              std::span<T* const> grads) const override;
    };

    template <class T>
    class Multiply : public ElementwiseMerge<T>
    {
    public:
        explicit Multiply(const json& config) : ElementwiseMerge<T>(config, "Multiply") {}
        std::string class_name() const override { return "Multiply"; }

    protected:
        void combine(std::span<const T* const> inputs, std::size_t size, T* out) const override;
        void combine_backward(std::span<const T* const> inputs, const T* dz, std::size_t size,
                              std::span<T* const> grads) const override;
    };

    /// The sum divided by the number of inputs.
    template <class T>
    class Average : public ElementwiseMerge<T>
    {
    public:
        explicit Average(const json& config) : ElementwiseMerge<T>(config, "Average") {}
        std::string class_name() const override { return "Average"; }

    protected:
        void combine(std::span<const T* const> inputs, std::size_t size, T* out) const override;
        void combine_backward(std::span<const T* const> inputs, const T* dz, std::size_t size,
                              std::span<T* const> grads) const override;
    };

    template <class T>
    class Maximum : public ElementwiseMerge<T>
    {
    public:
        explicit Maximum(const json& config) : ElementwiseMerge<T>(config, "Maximum") {}
        std::string class_name() const override { return "Maximum"; }

    protected:
        void combine(std::span<const T* const> inputs, std::size_t size, T* out) const override;
        void combine_backward(std::span<const T* const> inputs, const T* dz, std::size_t size,
                              std::span<T* const> grads) const override;
    };

    template <class T>
    class Minimum : public ElementwiseMerge<T>
    {
    public:
        explicit Minimum(const json& config) : ElementwiseMerge<T>(config, "Minimum") {}
        std::string class_name() const override { return "Minimum"; }

    protected:
        void combine(std::span<const T* const> inputs, std::size_t size, T* out) const override;
        void combine_backward(std::span<const T* const> inputs, const T* dz, std::size_t size,
                              std::span<T* const> grads) const override;
    };

    template <class T>
    class Concatenate : public MergeLayer<T>
    {
    public:
        using Tensor = xk::Tensor<T>;

        /// axis: an integer, default -1.
        explicit Concatenate(const json& config);

        std::string class_name() const override { return "Concatenate"; }
        json get_config() const override;
        long axis() const { return m_axis; }

    protected:
        PartialShape merged_shape(std::span<const PartialShape> input_shapes) const override;
        std::string single_shape_message(const PartialShape& input_shape) const override;
        Tensor forward_inputs(std::span<const Tensor* const> inputs, LayerCache<T>& cache) const override;
        void backward_inputs(std::span<const Tensor* const> inputs, const Tensor& dz, const LayerCache<T>& cache,
                             std::span<Tensor* const> dinputs) override;

    private:
        long m_axis = -1;
    };

    template <class T>
    class Dot : public MergeLayer<T>
    {
    public:
        using Tensor = xk::Tensor<T>;

        /// axes is required: an int, or a list of two ints (one per input). normalize: default false.
        explicit Dot(const json& config);

        std::string class_name() const override { return "Dot"; }
        json get_config() const override;
        bool normalize() const { return m_normalize; }

    protected:
        PartialShape merged_shape(std::span<const PartialShape> input_shapes) const override;
        std::string single_shape_message(const PartialShape& input_shape) const override;
        Tensor forward_inputs(std::span<const Tensor* const> inputs, LayerCache<T>& cache) const override;
        void backward_inputs(std::span<const Tensor* const> inputs, const Tensor& dz, const LayerCache<T>& cache,
                             std::span<Tensor* const> dinputs) override;

    private:
        /// The axes batch_dot contracts for inputs of these ranks (negative ones taken modulo the rank, as
        /// Keras's Dot does), each in [1, rank) once merged_shape has accepted the shapes.
        std::array<std::size_t, 2> contracted_axes(std::size_t rank0, std::size_t rank1) const;

        json m_axes_config; // as given: an int or a list, written back unchanged
        std::array<long, 2> m_axes{};
        bool m_single_axis = false; // axes was one int for both inputs
        bool m_normalize = false;
    };
}
