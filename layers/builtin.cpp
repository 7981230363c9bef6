// The registry of built-in layers: one line per Keras class name.
#include "layers/conv.hpp"
#include "layers/conv_transpose.hpp"
#include "layers/cropping.hpp"
#include "layers/depthwise_conv.hpp"
#include "layers/input_layer.hpp"
#include "layers/separable_conv.hpp"
#include "layers/up_sampling.hpp"
#include "layers/zero_padding.hpp"

namespace xk
{
    namespace
    {
        /// A factory for a rank-templated family member: Conv<T> with rank 2 is Keras's Conv2D.
        template <template <class> class Family, class T>
        auto of_rank(std::size_t rank)
        {
            return [rank](const json& config) -> LayerPtr<T> { return std::make_unique<Family<T>>(rank, config); };
        }

        template <class T>
        Registry<LayerPtr<T>, const json&> make_builtin_registry()
        {
            Registry<LayerPtr<T>, const json&> r("layer");
            r.add("InputLayer", [](const json& config) -> LayerPtr<T> { return std::make_unique<InputLayer<T>>(config); });
            r.add("Conv1D", of_rank<Conv, T>(1));
            r.add("Conv2D", of_rank<Conv, T>(2));
            r.add("Conv3D", of_rank<Conv, T>(3));
            r.add("Conv1DTranspose", of_rank<ConvTranspose, T>(1));
            r.add("Conv2DTranspose", of_rank<ConvTranspose, T>(2));
            r.add("Conv3DTranspose", of_rank<ConvTranspose, T>(3));
            r.add("DepthwiseConv1D", of_rank<DepthwiseConv, T>(1));
            r.add("DepthwiseConv2D", of_rank<DepthwiseConv, T>(2));
            r.add("SeparableConv1D", of_rank<SeparableConv, T>(1));
            r.add("SeparableConv2D", of_rank<SeparableConv, T>(2));
            r.add("Cropping1D", of_rank<Cropping, T>(1));
            r.add("Cropping2D", of_rank<Cropping, T>(2));
            r.add("Cropping3D", of_rank<Cropping, T>(3));
            r.add("UpSampling1D", of_rank<UpSampling, T>(1));
            r.add("UpSampling2D", of_rank<UpSampling, T>(2));
            r.add("UpSampling3D", of_rank<UpSampling, T>(3));
            r.add("ZeroPadding1D", of_rank<ZeroPadding, T>(1));
            r.add("ZeroPadding2D", of_rank<ZeroPadding, T>(2));
            r.add("ZeroPadding3D", of_rank<ZeroPadding, T>(3));
            return r;
        }
    }

    template <class T>
    Registry<LayerPtr<T>, const json&>& layer_registry()
    {
        static Registry<LayerPtr<T>, const json&> registry = make_builtin_registry<T>();
        return registry;
    }

    template Registry<LayerPtr<float>, const json&>& layer_registry<float>();
    template Registry<LayerPtr<double>, const json&>& layer_registry<double>();
}
