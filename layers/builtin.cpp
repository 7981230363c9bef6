// The registry of built-in layers: one line per Keras class name.
#include "layers/registry.hpp"
#include "layers/activation_layers.hpp"
#include "layers/batch_normalization.hpp"
#include "layers/conv.hpp"
#include "layers/conv_transpose.hpp"
#include "layers/core.hpp"
#include "layers/cropping.hpp"
#include "layers/dense.hpp"
#include "layers/depthwise_conv.hpp"
#include "layers/global_pooling.hpp"
#include "layers/input_layer.hpp"
#include "layers/merge.hpp"
#include "layers/pooling.hpp"
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
            r.add("Dense", [](const json& config) -> LayerPtr<T> { return std::make_unique<Dense<T>>(config); });
            r.add("Flatten", [](const json& config) -> LayerPtr<T> { return std::make_unique<Flatten<T>>(config); });
            r.add("Reshape", [](const json& config) -> LayerPtr<T> { return std::make_unique<Reshape<T>>(config); });
            r.add("Activation", [](const json& config) -> LayerPtr<T> { return std::make_unique<ActivationLayer<T>>(config); });
            r.add("Dropout", [](const json& config) -> LayerPtr<T> { return std::make_unique<Dropout<T>>(config); });
            r.add("ReLU", [](const json& config) -> LayerPtr<T> { return std::make_unique<ReLU<T>>(config); });
            r.add("LeakyReLU", [](const json& config) -> LayerPtr<T> { return std::make_unique<LeakyReLU<T>>(config); });
            r.add("PReLU", [](const json& config) -> LayerPtr<T> { return std::make_unique<PReLU<T>>(config); });
            r.add("ELU", [](const json& config) -> LayerPtr<T> { return std::make_unique<ELU<T>>(config); });
            r.add("Softmax", [](const json& config) -> LayerPtr<T> { return std::make_unique<Softmax<T>>(config); });
            r.add("ThresholdedReLU", [](const json& config) -> LayerPtr<T> { return std::make_unique<ThresholdedReLU<T>>(config); });
            r.add("BatchNormalization", [](const json& config) -> LayerPtr<T> { return std::make_unique<BatchNormalization<T>>(config); });
            r.add("Add", [](const json& config) -> LayerPtr<T> { return std::make_unique<Add<T>>(config); });
            r.add("Subtract", [](const json& config) -> LayerPtr<T> { return std::make_unique<Subtract<T>>(config); });
            r.add("Multiply", [](const json& config) -> LayerPtr<T> { return std::make_unique<Multiply<T>>(config); });
            r.add("Average", [](const json& config) -> LayerPtr<T> { return std::make_unique<Average<T>>(config); });
            r.add("Maximum", [](const json& config) -> LayerPtr<T> { return std::make_unique<Maximum<T>>(config); });
            r.add("Minimum", [](const json& config) -> LayerPtr<T> { return std::make_unique<Minimum<T>>(config); });
            r.add("Concatenate", [](const json& config) -> LayerPtr<T> { return std::make_unique<Concatenate<T>>(config); });
            r.add("Dot", [](const json& config) -> LayerPtr<T> { return std::make_unique<Dot<T>>(config); });
            r.add("MaxPooling1D", of_rank<MaxPooling, T>(1));
            r.add("MaxPooling2D", of_rank<MaxPooling, T>(2));
            r.add("MaxPooling3D", of_rank<MaxPooling, T>(3));
            r.add("AveragePooling1D", of_rank<AveragePooling, T>(1));
            r.add("AveragePooling2D", of_rank<AveragePooling, T>(2));
            r.add("AveragePooling3D", of_rank<AveragePooling, T>(3));
            r.add("GlobalMaxPooling1D", of_rank<GlobalMaxPooling, T>(1));
            r.add("GlobalMaxPooling2D", of_rank<GlobalMaxPooling, T>(2));
            r.add("GlobalMaxPooling3D", of_rank<GlobalMaxPooling, T>(3));
            r.add("GlobalAveragePooling1D", of_rank<GlobalAveragePooling, T>(1));
            r.add("GlobalAveragePooling2D", of_rank<GlobalAveragePooling, T>(2));
            r.add("GlobalAveragePooling3D", of_rank<GlobalAveragePooling, T>(3));
            // tf.keras's module aliases, which its deserializer resolves too.
            r.add("MaxPool1D", of_rank<MaxPooling, T>(1));
            r.add("MaxPool2D", of_rank<MaxPooling, T>(2));
            r.add("MaxPool3D", of_rank<MaxPooling, T>(3));
            r.add("AvgPool1D", of_rank<AveragePooling, T>(1));
            r.add("AvgPool2D", of_rank<AveragePooling, T>(2));
            r.add("AvgPool3D", of_rank<AveragePooling, T>(3));
            r.add("GlobalMaxPool1D", of_rank<GlobalMaxPooling, T>(1));
            r.add("GlobalMaxPool2D", of_rank<GlobalMaxPooling, T>(2));
            r.add("GlobalMaxPool3D", of_rank<GlobalMaxPooling, T>(3));
            r.add("GlobalAvgPool1D", of_rank<GlobalAveragePooling, T>(1));
            r.add("GlobalAvgPool2D", of_rank<GlobalAveragePooling, T>(2));
            r.add("GlobalAvgPool3D", of_rank<GlobalAveragePooling, T>(3));
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

    template <class T>
    LayerPtr<T> layer_from_config(const json& serialized)
    {
        XK_CHECK(serialized.is_object() && serialized.contains("class_name") && serialized["class_name"].is_string(),
                 value_error, "A serialized layer must be {\"class_name\": ..., \"config\": {...}}. Received ",
                 serialized.dump(), ".");
        return make_layer<T>(serialized["class_name"].get<std::string>(),
                             serialized.contains("config") ? serialized["config"] : json::object());
    }

    template LayerPtr<float> layer_from_config<float>(const json&);
    template LayerPtr<double> layer_from_config<double>(const json&);
}
