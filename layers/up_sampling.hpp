#pragma once
// UpSampling1D/2D/3D: repeats each element `size` times along each spatial axis ("nearest"); UpSampling2D
// also interpolates ("bilinear", as tf.image.resize: half-pixel centres, no antialiasing).
#include "framework/keras/layer.hpp"
#include "layers/conv_utils.hpp"

namespace xk
{
    template <class T>
    class UpSampling : public BasicLayer<T>
    {
    public:
        using Tensor = xk::Tensor<T>;

        UpSampling(std::size_t rank, const json& config);

        std::string class_name() const override { return "UpSampling" + std::to_string(m_args.rank) + "D"; }
        PartialShape compute_output_shape(const PartialShape& input_shape) const override;
        json get_config() const override;

    protected:
        void check_input(const PartialShape& input_shape) const override;
        Tensor forward(const Tensor& x, LayerCache<T>& cache) const override;
        void backward(const Tensor& x, const Tensor& dz, const LayerCache<T>& cache, Tensor* dx) override;

    private:
        kernels::Offsets3 size3() const;

        conv::SpatialArgs m_args; // rank and data_format
        std::vector<long> m_size;
        std::string m_interpolation = "nearest";
    };
}
