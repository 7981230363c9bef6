#include "layers/merge.hpp"
#include "framework/engine/kernels/gemm.hpp"
#include "framework/engine/ops.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>

namespace xk
{
    namespace
    {
        /// Python's a % n for n > 0: Keras's Dot takes negative axes modulo the rank.
        long python_mod(long a, long n)
        {
            const long m = a % n;
            return m < 0 ? m + n : m;
        }

        /// A JSON value as Python prints it in Keras's messages: [1, 2], 'a', None, True.
        std::string python_repr(const json& value)
        {
            if (value.is_array())
            {
                std::string out = "[";
                for (std::size_t i = 0; i < value.size(); ++i)
                    out += (i ? ", " : "") + python_repr(value[i]);
                return out + "]";
            }
            if (value.is_string())
                return "'" + value.get<std::string>() + "'";
            if (value.is_null())
                return "None";
            if (value.is_boolean())
                return value.get<bool>() ? "True" : "False";
            return value.dump();
        }

        std::string dim_str(long d) { return d < 0 ? std::string("None") : std::to_string(d); }

        std::size_t product(Shape::const_iterator first, Shape::const_iterator last)
        {
            return std::accumulate(first, last, std::size_t(1), std::multiplies<>());
        }

        /// `x`, of shape `from` (the rank of `to`, extents equal or 1), repeated along the axes of extent 1.
        template <class T>
        Tensor<T> broadcast_copy(const T* x, const Shape& from, const Shape& to)
        {
            Tensor<T> out = Tensor<T>::from_shape(to);
            const std::size_t rank = to.size();
            std::vector<std::size_t> stride(rank, 0); // stride of `x` along each axis; 0 where it is broadcast
            for (std::size_t a = rank, step = 1; a-- > 0;)
            {
                stride[a] = from[a] == 1 ? 0 : step;
                step *= from[a];
            }
            std::vector<std::size_t> index(rank, 0);
            std::size_t source = 0;
            for (std::size_t flat = 0, n = out.size(); flat < n; ++flat)
            {
                out.data()[flat] = x[source];
                for (std::size_t a = rank; a-- > 0;) // odometer increment of the multi-index
                {
                    source += stride[a];
                    if (++index[a] < to[a])
                        break;
                    source -= stride[a] * index[a];
                    index[a] = 0;
                }
            }
            return out;
        }

        /// The elementwise layers' inputs brought to one shape: each input's shape with axes of 1 inserted
        /// after the batch axis up to the largest rank (_Merge.call's expand_dims(x, axis=1)), and the
        /// broadcast output shape.
        struct BroadcastPlan
        {
            std::vector<Shape> expanded;
            Shape out;

            explicit BroadcastPlan(const std::vector<Shape>& shapes)
            {
                std::size_t rank = 0;
                for (const auto& shape : shapes)
                    rank = std::max(rank, shape.size());
                out.assign(rank, 1);
                for (Shape shape : shapes)
                {
                    shape.insert(shape.begin() + std::min<std::ptrdiff_t>(1, std::ptrdiff_t(shape.size())),
                                 rank - shape.size(), std::size_t(1));
                    for (std::size_t a = 0; a < rank; ++a)
                        if (shape[a] != 1)
                            out[a] = shape[a];
                    expanded.push_back(std::move(shape));
                }
            }

            template <class T>
            static BroadcastPlan of(std::span<const Tensor<T>* const> inputs)
            {
                std::vector<Shape> shapes;
                for (const auto* x : inputs)
                    shapes.push_back(shape_of(*x));
                return BroadcastPlan(shapes);
            }

            bool broadcasts(std::size_t i) const { return expanded[i] != out; }
        };

        /// Every input's values laid out in the output's shape: the input itself when it has that shape,
        /// else a broadcast copy kept in `copies`.
        template <class T>
        std::vector<const T*> broadcast_values(std::span<const Tensor<T>* const> inputs, const BroadcastPlan& plan,
                                               std::vector<Tensor<T>>& copies)
        {
            std::vector<const T*> values;
            copies.resize(inputs.size());
            for (std::size_t i = 0; i < inputs.size(); ++i)
            {
                if (plan.broadcasts(i))
                {
                    copies[i] = broadcast_copy(inputs[i]->data(), plan.expanded[i], plan.out);
                    values.push_back(copies[i].data());
                }
                else
                    values.push_back(inputs[i]->data());
            }
            return values;
        }

