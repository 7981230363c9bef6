#include "framework/tensor.hpp"

#include <functional>
#include <numeric>

namespace xk
{
    namespace
    {
        template <class Dims, class Format>
        std::string join_dims(const Dims& dims, Format format)
        {
            std::string out = "(";
            for (std::size_t i = 0; i < dims.size(); ++i)
            {
                if (i)
                    out += ", ";
                out += format(dims[i]);
            }
            if (dims.size() == 1)
                out += ",";
            return out + ")";
        }
    }

    std::string shape_str(const Shape& shape)
    {
        return join_dims(shape, [](std::size_t d) { return std::to_string(d); });
    }

    std::string shape_str(const PartialShape& shape)
    {
        return join_dims(shape, [](long d) { return d < 0 ? std::string("None") : std::to_string(d); });
    }

    std::size_t shape_size(const Shape& shape)
    {
        return std::accumulate(shape.begin(), shape.end(), std::size_t(1), std::multiplies<>());
    }
}
