#include "framework/keras/gradcheck.hpp"
#include "framework/keras/keras_ops.hpp"
#include "framework/engine/random.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <functional>
#include <sstream>

namespace xk
{
    namespace
    {
        constexpr double step = 1e-5;

        /// Neumaier's compensated sum: the objective's own rounding stays far below the differences it is
        /// asked for (a plain sum of n products moves by about eps * S * log n between the two evaluations).
        struct Sum
        {
            double sum = 0.0, compensation = 0.0;
            void add(double v)
            {
                double t = sum + v;
                if (std::abs(sum) >= std::abs(v))
                    compensation += (sum - t) + v;
                else
                    compensation += (v - t) + sum;
                sum = t;
            }
            double value() const { return sum + compensation; }
        };

        /// The objective's value and its magnitude S (the sum of the absolute values of its terms).
        struct Objective
        {
            double value = 0.0;
            double magnitude = 0.0;
        };

        void add_products(const Tensor<double>& y, const Tensor<double>& upstream, Sum& total, Sum& magnitude)
        {
            const double* a = y.data();
            const double* b = upstream.data();
            for (std::size_t i = 0, n = y.size(); i < n; ++i)
            {
                total.add(a[i] * b[i]);
                magnitude.add(std::abs(a[i] * b[i]));
            }
        }

        std::vector<BasicVariable<double>> plain_variables(const std::vector<Tensor<double>>& xs, bool grad)
        {
            std::vector<BasicVariable<double>> out;
            for (const auto& x : xs)
                out.emplace_back(x, grad);
            return out;
        }

        Objective objective(BasicLayer<double>& layer, const std::vector<Tensor<double>>& xs,
                            const std::vector<Tensor<double>>& upstream, bool training)
        {
            NoGradGuard no_grad;
            BasicTape<double> tape;
            auto ys = layer.call(tape, plain_variables(xs, false), training);
            Objective o;
            Sum total, magnitude;
            for (std::size_t i = 0; i < ys.size(); ++i)
                add_products(ys[i].value(), upstream[i], total, magnitude);
            for (const auto& loss : tape.losses())
            {
                total.add(loss.value()());
                magnitude.add(std::abs(loss.value()()));
            }
            for (const auto* w : layer.weights())
                if (w->regularizer)
                {
                    const double p = w->regularizer->penalty(w->variable.value());
                    total.add(p);
                    magnitude.add(std::abs(p));
                }
            o.value = total.value();
            o.magnitude = magnitude.value();
            return o;
        }

        /// Compares `analytic` with central differences of `objective` in each entry of `values` (perturbed
        /// in place, then restored); `magnitude` is the objective's S (see gradcheck.hpp).
        void compare(const std::function<double()>& objective, double magnitude, Tensor<double>& values,
                     const Tensor<double>& analytic, const std::string& name, GradcheckReport& report,
                     std::size_t max_entries = 0, std::uint64_t seed = 0)
        {
            std::vector<std::size_t> entries(values.size());
            std::iota(entries.begin(), entries.end(), std::size_t(0));
            if (max_entries > 0 && entries.size() > max_entries)
            {
                Rng rng(seed);
                std::shuffle(entries.begin(), entries.end(), rng);
                entries.resize(max_entries);
            }
            std::vector<double> numeric;
            numeric.reserve(entries.size());
            double largest = 0.0;
            for (std::size_t i : entries)
            {
                const double saved = values.data()[i];
                values.data()[i] = saved + step;
                double plus = objective();
                values.data()[i] = saved - step;
                double minus = objective();
                values.data()[i] = saved;
                numeric.push_back((plus - minus) / (2 * step));
                if (std::isfinite(numeric.back()))
                    largest = std::max(largest, std::abs(numeric.back()));
            }
            // The smallest positive double keeps 0 / 0 (a tensor the objective does not depend on, with an
            // analytic gradient of exactly 0) a pass and anything else over it a failure.
            const double floor = std::max({gradcheck_tensor_floor * largest, gradcheck_noise_floor * magnitude,
                                           std::numeric_limits<double>::min()});
            for (std::size_t k = 0; k < entries.size(); ++k)
            {
                const std::size_t i = entries[k];
                const double got = analytic.data()[i];
                double error = std::abs(got - numeric[k]) / std::max(std::abs(numeric[k]), floor);
                if (!std::isfinite(error))
                    error = INFINITY;
                if (report.checked++ == 0 || error > report.worst_error)
                {
                    report.worst_error = error;
                    report.worst_at = name + "[" + std::to_string(i) + "]";
                    report.expected = numeric[k];
                    report.got = got;
                    report.floor = floor;
                }
            }
        }

        void conclude(GradcheckReport& report)
        {
            report.ok = report.checked > 0 && report.worst_error <= gradcheck_tolerance;
        }
    }

    std::string GradcheckReport::summary() const
    {
        std::ostringstream out;
        if (checked == 0)
        {
            out << "gradcheck FAILED: nothing was compared (no input entry and no trainable weight)";
            return out.str();
        }
        out << (ok ? "gradcheck passed" : "gradcheck FAILED") << ": worst relative error " << worst_error << " at "
            << worst_at << " (numeric " << expected << ", analytic " << got << ", floor " << floor << "), "
            << checked << " entries, tolerance " << gradcheck_tolerance;
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
        const double magnitude = objective(layer, xs, upstream, training).magnitude;
        auto at_x = [&] { return objective(layer, xs, upstream, training).value; };
        for (std::size_t i = 0; i < xs.size(); ++i)
            compare(at_x, magnitude, xs[i], inputs[i].grad() - input_prefills[i],
                    xs.size() == 1 ? std::string("input") : "input" + std::to_string(i), report, max_entries,
                    stream++);
        std::size_t k = 0;
        for (auto* w : layer.weights())
        {
            const Tensor<double>& prefill = weight_prefills[k++];
            if (!w->variable.requires_grad())
                continue;
            compare(at_x, magnitude, w->variable.value(), w->variable.grad() - prefill, w->name, report,
                    max_entries, stream++);
            w->variable.zero_grad();
        }
        conclude(report);
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

        auto objective = [&] {
            NoGradGuard no_grad;
            BasicTape<double> t;
            std::vector<BasicVariable<double>> plain;
            for (const auto& v : inputs)
                plain.emplace_back(v);
            Objective o;
            Sum total, magnitude;
            add_products(evaluate(t, plain).value(), upstream, total, magnitude);
            o.value = total.value();
            o.magnitude = magnitude.value();
            return o;
        };
        GradcheckReport report;
        const double magnitude = objective().magnitude;
        for (std::size_t k = 0; k < inputs.size(); ++k)
            compare([&] { return objective().value; }, magnitude, inputs[k], vars[k].grad() - prefills[k],
                    "input" + std::to_string(k), report);
        conclude(report);
        return report;
    }
}