        /// Dot's view of an input: (batch, before, k, after), k the contracted axis, packed into rows
        /// (batch, before * after, k) so that every dot product runs along a contiguous row.
        struct DotOperand
        {
            std::size_t batch = 0, before = 0, k = 0, after = 0;

            DotOperand(const Shape& shape, std::size_t axis)
                : batch(shape[0]), before(product(shape.begin() + 1, shape.begin() + long(axis))), k(shape[axis]),
                  after(product(shape.begin() + long(axis) + 1, shape.end()))
            {
            }

            std::size_t rows() const { return before * after; }

            template <class T>
            Tensor<T> pack(const T* x) const
            {
                Tensor<T> packed = Tensor<T>::from_shape({batch, rows(), k});
                T* out = packed.data();
                for (std::size_t b = 0; b < batch; ++b)
                    for (std::size_t p = 0; p < before; ++p)
                        for (std::size_t j = 0; j < k; ++j)
                        {
                            const T* src = x + ((b * before + p) * k + j) * after;
                            T* dst = out + (b * rows() + p * after) * k + j;
                            for (std::size_t q = 0; q < after; ++q)
                                dst[q * k] = src[q];
                        }
                return packed;
            }

            /// dx += the packed gradient put back in the input's layout.
            template <class T>
            void unpack_add(const Tensor<T>& packed, T* dx) const
            {
                const T* in = packed.data();
                for (std::size_t b = 0; b < batch; ++b)
                    for (std::size_t p = 0; p < before; ++p)
                        for (std::size_t j = 0; j < k; ++j)
                        {
                            T* dst = dx + ((b * before + p) * k + j) * after;
                            const T* src = in + (b * rows() + p * after) * k + j;
                            for (std::size_t q = 0; q < after; ++q)
                                dst[q] += src[q * k];
                        }
            }
        };

        /// tf.linalg.l2_normalize's epsilon (the default Keras's Dot uses).
        template <class T>
        constexpr T l2_epsilon = T(1e-12);

        /// Rows of `x` (rows x k) divided in place by sqrt(max(sum of squares, epsilon)), as
        /// tf.linalg.l2_normalize computes them; the inverse norms go to `inverse_norms` and whether the
        /// sum of squares reached epsilon (so that the norm depends on x) to `above_epsilon`.
        template <class T>
        void l2_normalize_rows(Tensor<T>& x, std::size_t k, std::vector<T>& inverse_norms,
                               std::vector<char>& above_epsilon)
        {
            const std::size_t rows = k ? x.size() / k : 0;
            inverse_norms.resize(rows);
            above_epsilon.resize(rows);
            for (std::size_t r = 0; r < rows; ++r)
            {
                T* row = x.data() + r * k;
                T sum = T(0);
                for (std::size_t j = 0; j < k; ++j)
                    sum += row[j] * row[j];
                // TensorFlow's maximum gradient goes to its first operand on ties, here the sum.
                above_epsilon[r] = sum >= l2_epsilon<T>;
                inverse_norms[r] = T(1) / std::sqrt(std::max(sum, l2_epsilon<T>));
                for (std::size_t j = 0; j < k; ++j)
                    row[j] *= inverse_norms[r];
            }
        }

        /// The gradient through l2_normalize_rows, in place: g <- g / n - (g . x) x / n^3 for the rows whose
        /// norm depends on x (n the norm, x the rows before normalization), g / n for the others.
        template <class T>
        void l2_normalize_rows_backward(const Tensor<T>& x, std::size_t k, const std::vector<T>& inverse_norms,
                                        const std::vector<char>& above_epsilon, Tensor<T>& g)
        {
            for (std::size_t r = 0; r < inverse_norms.size(); ++r)
            {
                const T* row = x.data() + r * k;
                T* grad = g.data() + r * k;
                const T inverse = inverse_norms[r];
                T along = T(0);
                for (std::size_t j = 0; j < k; ++j)
                    along += grad[j] * row[j];
                const T radial = above_epsilon[r] ? along * inverse * inverse * inverse : T(0);
                for (std::size_t j = 0; j < k; ++j)
                    grad[j] = grad[j] * inverse - radial * row[j];
            }
        }
    }

    // ---- MergeLayer ------------------------------------------------------------------------------------

