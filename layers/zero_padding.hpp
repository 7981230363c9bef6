#pragma once
// ZeroPadding1D/2D/3D: adds rows of zeros before and after each spatial axis.
//   padding: an int, one int per axis, or (before, after) per axis; output extent n + before + after.
#include "framework/keras/layer.hpp"
#include "layers/conv_utils.hpp"

namespace xk
{
    template <class T>
    class ZeroPadding : public BasicLayer<T>
    {
    public:
        using Tensor = xk::Tensor<T>;

        ZeroPadding(std::size_t rank, const json& config);

        std::string class_name() const override { return "ZeroPadding" + std::to_string(m_args.rank) + "D"; }
        PartialShape compute_output_shape(const PartialShape& input_shape) const override;
        json get_config() const override;
        /// Keras 3.5+ gives ZeroPadding1D a data_format too.
        json keras3_config() const override;
        const std::vector<std::array<long, 2>>& padding() const { return m_padding; }

    protected:
        void check_input(const PartialShape& input_shape) const override;
        Tensor forward(const Tensor& x, LayerCache<T>& cache) const override;
        void backward(const Tensor& x, const Tensor& dz, const LayerCache<T>& cache, Tensor* dx) override;

    private:
        kernels::Offsets3 before() const;

        conv::SpatialArgs m_args; // rank and data_format
        std::vector<std::array<long, 2>> m_padding;
    };
}
