#include "layers/dense.hpp"
#include "framework/engine/kernels/conv.hpp"
#include "framework/engine/kernels/gemm.hpp"
#include "framework/engine/parallel.hpp"

namespace xk
{
    namespace
    {
        /// Rows (or input features, for the kernel gradient) per GEMM task: enough for BLAS to be efficient, few
        /// enough that a batch of 128 still splits over the threads.
        constexpr std::size_t rows_per_task = 32;
    }

    template <class T>
    Dense<T>::Dense(const json& config) : BasicLayer<T>(config, "Dense")
    {
        const std::string where = "Dense layer '" + this->name() + "'";
        // lora_rank, lora_alpha and quantization_config are Keras 3's; quantization is accepted unset only.
        check_config_keys(config, where,
                          {"units", "activation", "use_bias", "kernel_initializer", "bias_initializer",
                           "kernel_regularizer", "bias_regularizer", "kernel_constraint", "bias_constraint",
                           "lora_rank", "lora_alpha", "quantization_config"});
        const json units = config.value("units", json(nullptr));
        XK_CHECK(units.is_number_integer() && units.get<long>() > 0, value_error, where,
                 ": received an invalid value for `units`, expected a positive integer. Received: units=",
                 units.dump(), ".");
        m_units = units.get<long>();
        require_unset_options(config, where, {"quantization_config"}, "quantization");
        this->m_lora_options = LoraOptions::from_config(config, where);
        try
        {
            this->m_activation = get_activation(config.value("activation", json(nullptr)));
            m_use_bias = config_value<bool>(config, "use_bias", true);
            m_kernel_initializer = get_initializer(config.value("kernel_initializer", json("glorot_uniform")));
            m_bias_initializer = get_initializer(config.value("bias_initializer", json("zeros")));
            m_kernel_regularizer = get_regularizer(config.value("kernel_regularizer", json(nullptr)));
            m_bias_regularizer = get_regularizer(config.value("bias_regularizer", json(nullptr)));
            m_kernel_constraint = get_constraint(config.value("kernel_constraint", json(nullptr)));
            m_bias_constraint = get_constraint(config.value("bias_constraint", json(nullptr)));
        }
        catch (const value_error& e)
        {
            throw value_error(where + ": " + e.what());
        }
    }

    template <class T>
    PartialShape Dense<T>::compute_output_shape(const PartialShape& input_shape) const
    {
        XK_CHECK(input_shape.size() >= 2, shape_error, "Input 0 of ", this->where(),
                 " is incompatible with the layer: expected min_ndim=2, found ndim=", input_shape.size(),
                 ". Full shape received: ", shape_str(input_shape), ".");
        XK_CHECK(input_shape.back() >= 0, value_error, this->where(),
                 ": the last dimension of the input shape of a Dense layer should be defined. Found None. "
                 "Received: input_shape=",
                 shape_str(input_shape), ".");
        PartialShape out = input_shape;
        out.back() = m_units;
        return out;
    }

    template <class T>
    void Dense<T>::build_weights(const PartialShape& input_shape)
    {
        XK_CHECK(input_shape.size() >= 2, shape_error, "Input 0 of ", this->where(),
                 " is incompatible with the layer: expected min_ndim=2, found ndim=", input_shape.size(),
                 ". Full shape received: ", shape_str(input_shape), ".");
        XK_CHECK(input_shape.back() > 0, value_error, this->where(),
                 ": the last dimension of the inputs to a Dense layer should be defined. Found None. Full input "
                 "shape received: ",
                 shape_str(input_shape), ".");
        const std::size_t input_dim = std::size_t(input_shape.back());
        if (this->m_lora_options.enabled())
            this->require_lora_compatible(m_kernel_constraint);
        m_kernel = &this->add_weight("kernel", {input_dim, std::size_t(m_units)}, m_kernel_initializer,
                                     m_kernel_regularizer, m_kernel_constraint);
        if (m_use_bias)
            m_bias = &this->add_weight("bias", {std::size_t(m_units)}, m_bias_initializer, m_bias_regularizer,
                                       m_bias_constraint);
        m_input_dim = input_shape.back();
        // Keras 3.10-3.15's Dense.build calls enable_lora(self.lora_rank) without the configured lora_alpha, which
        // therefore becomes the rank (a scale of 1) once the layer is built; Conv passes it on.
        if (this->m_lora_options.enabled())
            this->adapt_kernel(m_kernel, {this->m_lora_options.rank, double(this->m_lora_options.rank)},
                               m_kernel_regularizer, m_kernel_constraint);
    }

