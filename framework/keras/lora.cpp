#include "framework/keras/lora.hpp"
#include "framework/engine/kernels/gemm.hpp"

#include <cmath>

namespace xk
{
    LoraOptions LoraOptions::from_config(const json& config, const std::string& where)
    {
        LoraOptions options;
        const json rank = config.value("lora_rank", json(nullptr));
        // Keras tests `if self.lora_rank:`, so 0 (and false) mean no LoRA as None does.
        const json alpha = config.value("lora_alpha", json(nullptr));
        if (rank.is_null() || rank == json(false) || rank == json(0))
        {
            XK_CHECK(alpha.is_null(), value_error, where,
                     ": `lora_alpha` is set but `lora_rank` is not; LoRA needs a rank. Received lora_alpha=",
                     alpha.dump(), ".");
            return options;
        }
        XK_CHECK(rank.is_number_integer() && rank.get<long>() > 0, value_error, where,
                 ": `lora_rank` must be a positive integer or None. Received lora_rank=", rank.dump(), ".");
        options.rank = rank.get<long>();
        XK_CHECK(alpha.is_null() || (alpha.is_number() && !alpha.is_boolean() && std::isfinite(alpha.get<double>())),
                 value_error, where, ": `lora_alpha` must be a number or None. Received lora_alpha=", alpha.dump(),
                 ".");
        options.alpha = alpha.is_null() ? double(options.rank) : alpha.get<double>();
        return options;
    }

    void LoraOptions::write_config(json& config) const
    {
        if (!enabled())
            return;
        config["lora_rank"] = rank;
        if (alpha != double(rank))
        {
            // An integral alpha is written as Keras's int.
            if (alpha == std::floor(alpha) && std::abs(alpha) < 1e15)
                config["lora_alpha"] = static_cast<long>(alpha);
            else
                config["lora_alpha"] = alpha;
        }
    }

    namespace lora
    {
        template <class T>
        Tensor<T> merged_kernel(const Tensor<T>& kernel, const Tensor<T>& a, const Tensor<T>& b, T scale)
        {
            const std::size_t outputs = b.shape().back(), rank = b.shape()[0], rows = kernel.size() / outputs;
            Tensor<T> merged = kernel;
            kernels::gemm<T>(false, false, rows, outputs, rank, scale, a.data(), rank, b.data(), outputs, T(1),
                             merged.data(), outputs);
            return merged;
        }

        template <class T>
        void add_factor_gradients(const Tensor<T>& dkernel, const Tensor<T>& a, const Tensor<T>& b, T scale,
                                  Tensor<T>* da, Tensor<T>* db)
        {
            const std::size_t outputs = b.shape().back(), rank = b.shape()[0], rows = dkernel.size() / outputs;
            if (da)
                kernels::gemm<T>(false, true, rows, rank, outputs, scale, dkernel.data(), outputs, b.data(), outputs,
                                 T(1), da->data(), rank);
            if (db)
                kernels::gemm<T>(true, false, rank, outputs, rows, scale, a.data(), rank, dkernel.data(), outputs,
                                 T(1), db->data(), outputs);
        }

        template Tensor<float> merged_kernel(const Tensor<float>&, const Tensor<float>&, const Tensor<float>&, float);
        template Tensor<double> merged_kernel(const Tensor<double>&, const Tensor<double>&, const Tensor<double>&,
                                              double);
        template void add_factor_gradients(const Tensor<float>&, const Tensor<float>&, const Tensor<float>&, float,
                                           Tensor<float>*, Tensor<float>*);
        template void add_factor_gradients(const Tensor<double>&, const Tensor<double>&, const Tensor<double>&,
                                           double, Tensor<double>*, Tensor<double>*);
    }
}
