#pragma once
// Cropping1D/2D/3D: removes rows before and after each spatial axis.
//   cropping: an int, one int per axis, or (before, after) per axis; output extent n - before - after > 0.
#include "framework/keras/layer.hpp"
#include "layers/conv_utils.hpp"

namespace xk
{
    template <class T>
    class Cropping : public BasicLayer<T>
    {
    public:
        using Tensor = xk::Tensor<T>;

        Cropping(std::size_t rank, const json& config);

        std::string class_name() const override { return "Cropping" + std::to_string(m_args.rank) + "D"; }
        PartialShape compute_output_shape(const PartialShape& input_shape) const override;
        json get_config() const override;

    protected:
        void check_input(const PartialShape& input_shape) const override;
        Tensor forward(const Tensor& x, LayerCache<T>& cache) const override;
        void backward(const Tensor& x, const Tensor& dz, const LayerCache<T>& cache, Tensor* dx) override;

    private:
        kernels::Offsets3 before() const;

        conv::SpatialArgs m_args; // rank and data_format
        std::vector<std::array<long, 2>> m_cropping;
    };
}
