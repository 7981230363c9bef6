#pragma once
// What the MNIST examples share: one-hot labels and the held-out accuracy of a classifier.
#include "framework/training/model.hpp"

namespace xk::examples
{
    inline Tensor<float> one_hot(const Tensor<float>& labels, std::size_t classes)
    {
        Tensor<float> out({labels.size(), classes}, 0.f);
        for (std::size_t i = 0; i < labels.size(); ++i)
            out(i, std::size_t(labels(i))) = 1.f;
        return out;
    }

    /// The fraction of digits whose highest-scoring class is their label.
    inline double accuracy(Model& model, const Tensor<float>& x, const Tensor<float>& labels)
    {
        const Tensor<float> p = model.predict(x, 256);
        std::size_t correct = 0;
        for (std::size_t i = 0; i < labels.size(); ++i)
        {
            std::size_t best = 0;
            for (std::size_t c = 1; c < p.shape()[1]; ++c)
                if (p(i, c) > p(i, best))
                    best = c;
            correct += best == std::size_t(labels(i));
        }
        return double(correct) / double(labels.size());
    }
}
