#pragma once
// MaxPooling1D/2D/3D and AveragePooling1D/2D/3D (Keras's Pooling1D/2D/3D bases): the maximum or the mean of
// each pool_size window, moved by strides (default: pool_size).
//   output extent per spatial axis: ceil((n - pool + 1) / s) for "valid", ceil(n / s) for "same"; "same"
//   pads as TF does (the smaller half before), max pooling never picks a padded element and average
//   pooling divides by the number of valid elements in the window.
#include "framework/engine/kernels/pool.hpp"
#include "framework/keras/layer.hpp"
#include "layers/conv_utils.hpp"

namespace xk
{
    enum class PoolMode
    {
        Max,
        Average
    };

    template <class T>
    class Pooling : public BasicLayer<T>
    {
    public:
        using Tensor = xk::Tensor<T>;

        /// rank 1, 2 or 3; `config` holds Keras's arguments (pool_size, strides, padding, data_format).
        Pooling(PoolMode mode, std::size_t rank, const json& config);

        std::string class_name() const override;
        PartialShape compute_output_shape(const PartialShape& input_shape) const override;
        json get_config() const override;

        PoolMode mode() const { return m_mode; }
        /// pool_size lives in kernel_size; dilation_rate is always 1.
        const conv::SpatialArgs& spatial_args() const { return m_args; }

    protected:
        void check_input(const PartialShape& input_shape) const override;
        Tensor forward(const Tensor& x, LayerCache<T>& cache) const override;
        void backward(const Tensor& x, const Tensor& dz, const LayerCache<T>& cache, Tensor* dx) override;

    private:
        kernels::PoolGeometry geometry(const Shape& x_shape, const Shape& y_shape) const;

        PoolMode m_mode;
        conv::SpatialArgs m_args;
    };

    /// MaxPooling1D/2D/3D for the registry (a Family<T>(rank, config)).
    template <class T>
    class MaxPooling : public Pooling<T>
    {
    public:
        MaxPooling(std::size_t rank, const json& config) : Pooling<T>(PoolMode::Max, rank, config) {}
    };

    /// AveragePooling1D/2D/3D for the registry.
    template <class T>
    class AveragePooling : public Pooling<T>
    {
    public:
        AveragePooling(std::size_t rank, const json& config) : Pooling<T>(PoolMode::Average, rank, config) {}
    };
}
