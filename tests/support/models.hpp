#pragma once
// Models several tests build: written once here.
#include "framework/training/model.hpp"

namespace xk::test
{
    /// Keras's mnist_cnn example (examples/mnist_cnn.cpp's architecture): 1,199,882 parameters, uncompiled.
    inline Sequential mnist_cnn()
    {
        Sequential model("mnist_cnn");
        model.set_input({-1, 28, 28, 1});
        model.add(make_layer("Conv2D", {{"filters", 32}, {"kernel_size", 3}, {"activation", "relu"}}));
        model.add(make_layer("Conv2D", {{"filters", 64}, {"kernel_size", 3}, {"activation", "relu"}}));
        model.add(make_layer("MaxPooling2D", {{"pool_size", 2}}));
        model.add(make_layer("Dropout", {{"rate", 0.25}}));
        model.add(make_layer("Flatten"));
        model.add(make_layer("Dense", {{"units", 128}, {"activation", "relu"}}));
        model.add(make_layer("Dropout", {{"rate", 0.5}}));
        model.add(make_layer("Dense", {{"units", 10}, {"activation", "softmax"}}));
        return model;
    }
}
