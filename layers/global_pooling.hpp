#pragma once
// GlobalMaxPooling1D/2D/3D and GlobalAveragePooling1D/2D/3D: the maximum or the mean over every spatial
// position, per channel.
//   output: (batch, channels), or with keepdims the input's rank with every spatial extent 1.
//   The max gradient is shared equally among tied maxima (TF's reduce_max gradient), unlike MaxPooling.
#include "framework/keras/layer.hpp"
#include "layers/conv_utils.hpp"
#include "layers/pooling.hpp"

namespace xk
{
    template <class T>
    class GlobalPooling : public BasicLayer<T>
    {
    public:
        using Tensor = xk::Tensor<T>;

        /// rank 1, 2 or 3; `config` holds Keras's arguments (data_format, keepdims).
        GlobalPooling(PoolMode mode, std::size_t rank, const json& config);

        std::string class_name() const override;
        PartialShape compute_output_shape(const PartialShape& input_shape) const override;
        json get_config() const override;

        PoolMode mode() const { return m_mode; }
        bool keepdims() const { return m_keepdims; }
        const std::string& data_format() const { return m_args.data_format; }

    protected:
        void check_input(const PartialShape& input_shape) const override;
        Tensor forward(const Tensor& x, LayerCache<T>& cache) const override;
        void backward(const Tensor& x, const Tensor& dz, const LayerCache<T>& cache, Tensor* dx) override;

    private:
        /// The (outer, steps, inner) view of the kernels for an input shape.
        std::array<std::size_t, 3> view_of(const Shape& x_shape) const;

        PoolMode m_mode;
        conv::SpatialArgs m_args; // rank and data_format
        bool m_keepdims = false;
    };

    /// GlobalMaxPooling1D/2D/3D for the registry (a Family<T>(rank, config)).
    template <class T>
    class GlobalMaxPooling : public GlobalPooling<T>
    {
    public:
        GlobalMaxPooling(std::size_t rank, const json& config) : GlobalPooling<T>(PoolMode::Max, rank, config) {}
    };

    /// GlobalAveragePooling1D/2D/3D for the registry.
    template <class T>
    class GlobalAveragePooling : public GlobalPooling<T>
    {
    public:
        GlobalAveragePooling(std::size_t rank, const json& config)
            : GlobalPooling<T>(PoolMode::Average, rank, config)
        {
        }
    };
}
