#include "framework/keras/gradcheck.hpp"
#include "framework/keras/keras_ops.hpp"
#include "framework/engine/random.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <functional>
#include <sstream>

namespace xk
{
    namespace
    {
        constexpr double step = 1e-5;

        std::vector<BasicVariable<double>> plain_variables(const std::vector<Tensor<double>>& xs, bool grad)
        {
            std::vector<BasicVariable<double>> out;
            for (const auto& x : xs)
                out.emplace_back(x, grad);
            return out;
        }

        double objective(BasicLayer<double>& layer, const std::vector<Tensor<double>>& xs,
                         const std::vector<Tensor<double>>& upstream, bool training)
        {
            NoGradGuard no_grad;
            BasicTape<double> tape;
            auto ys = layer.call(tape, plain_variables(xs, false), training);
            double total = 0.0;
            for (std::size_t i = 0; i < ys.size(); ++i)
                total += xt::sum(ys[i].value() * upstream[i])();
            for (const auto& loss : tape.losses())
                total += loss.value()();
            for (const auto* w : layer.weights())
                if (w->regularizer)
                    total += w->regularizer->penalty(w->variable.value());
            return total;
        }

        /// Compares `analytic` with central differences of `objective` in each entry of `values` (perturbed
        /// in place, then restored).
        void compare(const std::function<double()>& objective, Tensor<double>& values, const Tensor<double>& analytic,
                     const std::string& name, GradcheckReport& report, std::size_t max_entries = 0,
                     std::uint64_t seed = 0)
        {
            std::vector<std::size_t> entries(values.size());
            std::iota(entries.begin(), entries.end(), std::size_t(0));
            if (max_entries > 0 && entries.size() > max_entries)
            {
                Rng rng(seed);
                std::shuffle(entries.begin(), entries.end(), rng);
                entries.resize(max_entries);
            }
            for (std::size_t i : entries)
            {
                const double saved = values.data()[i];
                values.data()[i] = saved + step;
                double plus = objective();
                values.data()[i] = saved - step;
                double minus = objective();
                values.data()[i] = saved;
                double numeric = (plus - minus) / (2 * step);
                double got = analytic.data()[i];
                double error = std::abs(got - numeric) / std::max(1.0, std::abs(numeric));
                if (std::isnan(error))
                    error = INFINITY;
                if (report.checked++ == 0 || error > report.worst_error)
                {
                    report.worst_error = error;
                    report.worst_at = name + "[" + std::to_string(i) + "]";
                    report.expected = numeric;
                    report.got = got;
                }
            }
        }
    }

    std::string GradcheckReport::summary() const
    {
        std::ostringstream out;
        out << (ok ? "gradcheck passed" : "gradcheck FAILED") << ": worst relative error " << worst_error << " at "
            << worst_at << " (numeric " << expected << ", analytic " << got << "), " << checked
            << " entries, tolerance " << gradcheck_tolerance;
        return out.str();
    }

    Tensor<double> random_tensor(const Shape& shape, std::uint64_t seed)
    {
        Rng rng(seed);
        std::uniform_real_distribution<double> uniform(-1.0, 1.0);
        Tensor<double> t = Tensor<double>::from_shape(shape);
        for (auto& v : t)
            v = uniform(rng);
        return t;
    }

    GradcheckReport check_layer_gradients(BasicLayer<double>& layer, const Tensor<double>& x, std::uint64_t seed,
                                          bool training, std::size_t max_entries)
    {
        return check_layer_gradients(layer, std::vector<Tensor<double>>{x}, seed, training, max_entries);
    }