    template <class T>
    MergeLayer<T>::MergeLayer(const json& config, const std::string& class_name,
                              const std::vector<std::string>& layer_keys)
        : BasicLayer<T>(config, class_name)
    {
        check_config_keys(config, class_name + " layer '" + this->name() + "'", layer_keys);
    }

    template <class T>
    std::string MergeLayer<T>::single_shape_message(const PartialShape& input_shape) const
    {
        return "A merge layer should be called on a list of inputs. Received: input_shape=" + shape_str(input_shape) +
               " (not a list of shapes)";
    }

    template <class T>
    PartialShape MergeLayer<T>::compute_output_shape(const PartialShape& input_shape) const
    {
        throw value_error(this->where() + ": " + single_shape_message(input_shape));
    }

    template <class T>
    void MergeLayer<T>::refuse_single_tensor(const Tensor& x) const
    {
        // _Merge.call's message, which Concatenate and Dot inherit.
        throw value_error(this->where() + ": A merge layer should be called on a list of inputs. Received: inputs=" +
                          "<tensor of shape " + shape_str(shape_of(x)) + "> (not a list of tensors)");
    }

    template <class T>
    Tensor<T> MergeLayer<T>::forward(const Tensor& x, LayerCache<T>&) const
    {
        refuse_single_tensor(x);
    }

    template <class T>
    void MergeLayer<T>::backward(const Tensor& x, const Tensor&, const LayerCache<T>&, Tensor*)
    {
        refuse_single_tensor(x);
    }

    template <class T>
    std::string MergeLayer<T>::shapes_str(std::span<const PartialShape> shapes)
    {
        std::string out = "[";
        for (std::size_t i = 0; i < shapes.size(); ++i)
            out += (i ? ", " : "") + shape_str(shapes[i]);
        return out + "]";
    }

    template <class T>
    std::vector<PartialShape> MergeLayer<T>::shapes_of(std::span<const Tensor* const> inputs)
    {
        std::vector<PartialShape> shapes;
        for (const auto* x : inputs)
            shapes.emplace_back(x->shape().begin(), x->shape().end());
        return shapes;
    }

    // ---- ElementwiseMerge ------------------------------------------------------------------------------

    template <class T>
    PartialShape ElementwiseMerge<T>::merged_shape(std::span<const PartialShape> input_shapes) const
    {
        XK_CHECK(!input_shapes.empty(), value_error, this->where(),
                 ": A merge layer should be called on a list of at least 1 input. Got 0 inputs. "
                 "Full input_shape received: []");
        std::vector<long> batches;
        for (const auto& shape : input_shapes)
            if (!shape.empty() && shape[0] >= 0 && std::find(batches.begin(), batches.end(), shape[0]) == batches.end())
                batches.push_back(shape[0]);
        XK_CHECK(batches.size() <= 1, shape_error, this->where(),
                 ": Cannot merge tensors with different batch sizes. Got tensors with shapes ",
                 this->shapes_str(input_shapes));

        // _compute_elemwise_op_output_shape on the shapes without their batch axis, folded left to right.
        auto tail = [](const PartialShape& s) { return s.empty() ? s : PartialShape(s.begin() + 1, s.end()); };
        auto combine_shapes = [this](PartialShape longer, PartialShape shorter) {
            if (longer.size() < shorter.size())
                std::swap(longer, shorter);
            const std::size_t lead = longer.size() - shorter.size();
            PartialShape out(longer.begin(), longer.begin() + long(lead));
            for (std::size_t a = 0; a < shorter.size(); ++a)
            {
                const long i = longer[lead + a], j = shorter[a];
                if (i < 0 || j < 0)
                    out.push_back(-1);
                else if (i == 1)
                    out.push_back(j);
                else if (j == 1)
                    out.push_back(i);
                else
                {
                    XK_CHECK(i == j, shape_error, this->where(), ": Inputs have incompatible shapes. Received shapes ",
                             shape_str(longer), " and ", shape_str(shorter));
                    out.push_back(i);
                }
            }
            return out;
        };
        PartialShape out = tail(input_shapes[0]);
        for (std::size_t i = 1; i < input_shapes.size(); ++i)
            out = combine_shapes(out, tail(input_shapes[i]));
        out.insert(out.begin(), batches.size() == 1 ? batches[0] : -1L);
        return out;
    }

