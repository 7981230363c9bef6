#pragma once
// InputLayer: the identity, declaring the model's input shape (batch_input_shape, None for any batch).
// Sequential configs of tf.keras 2.x start with one; the model keeps it out of its weight-bearing layers.
#include "framework/keras/layer.hpp"

namespace xk
{
    template <class T>
    class InputLayer : public BasicLayer<T>
    {
    public:
        using Tensor = xk::Tensor<T>;

        explicit InputLayer(const json& config);

        std::string class_name() const override { return "InputLayer"; }
        PartialShape compute_output_shape(const PartialShape& input_shape) const override { return input_shape; }
        json get_config() const override;
        json keras3_config() const override;
        /// (None, ...): the declared shape, batch first.
        const PartialShape& batch_input_shape() const { return m_shape; }

    protected:
        Tensor forward(const Tensor& x, LayerCache<T>&) const override { return x; }
        void backward(const Tensor&, const Tensor& dz, const LayerCache<T>&, Tensor* dx) override
        {
            if (dx)
                *dx += dz;
        }

    private:
        PartialShape m_shape;
    };
}
