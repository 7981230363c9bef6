#include "framework/models/basic_model.hpp"
#include "framework/keras/keras_ops.hpp"

namespace xk
{
    template <class T>
    bool BasicModel<T>::built() const
    {
        for (const auto* layer : layers())
            if (!layer->built())
                return false;
        return true;
    }

    template <class T>
    void BasicModel<T>::check_call_inputs(std::span<const PartialShape> shapes) const
    {
        const std::size_t want = input_count();
        XK_CHECK(shapes.size() == want, value_error, where(), " expects ", want, " input(s), but it received ",
                 shapes.size(), " input tensors.");
        const std::vector<PartialShape> declared = input_shapes();
        for (std::size_t i = 0; i < declared.size() && i < shapes.size(); ++i)
        {
            const PartialShape& d = declared[i];
            bool ok = d.size() == shapes[i].size();
            for (std::size_t k = 1; ok && k < d.size(); ++k)
                ok = d[k] < 0 || shapes[i][k] < 0 || d[k] == shapes[i][k];
            XK_CHECK(ok, shape_error, "Input ", i, " of ", where(), " is incompatible with the model: expected shape=",
                     shape_str(d), ", found shape=", shape_str(shapes[i]), ".");
        }
    }

    template <class T>
    std::vector<Tensor<T>> BasicModel<T>::predict(std::span<const Tensor> inputs)
    {
        NoGradGuard no_grad;
        BasicTape<T> tape;
        std::vector<Variable> xs;
        for (const auto& x : inputs)
            xs.emplace_back(x);
        std::vector<Tensor> out;
        for (auto& y : call(tape, xs, false))
            out.push_back(y.value());
        return out;
    }

    template <class T>
    Tensor<T> BasicModel<T>::predict(const Tensor& x)
    {
        std::vector<Tensor> out = predict(std::span<const Tensor>(&x, 1));
        XK_CHECK(out.size() == 1, value_error, where(), " has ", out.size(),
                 " outputs; predict with a list of inputs returns them all.");
        return std::move(out[0]);
    }

    template <class T>
    BasicLayer<T>& BasicModel<T>::layer(const std::string& name) const
    {
        for (auto* l : layers())
            if (l->name() == name)
                return *l;
        throw value_error(where() + ": no such layer: " + name + ".");
    }

    template <class T>
    std::vector<Weight<T>*> BasicModel<T>::weights() const
    {
        std::vector<Weight<T>*> out;
        for (auto* l : layers())
            for (auto* w : l->weights())
                out.push_back(w);
        return out;
    }

    template <class T>
    std::vector<Weight<T>*> BasicModel<T>::trainable_weights() const
    {
        std::vector<Weight<T>*> out;
        for (auto* l : layers())
            for (auto* w : l->trainable_weights())
                out.push_back(w);
        return out;
    }

    template <class T>
    std::vector<std::string> BasicModel<T>::trainable_weight_paths() const
    {
        std::vector<std::string> out;
        for (auto* l : layers())
        {
            if (auto* inner = nested_model(*l))
            {
                if (l->trainable())
                    for (auto& path : inner->trainable_weight_paths())
                        out.push_back(std::move(path));
                continue;
            }
            for (auto* w : l->trainable_weights())
                out.push_back(l->name() + "/" + w->name);
        }
        return out;
    }

    template <class T>
    std::size_t BasicModel<T>::count_params() const
    {
        std::size_t n = 0;
        for (const auto* l : layers())
            n += l->count_params();
        return n;
    }

    template <class T>
    BasicVariable<T> BasicModel<T>::regularization_loss(BasicTape<T>& tape) const
    {
        Variable total(Tensor({}, T(0)));
        for (auto* w : weights())
            if (w->regularizer)
                total = ops::add(tape, total, ops::penalty(tape, w->variable, *w->regularizer));
        return total;
    }