    template <class T>
    Tensor<T> ElementwiseMerge<T>::forward_inputs(std::span<const Tensor* const> inputs, LayerCache<T>&) const
    {
        merged_shape(this->shapes_of(inputs));
        const BroadcastPlan plan = BroadcastPlan::of<T>(inputs);
        std::vector<Tensor> copies;
        const std::vector<const T*> values = broadcast_values<T>(inputs, plan, copies);
        Tensor out = Tensor::from_shape(plan.out);
        combine(values, out.size(), out.data());
        return out;
    }

    template <class T>
    void ElementwiseMerge<T>::backward_inputs(std::span<const Tensor* const> inputs, const Tensor& dz,
                                              const LayerCache<T>&, std::span<Tensor* const> dinputs)
    {
        const BroadcastPlan plan = BroadcastPlan::of<T>(inputs);
        std::vector<Tensor> copies;
        const std::vector<const T*> values = broadcast_values<T>(inputs, plan, copies);
        // An input of the output's shape takes its gradient directly; a broadcast one gets it in the output's
        // shape first, then summed over the axes it was repeated along.
        std::vector<Tensor> broadcast_grads(inputs.size());
        std::vector<T*> grads(inputs.size(), nullptr);
        for (std::size_t i = 0; i < inputs.size(); ++i)
        {
            if (!dinputs[i])
                continue;
            if (plan.broadcasts(i))
            {
                broadcast_grads[i] = zeros<T>(plan.out);
                grads[i] = broadcast_grads[i].data();
            }
            else
                grads[i] = dinputs[i]->data();
        }
        combine_backward(values, dz.data(), dz.size(), grads);
        for (std::size_t i = 0; i < inputs.size(); ++i)
            if (dinputs[i] && plan.broadcasts(i))
            {
                const Tensor reduced = ops::reduce_to_shape(broadcast_grads[i], plan.expanded[i]);
                add_values(dinputs[i]->data(), reduced.data(), reduced.size());
            }
    }

    // ---- Add, Subtract, Multiply, Average, Maximum, Minimum --------------------------------------------

    template <class T>
    void Add<T>::combine(std::span<const T* const> inputs, std::size_t size, T* out) const
    {
        std::copy(inputs[0], inputs[0] + size, out);
        for (std::size_t i = 1; i < inputs.size(); ++i)
            for (std::size_t e = 0; e < size; ++e)
                out[e] += inputs[i][e];
    }

    template <class T>
    void Add<T>::combine_backward(std::span<const T* const>, const T* dz, std::size_t size,
                                  std::span<T* const> grads) const
    {
        for (T* g : grads)
            if (g)
                add_values(g, dz, size);
    }

    template <class T>
    PartialShape Subtract<T>::merged_shape(std::span<const PartialShape> input_shapes) const
    {
        // Keras's Subtract.build runs _Merge.build first, so a shape mismatch is reported before the count.
        PartialShape out = ElementwiseMerge<T>::merged_shape(input_shapes);
        XK_CHECK(input_shapes.size() == 2, value_error, this->where(),
                 ": A `Subtract` layer should be called on exactly 2 inputs. Received: input_shape=",
                 this->shapes_str(input_shapes));
        return out;
    }

    template <class T>
    void Subtract<T>::combine(std::span<const T* const> inputs, std::size_t size, T* out) const
    {
        for (std::size_t e = 0; e < size; ++e)
            out[e] = inputs[0][e] - inputs[1][e];
    }

    template <class T>
    void Subtract<T>::combine_backward(std::span<const T* const>, const T* dz, std::size_t size,
                                       std::span<T* const> grads) const
    {
        if (grads[0])
            add_values(grads[0], dz, size);
        if (grads[1])
            for (std::size_t e = 0; e < size; ++e)
                grads[1][e] -= dz[e];
    }

    template <class T>
    void Multiply<T>::combine(std::span<const T* const> inputs, std::size_t size, T* out) const
    {
        std::copy(inputs[0], inputs[0] + size, out);
        for (std::size_t i = 1; i < inputs.size(); ++i)
            for (std::size_t e = 0; e < size; ++e)
                out[e] *= inputs[i][e];
    }

