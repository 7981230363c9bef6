#pragma once
// Keras 3's LoRA (low-rank adaptation: `lora_rank`, `lora_alpha` and `enable_lora` of Dense and Conv1D-3D). The
// layer computes with kernel + (alpha / rank) * A . B; the kernel is frozen and the two factors train:
//   A: kernel.shape[:-1] + (rank,), he_uniform;   B: (rank, outputs), zeros   (a fresh adapter changes nothing).
// Keras 3's files store the merged kernel in the kernel's place and not the factors, and loading a file zeroes
// the factors (keras/src/layers/convolutional/base_conv.py and core/dense.py, save_own_variables and
// load_own_variables: Dense since 3.1, Conv since 3.3, to 3.15; 3.0.x's Dense initialised A with zeros).
// BasicLayer holds the adapter (framework/keras/layer.hpp); this file holds the options and the arithmetic.
#include "framework/engine/tensor.hpp"
#include "framework/keras/config.hpp"

#include <string>

namespace xk
{
    struct LoraOptions
    {
        long rank = 0; ///< 0: no LoRA (Keras's lora_rank=None)
        double alpha = 0;

        bool enabled() const { return rank > 0; }
        double scale() const { return alpha / double(rank); }

        /// lora_rank (a positive integer or null) and lora_alpha (a number or null: the rank), as Keras 3.10+
        /// reads them; earlier versions know lora_rank alone, which is the same as alpha = rank. Stricter than
        /// Keras, which takes a lora_alpha without a rank and ignores it: here that is a value_error.
        static LoraOptions from_config(const json& config, const std::string& where);
        /// Writes lora_rank when enabled, and lora_alpha when it is not the rank. Keras 3.10+ always writes both,
        /// but 3.3-3.9 reject a lora_alpha argument (xkeras stamps its files 3.6) and 3.10+ read its absence
        /// as alpha = rank; a file with alpha != rank therefore needs Keras 3.10+.
        void write_config(json& config) const;
    };

    namespace lora
    {
        /// kernel + scale * A . B, with the kernel viewed as (size / outputs, outputs) and A as (size / outputs, rank).
        template <class T>
        Tensor<T> merged_kernel(const Tensor<T>& kernel, const Tensor<T>& a, const Tensor<T>& b, T scale);
        /// Given the gradient of the merged kernel, adds scale * dK . B^T into *da and scale * A^T . dK into *db
        /// (each where not null).
        template <class T>
        void add_factor_gradients(const Tensor<T>& dkernel, const Tensor<T>& a, const Tensor<T>& b, T scale, Tensor<T>* da,
                                  Tensor<T>* db);
    }
}