    template <class T>
    typename BasicModel<T>::Gradients BasicModel<T>::gradients(std::span<const Tensor> inputs,
                                                              std::span<const Tensor> upstream, bool training)
    {
        auto trainable = trainable_weights();
        for (auto* w : trainable)
            w->variable.zero_grad();
        BasicTape<T> tape;
        std::vector<Variable> xs;
        for (const auto& x : inputs)
            xs.emplace_back(x, true);
        std::vector<Variable> ys = call(tape, xs, training);
        XK_CHECK(upstream.size() == ys.size(), value_error, where(), " has ", ys.size(), " output(s) but ",
                 upstream.size(), " upstream gradient(s) were given.");
        Gradients out;
        for (std::size_t i = 0; i < ys.size(); ++i)
        {
            XK_CHECK(ys[i].shape() == shape_of(upstream[i]), shape_error, where(), ": upstream gradient ", i,
                     " has shape ", shape_str(shape_of(upstream[i])), " but output ", i, " has shape ",
                     shape_str(ys[i].shape()), ".");
            out.loss += double(xt::sum(ys[i].value() * upstream[i])());
            ys[i].accumulate_grad(upstream[i]);
        }
        for (const auto& loss : tape.losses())
        {
            out.loss += double(loss.value()());
            loss.accumulate_grad(Tensor(loss.value().shape(), T(1)));
        }
        Variable penalties = regularization_loss(tape);
        out.loss += double(penalties.value()());
        if (penalties.requires_grad())
            penalties.accumulate_grad(Tensor({}, T(1)));
        tape.replay();
        for (auto& y : ys)
            out.outputs.push_back(y.value());
        for (auto& x : xs)
            out.inputs.push_back(x.has_grad() ? x.grad() : Tensor(x.value().shape(), T(0)));
        for (auto* w : trainable)
        {
            out.weights.push_back(w->variable.grad());
            w->variable.zero_grad();
        }
        return out;
    }

    // ---------------------------------------------------------------- ModelLayer

    template <class T>
    ModelLayer<T>::ModelLayer(std::shared_ptr<BasicModel<T>> model)
        : BasicLayer<T>(json{{"name", model ? model->name() : std::string()}}, model ? model->class_name() : "Model"),
          m_model(std::move(model))
    {
        XK_CHECK(m_model != nullptr, value_error, "A nested model cannot be null.");
    }

    template <class T>
    void ModelLayer<T>::set_trainable(bool trainable)
    {
        // Keras: freezing a model freezes every layer inside it.
        BasicLayer<T>::set_trainable(trainable);
        for (auto* l : m_model->layers())
            l->set_trainable(trainable);
    }

    template <class T>
    PartialShape ModelLayer<T>::compute_output_shape(const PartialShape& input_shape) const
    {
        auto shapes = compute_output_shapes(std::span<const PartialShape>(&input_shape, 1));
        XK_CHECK(shapes.size() == 1, value_error, this->where(), " has ", shapes.size(), " outputs.");
        return shapes[0];
    }

    template <class T>
    std::vector<PartialShape> ModelLayer<T>::compute_output_shapes(std::span<const PartialShape> input_shapes) const
    {
        return m_model->compute_output_shapes(input_shapes);
    }

    template <class T>
    std::vector<Weight<T>*> ModelLayer<T>::weights()
    {
        // Keras's Model.weights: every trainable weight first, then the others (a frozen layer's among them).
        std::vector<Weight<T>*> out = trainable_weights();
        for (auto* l : m_model->layers())
            for (auto* w : l->weights())
                if (std::find(out.begin(), out.end(), w) == out.end())
                    out.push_back(w);
        return out;
    }

    template <class T>
    std::vector<Weight<T>*> ModelLayer<T>::trainable_weights()
    {
        if (!this->trainable())
            return {};
        return m_model->trainable_weights();
    }

    template <class T>
    std::size_t ModelLayer<T>::count_params() const
    {
        return m_model->count_params();
    }

    template <class T>
    std::string ModelLayer<T>::weight_path(const Weight<T>& weight) const
    {
        for (auto* l : m_model->layers())
            for (auto* w : l->weights())
                if (w == &weight)
                    return l->weight_path(weight);
        throw value_error(this->where() + ": weight '" + weight.name + "' is not one of its weights.");
    }

    template <class T>
    std::vector<BasicVariable<T>> ModelLayer<T>::call(BasicTape<T>& tape, std::span<const Variable> inputs,
                                                      bool training)
    {
        return m_model->call(tape, inputs, training);
    }

    template <class T>
    void ModelLayer<T>::build_weights_inputs(std::span<const PartialShape> input_shapes)
    {
        m_model->build(input_shapes);
    }

    template <class T>
    Tensor<T> ModelLayer<T>::forward(const Tensor&, LayerCache<T>&) const
    {
        throw std::logic_error("ModelLayer::forward: a nested model runs through call()");
    }

    template <class T>
    void ModelLayer<T>::backward(const Tensor&, const Tensor&, const LayerCache<T>&, Tensor*)
    {
        throw std::logic_error("ModelLayer::backward: a nested model runs through call()");
    }

    template class BasicModel<float>;
    template class BasicModel<double>;
    template class ModelLayer<float>;
    template class ModelLayer<double>;
}