    template <class T>
    void Multiply<T>::combine_backward(std::span<const T* const> inputs, const T* dz, std::size_t size,
                                       std::span<T* const> grads) const
    {
        // The gradient of the fold ((x0 * x1) * x2) * ... taken back step by step, as TensorFlow takes it:
        // d/dx_i = dz * x_{n-1} * ... * x_{i+1} * (x0 * ... * x_{i-1}), with no division (zeros are fine).
        const std::size_t n = inputs.size();
        std::vector<T> prefix(n);
        for (std::size_t e = 0; e < size; ++e)
        {
            prefix[0] = inputs[0][e];
            for (std::size_t i = 1; i + 1 < n; ++i)
                prefix[i] = prefix[i - 1] * inputs[i][e];
            T upstream = dz[e];
            for (std::size_t i = n - 1; i > 0; --i)
            {
                if (grads[i])
                    grads[i][e] += upstream * prefix[i - 1];
                upstream *= inputs[i][e];
            }
            if (grads[0])
                grads[0][e] += upstream;
        }
    }

    template <class T>
    void Average<T>::combine(std::span<const T* const> inputs, std::size_t size, T* out) const
    {
        std::copy(inputs[0], inputs[0] + size, out);
        for (std::size_t i = 1; i < inputs.size(); ++i)
            for (std::size_t e = 0; e < size; ++e)
                out[e] += inputs[i][e];
        const T count = T(inputs.size());
        for (std::size_t e = 0; e < size; ++e)
            out[e] /= count;
    }

    template <class T>
    void Average<T>::combine_backward(std::span<const T* const> inputs, const T* dz, std::size_t size,
                                      std::span<T* const> grads) const
    {
        const T count = T(inputs.size());
        for (T* g : grads)
            if (g)
                for (std::size_t e = 0; e < size; ++e)
                    g[e] += dz[e] / count;
    }

    namespace
    {
        /// The input whose value the fold of tf.maximum (Keep = greater_equal) or tf.minimum (less_equal)
        /// keeps at element e: the running value stays where Keep(running, next) holds, so ties go to the
        /// earlier input, and that input is the one the TensorFlow gradient reaches.
        template <class T, class Keep>
        std::size_t extreme_input(std::span<const T* const> inputs, std::size_t e, Keep keep)
        {
            std::size_t owner = 0;
            for (std::size_t i = 1; i < inputs.size(); ++i)
                if (!keep(inputs[owner][e], inputs[i][e]))
                    owner = i;
            return owner;
        }
    }

    template <class T>
    void Maximum<T>::combine(std::span<const T* const> inputs, std::size_t size, T* out) const
    {
        for (std::size_t e = 0; e < size; ++e)
            out[e] = inputs[extreme_input(inputs, e, std::greater_equal<T>())][e];
    }

    template <class T>
    void Maximum<T>::combine_backward(std::span<const T* const> inputs, const T* dz, std::size_t size,
                                      std::span<T* const> grads) const
    {
        for (std::size_t e = 0; e < size; ++e)
            if (T* g = grads[extreme_input(inputs, e, std::greater_equal<T>())])
                g[e] += dz[e];
    }

    template <class T>
    void Minimum<T>::combine(std::span<const T* const> inputs, std::size_t size, T* out) const
    {
        for (std::size_t e = 0; e < size; ++e)
            out[e] = inputs[extreme_input(inputs, e, std::less_equal<T>())][e];
    }

    template <class T>
    void Minimum<T>::combine_backward(std::span<const T* const> inputs, const T* dz, std::size_t size,
                                      std::span<T* const> grads) const
    {
        for (std::size_t e = 0; e < size; ++e)
            if (T* g = grads[extreme_input(inputs, e, std::less_equal<T>())])
                g[e] += dz[e];
    }

    // ---- Concatenate -----------------------------------------------------------------------------------

    template <class T>
    Concatenate<T>::Concatenate(const json& config) : MergeLayer<T>(config, "Concatenate", {"axis"})
    {
        const json axis = config.value("axis", json(-1));
        XK_CHECK(axis.is_number_integer(), value_error, this->where(), ": `axis` must be an integer. Received axis=",
                 python_repr(axis), ".");
        m_axis = axis.get<long>();
    }

    template <class T>
    json Concatenate<T>::get_config() const
    {
        json config = BasicLayer<T>::get_config();
        config["axis"] = m_axis;
        return config;
    }

    template <class T>
    std::string Concatenate<T>::single_shape_message(const PartialShape& input_shape) const
    {
        return "A `Concatenate` layer should be called on a list of inputs. Received: input_shape=" +
               shape_str(input_shape);
    }

