#include <framework/training/model.hpp>

#include <iostream>

int main()
{
    xk::Sequential model;
    model.set_input({-1, 8, 8, 1});
    model.add(xk::make_layer("Conv2D", {{"filters", 2}, {"kernel_size", 3}}));
    auto y = model.predict(xk::Tensor<float>({1, 8, 8, 1}, 1.f));
    bool ok = y.shape() == xk::Shape({1, 6, 6, 2});
    std::cout << (ok ? "consumer ok" : "consumer: wrong output shape") << "\n";
    return ok ? 0 : 1;
}