    template <class T>
    void Dense<T>::enable_lora(long rank, std::optional<double> alpha)
    {
        this->adapt_kernel(m_kernel, {rank, alpha.value_or(double(rank))}, m_kernel_regularizer, m_kernel_constraint);
    }

    template <class T>
    void Dense<T>::check_input(const PartialShape& input_shape) const
    {
        XK_CHECK(input_shape.size() >= 2, shape_error, "Input 0 of ", this->where(),
                 " is incompatible with the layer: expected min_ndim=2, found ndim=", input_shape.size(),
                 ". Full shape received: ", shape_str(input_shape), ".");
        if (m_input_dim)
            XK_CHECK(input_shape.back() == *m_input_dim, shape_error, "Input 0 of ", this->where(),
                     " is incompatible with the layer: expected axis -1 of input shape to have value ",
                     *m_input_dim, ", but received input with shape ", shape_str(input_shape), ".");
        for (std::size_t i = 1; i < input_shape.size(); ++i)
            XK_CHECK(input_shape[i] != 0, shape_error, "Input 0 of ", this->where(),
                     " has a zero-sized dimension: ", shape_str(input_shape), ".");
    }

    template <class T>
    json Dense<T>::get_config() const
    {
        json config = BasicLayer<T>::get_config();
        config["units"] = m_units;
        config["activation"] = serialize(this->m_activation);
        config["use_bias"] = m_use_bias;
        config["kernel_initializer"] = serialize(m_kernel_initializer);
        config["bias_initializer"] = serialize(m_bias_initializer);
        config["kernel_regularizer"] = serialize(m_kernel_regularizer);
        config["bias_regularizer"] = serialize(m_bias_regularizer);
        config["activity_regularizer"] = serialize(this->m_activity_regularizer);
        config["kernel_constraint"] = serialize(m_kernel_constraint);
        config["bias_constraint"] = serialize(m_bias_constraint);
        this->m_lora_options.write_config(config);
        return config;
    }

    template <class T>
    Tensor<T> Dense<T>::forward(const Tensor& x, LayerCache<T>&) const
    {
        const std::size_t in = x.shape().back(), units = std::size_t(m_units), rows = x.size() / in;
        Shape y_shape = shape_of(x);
        y_shape.back() = units;
        Tensor y = Tensor::from_shape(y_shape);
        Tensor merged;
        const T* w = this->kernel_in_use(*m_kernel, merged).data();
        parallel_for(rows, rows_per_task, [&](std::size_t r0, std::size_t r1) {
            kernels::gemm<T>(false, false, r1 - r0, units, in, T(1), x.data() + r0 * in, in, w, units, T(0),
                             y.data() + r0 * units, units);
        });
        if (m_bias)
            kernels::bias_add(rows, units, m_bias->variable.value().data(), y.data());
        return y;
    }

    template <class T>
    void Dense<T>::backward(const Tensor& x, const Tensor& dz, const LayerCache<T>&, Tensor* dx)
    {
        const std::size_t in = x.shape().back(), units = std::size_t(m_units), rows = x.size() / in;
        Tensor merged, dmerged;
        if (Tensor* dw = this->kernel_gradient(*m_kernel, dmerged))
        {
            // Row blocks of dw = x^T dz are independent: split over the input features (mnist_cnn's 9216).
            parallel_for(in, rows_per_task, [&](std::size_t i0, std::size_t i1) {
                kernels::gemm<T>(true, false, i1 - i0, units, rows, T(1), x.data() + i0, in, dz.data(), units, T(1),
                                 dw->data() + i0 * units, units);
            });
            this->finish_kernel_gradient(dmerged);
        }
        if (m_bias)
            if (Tensor* db = this->grad_of(*m_bias))
                kernels::bias_backward(rows, units, dz.data(), db->data());
        if (!dx)
            return;
        const T* w = this->kernel_in_use(*m_kernel, merged).data();
        parallel_for(rows, rows_per_task, [&](std::size_t r0, std::size_t r1) {
            kernels::gemm<T>(false, true, r1 - r0, in, units, T(1), dz.data() + r0 * units, units, w, units, T(1),
                             dx->data() + r0 * in, in);
        });
    }

    template class Dense<float>;
    template class Dense<double>;
}