    template <class T>
    PartialShape Concatenate<T>::merged_shape(std::span<const PartialShape> input_shapes) const
    {
        XK_CHECK(!input_shapes.empty(), value_error, this->where(),
                 ": A `Concatenate` layer should be called on a list of at least 1 input. Received: input_shape=[]");
        // Each shape without its concatenation axis: these must agree where their extents are known.
        std::vector<PartialShape> reduced;
        std::vector<std::size_t> axes;
        for (std::size_t i = 0; i < input_shapes.size(); ++i)
        {
            const long rank = long(input_shapes[i].size());
            const long axis = m_axis < 0 ? m_axis + rank : m_axis;
            XK_CHECK(axis >= 0 && axis < rank, value_error, this->where(), ": axis=", m_axis,
                     " is out of range for input ", i, " of shape ", shape_str(input_shapes[i]), " (rank ", rank,
                     "). Received: input_shape=", this->shapes_str(input_shapes));
            axes.push_back(std::size_t(axis));
            reduced.push_back(input_shapes[i]);
            reduced.back().erase(reduced.back().begin() + axis);
        }
        const std::string mismatch = this->where() +
                                     ": A `Concatenate` layer requires inputs with matching shapes except for the "
                                     "concatenation axis. Received: input_shape=" +
                                     this->shapes_str(input_shapes);
        for (const auto& shape : reduced)
        {
            XK_CHECK(shape.size() == reduced[0].size(), shape_error, mismatch);
            for (std::size_t a = 0; a < shape.size(); ++a)
            {
                long known = -1;
                for (const auto& other : reduced)
                    if (other[a] >= 0)
                    {
                        XK_CHECK(known < 0 || other[a] == known, shape_error, mismatch);
                        known = other[a];
                    }
            }
        }
        PartialShape out = input_shapes[0];
        long& extent = out[axes[0]];
        for (std::size_t i = 1; i < input_shapes.size() && extent >= 0; ++i)
        {
            const long d = input_shapes[i][axes[i]];
            extent = d < 0 ? -1 : extent + d;
        }
        return out;
    }

    template <class T>
    Tensor<T> Concatenate<T>::forward_inputs(std::span<const Tensor* const> inputs, LayerCache<T>&) const
    {
        const PartialShape merged = merged_shape(this->shapes_of(inputs));
        const Shape out_shape(merged.begin(), merged.end());
        const std::size_t axis = std::size_t(m_axis < 0 ? m_axis + long(out_shape.size()) : m_axis);
        // Row-major: the output is `outer` runs, each the inputs' runs of (extent along axis) * inner, in order.
        const std::size_t outer = product(out_shape.begin(), out_shape.begin() + long(axis));
        Tensor out = Tensor::from_shape(out_shape);
        T* dst = out.data();
        for (std::size_t o = 0; o < outer; ++o)
            for (const auto* x : inputs)
            {
                const std::size_t run = outer ? x->size() / outer : 0;
                std::copy(x->data() + o * run, x->data() + (o + 1) * run, dst);
                dst += run;
            }
        return out;
    }

    template <class T>
    void Concatenate<T>::backward_inputs(std::span<const Tensor* const> inputs, const Tensor& dz,
                                         const LayerCache<T>&, std::span<Tensor* const> dinputs)
    {
        const std::size_t rank = dz.dimension();
        const std::size_t axis = std::size_t(m_axis < 0 ? m_axis + long(rank) : m_axis);
        const Shape dz_shape = shape_of(dz);
        const std::size_t outer = product(dz_shape.begin(), dz_shape.begin() + long(axis));
        const T* src = dz.data();
        for (std::size_t o = 0; o < outer; ++o)
            for (std::size_t i = 0; i < inputs.size(); ++i)
            {
                const std::size_t run = inputs[i]->size() / outer;
                if (dinputs[i])
                    add_values(dinputs[i]->data() + o * run, src, run);
                src += run;
            }
    }

    // ---- Dot -------------------------------------------------------------------------------------------