    GradcheckReport check_layer_gradients(BasicLayer<double>& layer, const std::vector<Tensor<double>>& xs_in,
                                          std::uint64_t seed, bool training, std::size_t max_entries)
    {
        std::vector<Tensor<double>> xs = xs_in;
        std::uint64_t stream = seed * 7919 + 1;
        std::vector<Tensor<double>> upstream;
        {
            NoGradGuard no_grad;
            BasicTape<double> probe;
            for (const auto& y : layer.call(probe, plain_variables(xs, false), training))
                upstream.push_back(random_tensor(y.shape(), stream++));
        }

        // Analytic gradients, on top of random pre-fills.
        BasicTape<double> tape;
        std::vector<BasicVariable<double>> inputs = plain_variables(xs, true);
        std::vector<Tensor<double>> input_prefills;
        for (auto& input : inputs)
        {
            input_prefills.push_back(random_tensor(input.shape(), stream++));
            input.accumulate_grad(input_prefills.back());
        }
        std::vector<Tensor<double>> weight_prefills;
        for (auto* w : layer.weights())
        {
            w->variable.zero_grad();
            weight_prefills.push_back(random_tensor(w->variable.shape(), stream++));
            if (w->variable.requires_grad())
                w->variable.accumulate_grad(weight_prefills.back());
        }
        auto ys = layer.call(tape, inputs, training);
        for (std::size_t i = 0; i < ys.size(); ++i)
            ys[i].accumulate_grad(upstream[i]);
        for (const auto& loss : tape.losses())
            loss.accumulate_grad(Tensor<double>(loss.value().shape(), 1.0));
        for (auto* w : layer.weights())
            if (w->regularizer && w->variable.requires_grad())
                ops::penalty(tape, w->variable, *w->regularizer).accumulate_grad(Tensor<double>({}, 1.0));
        tape.replay();

        GradcheckReport report;
        auto at_x = [&] { return objective(layer, xs, upstream, training); };
        for (std::size_t i = 0; i < xs.size(); ++i)
            compare(at_x, xs[i], inputs[i].grad() - input_prefills[i],
                    xs.size() == 1 ? std::string("input") : "input" + std::to_string(i), report, max_entries, stream++);
        std::size_t k = 0;
        for (auto* w : layer.weights())
        {
            const Tensor<double>& prefill = weight_prefills[k++];
            if (!w->variable.requires_grad())
                continue;
            compare(at_x, w->variable.value(), w->variable.grad() - prefill, w->name, report, max_entries, stream++);
            w->variable.zero_grad();
        }
        report.ok = report.worst_error <= gradcheck_tolerance;
        return report;
    }
}

namespace xk
{
    GradcheckReport check_function_gradients(const TapeFunction& f, std::vector<Tensor<double>> inputs,
                                             std::uint64_t seed)
    {
        std::uint64_t stream = seed * 7919 + 1;
        auto evaluate = [&](BasicTape<double>& tape, std::vector<BasicVariable<double>>& vars) { return f(tape, vars); };
        std::vector<BasicVariable<double>> probe;
        for (const auto& t : inputs)
            probe.emplace_back(t);
        Tensor<double> upstream;
        {
            NoGradGuard no_grad;
            BasicTape<double> tape;
            upstream = random_tensor(evaluate(tape, probe).shape(), stream++);
        }

        BasicTape<double> tape;
        std::vector<BasicVariable<double>> vars;
        std::vector<Tensor<double>> prefills;
        for (const auto& t : inputs)
        {
            vars.emplace_back(t, true);
            prefills.push_back(random_tensor(shape_of(t), stream++));
            vars.back().accumulate_grad(prefills.back());
        }
        auto y = evaluate(tape, vars);
        tape.backward(y, upstream);

        GradcheckReport report;
        for (std::size_t k = 0; k < inputs.size(); ++k)
        {
            auto objective = [&] {
                NoGradGuard no_grad;
                BasicTape<double> t;
                std::vector<BasicVariable<double>> plain;
                for (const auto& v : inputs)
                    plain.emplace_back(v);
                return double(xt::sum(evaluate(t, plain).value() * upstream)());
            };
            compare(objective, inputs[k], vars[k].grad() - prefills[k], "input" + std::to_string(k), report);
        }
        report.ok = report.worst_error <= gradcheck_tolerance;
        return report;
    }
}