    template <class T>
    Dot<T>::Dot(const json& config) : MergeLayer<T>(config, "Dot", {"axes", "normalize"})
    {
        m_axes_config = config.value("axes", json(nullptr));
        XK_CHECK(!m_axes_config.is_null(), value_error, this->where(), ": missing required argument `axes`.");
        if (m_axes_config.is_number_integer())
        {
            m_single_axis = true;
            m_axes = {m_axes_config.get<long>(), m_axes_config.get<long>()};
        }
        else
        {
            XK_CHECK(m_axes_config.is_array(), value_error, this->where(),
                     ": Invalid type for argument `axes`: it should be a list or an int. Received: axes=",
                     python_repr(m_axes_config));
            XK_CHECK(m_axes_config.size() == 2, value_error, this->where(),
                     ": Invalid format for argument `axes`: it should contain two elements. Received: axes=",
                     python_repr(m_axes_config));
            XK_CHECK(m_axes_config[0].is_number_integer() && m_axes_config[1].is_number_integer(), value_error,
                     this->where(),
                     ": Invalid format for argument `axes`: list elements should be integers. Received: axes=",
                     python_repr(m_axes_config));
            m_axes = {m_axes_config[0].get<long>(), m_axes_config[1].get<long>()};
        }
        try
        {
            m_normalize = config_value<bool>(config, "normalize", false);
        }
        catch (const value_error& e)
        {
            throw value_error(this->where() + ": " + e.what());
        }
    }

    template <class T>
    json Dot<T>::get_config() const
    {
        json config = BasicLayer<T>::get_config();
        config["axes"] = m_axes_config;
        config["normalize"] = m_normalize;
        return config;
    }

    template <class T>
    std::string Dot<T>::single_shape_message(const PartialShape& input_shape) const
    {
        return "A `Dot` layer should be called on a list of 2 inputs. Received: input_shape=" + shape_str(input_shape);
    }

    template <class T>
    std::array<std::size_t, 2> Dot<T>::contracted_axes(std::size_t rank0, std::size_t rank1) const
    {
        return {std::size_t(python_mod(m_axes[0], long(rank0))), std::size_t(python_mod(m_axes[1], long(rank1)))};
    }

    template <class T>
    PartialShape Dot<T>::merged_shape(std::span<const PartialShape> input_shapes) const
    {
        XK_CHECK(input_shapes.size() == 2, value_error, this->where(),
                 ": A `Dot` layer should be called on a list of 2 inputs. Received: input_shape=",
                 this->shapes_str(input_shapes));
        const PartialShape& x = input_shapes[0];
        const PartialShape& y = input_shapes[1];
        XK_CHECK(x.size() >= 2 && y.size() >= 2, shape_error, this->where(),
                 ": Cannot do batch_dot on inputs with rank < 2. Received inputs with shapes ", shape_str(x), " and ",
                 shape_str(y), ".");

        // Dot.build indexes the shapes with the axes as given (Python indexing), negative single ints taken
        // modulo each rank.
        std::array<long, 2> indexed = m_axes;
        if (m_single_axis && m_axes[0] < 0)
            indexed = {python_mod(m_axes[0], long(x.size())), python_mod(m_axes[0], long(y.size()))};
        std::array<long, 2> extent{};
        for (std::size_t i = 0; i < 2; ++i)
        {
            const long rank = long(input_shapes[i].size());
            XK_CHECK(indexed[i] >= -rank && indexed[i] < rank, value_error, this->where(), ": axes=",
                     python_repr(m_axes_config), " is out of range for input ", i, " of shape ",
                     shape_str(input_shapes[i]), ".");
            extent[i] = input_shapes[i][std::size_t(indexed[i] < 0 ? indexed[i] + rank : indexed[i])];
        }
        // Keras compares the extents as Python values, so None against a known extent is a mismatch too.
        XK_CHECK(extent[0] == extent[1], shape_error, this->where(), ": Incompatible input shapes: axis values ",
                 dim_str(extent[0]), " (at axis ", indexed[0], ") != ", dim_str(extent[1]), " (at axis ", indexed[1],
                 "). Full input shapes: ", shape_str(x), ", ", shape_str(y));

        XK_CHECK(x[0] < 0 || y[0] < 0 || x[0] == y[0], shape_error, this->where(),
                 ": Cannot do batch_dot on inputs with different batch sizes. Received inputs with shapes ",
                 shape_str(x), " and ", shape_str(y), ".");
        const auto [ax, ay] = contracted_axes(x.size(), y.size());
        XK_CHECK(ax != 0 && ay != 0, value_error, this->where(),
                 ": Cannot perform batch_dot over axis 0. If your inputs are not batched, add a dummy batch "
                 "dimension to your inputs using K.expand_dims(x, 0)");

        PartialShape out;
        for (std::size_t a = 0; a < x.size(); ++a)
            if (a != ax)
                out.push_back(x[a]);
        for (std::size_t a = 1; a < y.size(); ++a)
            if (a != ay)
                out.push_back(y[a]);
        if (out.size() == 1)
            out.push_back(1);
        return out;
    }

    template <class T>
    Tensor<T> Dot<T>::forward_inputs(std::span<const Tensor* const> inputs, LayerCache<T>&) const
    {
        const PartialShape merged = merged_shape(this->shapes_of(inputs));
        const auto [ax, ay] = contracted_axes(inputs[0]->dimension(), inputs[1]->dimension());
        const DotOperand xo(shape_of(*inputs[0]), ax), yo(shape_of(*inputs[1]), ay);
        Tensor xp = xo.pack(inputs[0]->data());
        Tensor yp = yo.pack(inputs[1]->data());
        if (m_normalize)
        {
            std::vector<T> inverse_norms;
            std::vector<char> above_epsilon;
            l2_normalize_rows(xp, xo.k, inverse_norms, above_epsilon);
            l2_normalize_rows(yp, yo.k, inverse_norms, above_epsilon);
        }
        // Per sample: (rows of x) x k times (k x rows of y), the output laid out as x's remaining axes then y's.
        const std::size_t m = xo.rows(), n = yo.rows(), k = xo.k;
        Tensor out(Shape(merged.begin(), merged.end()), T(0));
        if (m && n && k)
            for (std::size_t b = 0; b < xo.batch; ++b)
                kernels::gemm<T>(false, true, m, n, k, T(1), xp.data() + b * m * k, k, yp.data() + b * n * k, k, T(0),
                                 out.data() + b * m * n, n);
        return out;
    }

    template <class T>
    void Dot<T>::backward_inputs(std::span<const Tensor* const> inputs, const Tensor& dz, const LayerCache<T>&,
                                 std::span<Tensor* const> dinputs)
    {
        const auto [ax, ay] = contracted_axes(inputs[0]->dimension(), inputs[1]->dimension());
        const DotOperand xo(shape_of(*inputs[0]), ax), yo(shape_of(*inputs[1]), ay);
        const Tensor x_rows = xo.pack(inputs[0]->data());
        const Tensor y_rows = yo.pack(inputs[1]->data());
        Tensor xn = x_rows, yn = y_rows;
        std::vector<T> x_inverse, y_inverse;
        std::vector<char> x_above, y_above;
        if (m_normalize)
        {
            l2_normalize_rows(xn, xo.k, x_inverse, x_above);
            l2_normalize_rows(yn, yo.k, y_inverse, y_above);
        }
        const std::size_t m = xo.rows(), n = yo.rows(), k = xo.k;
        const bool any = m && n && k;
        if (dinputs[0])
        {
            // d(x rows) = dz (m x n) times (y rows) (n x k), per sample.
            Tensor gx(shape_of(x_rows), T(0));
            if (any)
                for (std::size_t b = 0; b < xo.batch; ++b)
                    kernels::gemm<T>(false, false, m, k, n, T(1), dz.data() + b * m * n, n, yn.data() + b * n * k, k,
                                     T(0), gx.data() + b * m * k, k);
            if (m_normalize)
                l2_normalize_rows_backward(x_rows, k, x_inverse, x_above, gx);
            xo.unpack_add(gx, dinputs[0]->data());
        }
        if (dinputs[1])
        {
            // d(y rows) = dz^T (n x m) times (x rows) (m x k), per sample.
            Tensor gy(shape_of(y_rows), T(0));
            if (any)
                for (std::size_t b = 0; b < xo.batch; ++b)
                    kernels::gemm<T>(true, false, n, k, m, T(1), dz.data() + b * m * n, n, xn.data() + b * m * k, k,
                                     T(0), gy.data() + b * n * k, k);
            if (m_normalize)
                l2_normalize_rows_backward(y_rows, k, y_inverse, y_above, gy);
            yo.unpack_add(gy, dinputs[1]->data());
        }
    }

    template class MergeLayer<float>;
    template class MergeLayer<double>;
    template class ElementwiseMerge<float>;
    template class ElementwiseMerge<double>;
    template class Add<float>;
    template class Add<double>;
    template class Subtract<float>;
    template class Subtract<double>;
    template class Multiply<float>;
    template class Multiply<double>;
    template class Average<float>;
    template class Average<double>;
    template class Maximum<float>;
    template class Maximum<double>;
    template class Minimum<float>;
    template class Minimum<double>;
    template class Concatenate<float>;
    template class Concatenate<double>;
    template class Dot<float>;
    template class Dot<double>;
}
