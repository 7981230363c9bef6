#include "framework/keras/initializers.hpp"

#include "framework/engine/random.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>
#include <vector>

namespace xk
{
    namespace
    {
        using Seed = std::optional<std::int64_t>;

        // Reads one Keras constructor's keyword arguments out of a config, rejecting the ones it does not take.
        class Arguments
        {
        public:
            Arguments(const json& config, std::string class_name, std::vector<std::string> known)
                : m_config(config), m_class_name(std::move(class_name))
            {
                XK_CHECK(config.is_object(), value_error, "The config of ", m_class_name,
                         " must be a JSON object. Received: config=", config.dump(), ".");
                known.push_back("dtype"); // Initializer.from_config drops it: old configs carry it
                auto unknown = unknown_keys(config, known);
                if (!unknown.empty())
                {
                    known.pop_back();
                    std::string expected;
                    for (const auto& k : known)
                        expected += (expected.empty() ? "" : ", ") + k;
                    throw value_error("Unrecognized keyword argument passed to " + m_class_name + ": '" +
                                      unknown.front() + "'. Expected one of: {" + expected + "}.");
                }
            }

            double number(const std::string& key, double fallback) const
            {
                auto it = m_config.find(key);
                if (it == m_config.end() || it->is_null())
                    return fallback;
                XK_CHECK(it->is_number(), value_error, "Invalid value for argument `", key, "` of ", m_class_name,
                         ". Expected a number. Received: ", key, "=", it->dump(), ".");
                return it->get<double>();
            }

            std::string text(const std::string& key, const std::string& fallback) const
            {
                auto it = m_config.find(key);
                if (it == m_config.end() || it->is_null())
                    return fallback;
                XK_CHECK(it->is_string(), value_error, "Invalid value for argument `", key, "` of ", m_class_name,
                         ". Expected a string. Received: ", key, "=", it->dump(), ".");
                return it->get<std::string>();
            }

            Seed seed() const
            {
                auto it = m_config.find("seed");
                if (it == m_config.end() || it->is_null())
                    return std::nullopt;
                XK_CHECK(it->is_number_integer(), value_error, "Invalid value for argument `seed` of ", m_class_name,
                         ". Expected an integer or null. Received: seed=", it->dump(), ".");
                return it->get<std::int64_t>();
            }

            const json& raw(const std::string& key) const
            {
                static const json null_value;
                auto it = m_config.find(key);
                return it == m_config.end() ? null_value : *it;
            }

        private:
            const json& m_config;
            std::string m_class_name;
        };

        json seed_json(Seed seed)
        {
            return seed ? json(*seed) : json(nullptr);
        }

        // A seeded initializer restarts its generator at each call, so every call returns the same values.
        Rng seeded_rng(Seed seed)
        {
            return seed ? make_rng(static_cast<std::uint64_t>(*seed)) : make_rng();
        }

        template <class Draw>
        Tensor<double> generate(const Shape& shape, Draw draw)
        {
            Tensor<double> out = Tensor<double>::from_shape(shape);
            for (double& v : out)
                v = draw();
            return out;
        }

        Tensor<double> random_normal(const Shape& shape, double mean, double stddev, Seed seed)
        {
            Rng rng = seeded_rng(seed);
            std::normal_distribution<double> normal(0.0, 1.0);
            return generate(shape, [&] { return mean + stddev * normal(rng); });
        }

        // TensorFlow's truncated_normal: draws beyond two standard deviations are discarded and redrawn.
        Tensor<double> truncated_normal(const Shape& shape, double mean, double stddev, Seed seed)
        {
            Rng rng = seeded_rng(seed);
            std::normal_distribution<double> normal(0.0, 1.0);
            return generate(shape, [&] {
                double z;
                do
                    z = normal(rng);
                while (std::abs(z) > 2.0);
                return mean + stddev * z;
            });
        }

        // minval + (maxval - minval) * u with u in [0, 1), as TensorFlow; minval > maxval is not rejected there.
        Tensor<double> random_uniform(const Shape& shape, double minval, double maxval, Seed seed)
        {
            Rng rng = seeded_rng(seed);
            std::uniform_real_distribution<double> unit(0.0, 1.0);
            return generate(shape, [&] { return minval + (maxval - minval) * unit(rng); });
        }

        class Zeros : public Initializer
        {
        public:
            std::string class_name() const override { return "Zeros"; }
            json get_config() const override { return json::object(); }
            Tensor<double> operator()(const Shape& shape) const override { return zeros<double>(shape); }
        };

        class Ones : public Initializer
        {
        public:
            std::string class_name() const override { return "Ones"; }
            json get_config() const override { return json::object(); }
            Tensor<double> operator()(const Shape& shape) const override { return full<double>(shape, 1.0); }
        };

        class Constant : public Initializer
        {
        public:
            // The JSON number is kept as given so the config round-trips exactly (Keras's default is the int 0).
            explicit Constant(json value) : m_value(std::move(value)) {}
            std::string class_name() const override { return "Constant"; }
            json get_config() const override { return {{"value", m_value}}; }
            Tensor<double> operator()(const Shape& shape) const override
            {
                return full<double>(shape, m_value.get<double>());
            }

        private:
            json m_value;
        };

        class RandomNormal : public Initializer
        {
        public:
            RandomNormal(double mean, double stddev, Seed seed) : m_mean(mean), m_stddev(stddev), m_seed(seed) {}
            std::string class_name() const override { return "RandomNormal"; }
            json get_config() const override
            {
                return {{"mean", m_mean}, {"stddev", m_stddev}, {"seed", seed_json(m_seed)}};
            }
            Tensor<double> operator()(const Shape& shape) const override
            {
                return random_normal(shape, m_mean, m_stddev, m_seed);
            }

        private:
            double m_mean;
            double m_stddev;
            Seed m_seed;
        };

        class TruncatedNormal : public Initializer
        {
        public:
            TruncatedNormal(double mean, double stddev, Seed seed) : m_mean(mean), m_stddev(stddev), m_seed(seed)
            {
            }
            std::string class_name() const override { return "TruncatedNormal"; }
            json get_config() const override
            {
                return {{"mean", m_mean}, {"stddev", m_stddev}, {"seed", seed_json(m_seed)}};
            }
            Tensor<double> operator()(const Shape& shape) const override
            {
                return truncated_normal(shape, m_mean, m_stddev, m_seed);
            }

        private:
            double m_mean;
            double m_stddev;
            Seed m_seed;
        };

        class RandomUniform : public Initializer
        {
        public:
            RandomUniform(double minval, double maxval, Seed seed) : m_min(minval), m_max(maxval), m_seed(seed) {}
            std::string class_name() const override { return "RandomUniform"; }
            json get_config() const override
            {
                return {{"minval", m_min}, {"maxval", m_max}, {"seed", seed_json(m_seed)}};
            }
            Tensor<double> operator()(const Shape& shape) const override
            {
                return random_uniform(shape, m_min, m_max, m_seed);
            }

        private:
            double m_min;
            double m_max;
            Seed m_seed;
        };

        std::string set_str(const std::vector<std::string>& values)
        {
            std::string out;
            for (const auto& v : values)
                out += (out.empty() ? "" : ", ") + ("\"" + v + "\"");
            return "{" + out + "}";
        }

        class VarianceScaling : public Initializer
        {
        public:
            VarianceScaling(double scale, std::string mode, std::string distribution, Seed seed)
                : m_scale(scale), m_mode(std::move(mode)), m_seed(seed)
            {
                XK_CHECK(scale > 0.0, value_error, "Argument `scale` must be positive float. Received: scale=",
                         scale, ".");
                const std::vector<std::string> modes{"fan_in", "fan_out", "fan_avg"};
                XK_CHECK(std::find(modes.begin(), modes.end(), m_mode) != modes.end(), value_error,
                         "Invalid value for argument `mode`. Expected one of ", set_str(modes),
                         ". Received: mode=", m_mode, ".");
                std::transform(distribution.begin(), distribution.end(), distribution.begin(),
                               [](unsigned char c) { return std::tolower(c); });
                if (distribution == "normal") // the name keras-team/keras used for it
                    distribution = "truncated_normal";
                const std::vector<std::string> distributions{"truncated_normal", "untruncated_normal", "uniform"};
                XK_CHECK(std::find(distributions.begin(), distributions.end(), distribution) != distributions.end(),
                         value_error, "Invalid value for argument `distribution`. Expected one of ",
                         set_str(distributions), ". Received: distribution=", distribution, ".");
                m_distribution = distribution;
            }

            std::string class_name() const override { return "VarianceScaling"; }
            json get_config() const override
            {
                return {{"scale", m_scale},
                        {"mode", m_mode},
                        {"distribution", m_distribution},
                        {"seed", seed_json(m_seed)}};
            }

            Tensor<double> operator()(const Shape& shape) const override
            {
                Fans fans = compute_fans(shape);
                double n = m_mode == "fan_in"    ? fans.fan_in
                           : m_mode == "fan_out" ? fans.fan_out
                                                 : (fans.fan_in + fans.fan_out) / 2.0;
                double variance = m_scale / std::max(1.0, n);
                if (m_distribution == "truncated_normal")
                {
                    // Standard deviation of a unit normal truncated to [-2, 2]: undoes the shrinkage of truncation.
                    return truncated_normal(shape, 0.0, std::sqrt(variance) / 0.87962566103423978, m_seed);
                }
                if (m_distribution == "untruncated_normal")
                    return random_normal(shape, 0.0, std::sqrt(variance), m_seed);
                double limit = std::sqrt(3.0 * variance);
                return random_uniform(shape, -limit, limit, m_seed);
            }

        protected:
            double m_scale;
            std::string m_mode;
            std::string m_distribution;
            Seed m_seed;
        };

        // GlorotUniform, HeNormal, ...: fixed VarianceScaling settings under their own name, config {"seed"} only.
        class NamedVarianceScaling : public VarianceScaling
        {
        public:
            NamedVarianceScaling(std::string name, double scale, std::string mode, std::string distribution, Seed seed)
                : VarianceScaling(scale, std::move(mode), std::move(distribution), seed), m_name(std::move(name))
            {
            }
            std::string class_name() const override { return m_name; }
            json get_config() const override { return {{"seed", seed_json(m_seed)}}; }

        private:
            std::string m_name;
        };

        // Thin QR of a (rows >= cols) row-major matrix by Householder reflections. Returns Q (rows x cols) with
        // each column multiplied by sign(R[j][j]), which makes the factorisation unique whatever the algorithm.
        std::vector<double> sign_corrected_q(std::vector<double> a, std::size_t rows, std::size_t cols)
        {
            std::vector<std::vector<double>> reflectors(cols);
            std::vector<double> diag(cols, 0.0);
            for (std::size_t k = 0; k < cols; ++k)
            {
                double norm = 0.0;
                for (std::size_t i = k; i < rows; ++i)
                    norm += a[i * cols + k] * a[i * cols + k];
                norm = std::sqrt(norm);
                if (norm == 0.0)
                    continue; // a zero column: R[k][k] = 0, and tf.sign(0) zeroes that column of Q too
                double alpha = a[k * cols + k] > 0.0 ? -norm : norm;
                std::vector<double>& v = reflectors[k];
                v.assign(rows - k, 0.0);
                for (std::size_t i = k; i < rows; ++i)
                    v[i - k] = a[i * cols + k];
                v[0] -= alpha;
                double v_norm = 0.0;
                for (double x : v)
                    v_norm += x * x;
                v_norm = std::sqrt(v_norm);
                for (double& x : v)
                    x /= v_norm;
                for (std::size_t j = k; j < cols; ++j)
                {
                    double dot = 0.0;
                    for (std::size_t i = k; i < rows; ++i)
                        dot += v[i - k] * a[i * cols + j];
                    for (std::size_t i = k; i < rows; ++i)
                        a[i * cols + j] -= 2.0 * v[i - k] * dot;
                }
                diag[k] = a[k * cols + k];
            }
            // Q = H_0 ... H_{cols-1} applied to the first `cols` columns of the identity.
            std::vector<double> q(rows * cols, 0.0);
            for (std::size_t j = 0; j < cols; ++j)
                q[j * cols + j] = 1.0;
            for (std::size_t k = cols; k-- > 0;)
            {
                const std::vector<double>& v = reflectors[k];
                if (v.empty())
                    continue;
                for (std::size_t j = 0; j < cols; ++j)
                {
                    double dot = 0.0;
                    for (std::size_t i = k; i < rows; ++i)
                        dot += v[i - k] * q[i * cols + j];
                    for (std::size_t i = k; i < rows; ++i)
                        q[i * cols + j] -= 2.0 * v[i - k] * dot;
                }
            }
            for (std::size_t j = 0; j < cols; ++j)
            {
                double sign = diag[j] > 0.0 ? 1.0 : (diag[j] < 0.0 ? -1.0 : 0.0);
                for (std::size_t i = 0; i < rows; ++i)
                    q[i * cols + j] *= sign;
            }
            return q;
        }

        class Orthogonal : public Initializer
        {
        public:
            Orthogonal(double gain, Seed seed) : m_gain(gain), m_seed(seed) {}
            std::string class_name() const override { return "Orthogonal"; }
            json get_config() const override { return {{"gain", m_gain}, {"seed", seed_json(m_seed)}}; }

            Tensor<double> operator()(const Shape& shape) const override
            {
                XK_CHECK(shape.size() >= 2, value_error,
                         "The tensor to initialize must be at least two-dimensional. Received: shape=",
                         shape_str(shape), " of rank ", shape.size(), ".");
                std::size_t rows = shape_size(Shape(shape.begin(), shape.end() - 1));
                std::size_t cols = shape.back();
                std::size_t tall = std::max(rows, cols), wide = std::min(rows, cols);
                Tensor<double> a = random_normal({tall, wide}, 0.0, 1.0, m_seed);
                std::vector<double> q = sign_corrected_q(std::vector<double>(a.begin(), a.end()), tall, wide);
                Tensor<double> out = Tensor<double>::from_shape(shape);
                double* dst = out.data();
                // Fewer rows than columns: the transpose, so that the rows are the orthonormal vectors.
                for (std::size_t r = 0; r < rows; ++r)
                    for (std::size_t c = 0; c < cols; ++c)
                        dst[r * cols + c] = m_gain * (rows >= cols ? q[r * wide + c] : q[c * wide + r]);
                return out;
            }

        private:
            double m_gain;
            Seed m_seed;
        };

        class Identity : public Initializer
        {
        public:
            explicit Identity(double gain) : m_gain(gain) {}
            std::string class_name() const override { return "Identity"; }
            json get_config() const override { return {{"gain", m_gain}}; }

            Tensor<double> operator()(const Shape& shape) const override
            {
                XK_CHECK(shape.size() == 2, value_error,
                         "Identity matrix initializer can only be used for 2D matrices. Received: shape=",
                         shape_str(shape), " of rank ", shape.size(), ".");
                Tensor<double> out = zeros<double>(shape);
                for (std::size_t i = 0; i < std::min(shape[0], shape[1]); ++i)
                    out(i, i) = m_gain;
                return out;
            }

        private:
            double m_gain;
        };

        // Keras's generic_utils.to_snake_case for the plain CamelCase class names used here.
        std::string snake_case(const std::string& name)
        {
            std::string out;
            for (std::size_t i = 0; i < name.size(); ++i)
            {
                if (std::isupper(static_cast<unsigned char>(name[i])) && i > 0)
                    out += '_';
                out += static_cast<char>(std::tolower(static_cast<unsigned char>(name[i])));
            }
            return out;
        }

        using InitializerRegistry = Registry<InitializerPtr, const json&>;

        void register_builtins(InitializerRegistry& registry)
        {
            using Factory = InitializerRegistry::Factory;
            std::map<std::string, Factory> classes;
            classes["Zeros"] = [](const json& c) {
                Arguments args(c, "Zeros", {});
                return std::make_shared<Zeros>();
            };
            classes["Ones"] = [](const json& c) {
                Arguments args(c, "Ones", {});
                return std::make_shared<Ones>();
            };
            classes["Constant"] = [](const json& c) {
                Arguments args(c, "Constant", {"value"});
                json value = args.raw("value");
                if (value.is_null())
                    value = 0;
                XK_CHECK(value.is_number(), value_error,
                         "Invalid value for argument `value` of Constant. Expected a scalar number. Received: value=",
                         value.dump(), ".");
                return std::make_shared<Constant>(value);
            };
            classes["RandomNormal"] = [](const json& c) {
                Arguments args(c, "RandomNormal", {"mean", "stddev", "seed"});
                return std::make_shared<RandomNormal>(args.number("mean", 0.0), args.number("stddev", 0.05),
                                                      args.seed());
            };
            classes["RandomUniform"] = [](const json& c) {
                Arguments args(c, "RandomUniform", {"minval", "maxval", "seed"});
                return std::make_shared<RandomUniform>(args.number("minval", -0.05), args.number("maxval", 0.05),
                                                       args.seed());
            };
            classes["TruncatedNormal"] = [](const json& c) {
                Arguments args(c, "TruncatedNormal", {"mean", "stddev", "seed"});
                return std::make_shared<TruncatedNormal>(args.number("mean", 0.0), args.number("stddev", 0.05),
                                                         args.seed());
            };
            classes["VarianceScaling"] = [](const json& c) {
                Arguments args(c, "VarianceScaling", {"scale", "mode", "distribution", "seed"});
                return std::make_shared<VarianceScaling>(args.number("scale", 1.0), args.text("mode", "fan_in"),
                                                         args.text("distribution", "truncated_normal"),
                                                         args.seed());
            };
            classes["Orthogonal"] = [](const json& c) {
                Arguments args(c, "Orthogonal", {"gain", "seed"});
                return std::make_shared<Orthogonal>(args.number("gain", 1.0), args.seed());
            };
            classes["Identity"] = [](const json& c) {
                Arguments args(c, "Identity", {"gain"});
                return std::make_shared<Identity>(args.number("gain", 1.0));
            };
            struct Preset
            {
                const char* name;
                double scale;
                const char* mode;
                const char* distribution;
            };
            for (const Preset& p : {Preset{"GlorotNormal", 1.0, "fan_avg", "truncated_normal"},
                                    Preset{"GlorotUniform", 1.0, "fan_avg", "uniform"},
                                    Preset{"HeNormal", 2.0, "fan_in", "truncated_normal"},
                                    Preset{"HeUniform", 2.0, "fan_in", "uniform"},
                                    Preset{"LecunNormal", 1.0, "fan_in", "truncated_normal"},
                                    Preset{"LecunUniform", 1.0, "fan_in", "uniform"}})
            {
                classes[p.name] = [p](const json& c) {
                    Arguments args(c, p.name, {"seed"});
                    return std::make_shared<NamedVarianceScaling>(p.name, p.scale, p.mode, p.distribution,
                                                                  args.seed());
                };
            }

            // Keras registers each class, its snake_case name, and "<Class>V2" for configs saved by TF 2.0-2.2.
            const std::set<std::string> v2_snake_aliases{"GlorotNormal", "GlorotUniform", "HeNormal",
                                                         "HeUniform",    "LecunNormal",   "LecunUniform"};
            for (const auto& [name, factory] : classes)
            {
                registry.add(name, factory);
                registry.add(snake_case(name), factory);
                registry.add(name + "V2", factory);
                if (v2_snake_aliases.count(name))
                    registry.add(snake_case(name) + "V2", factory);
            }
            // The older short names Keras still accepts.
            registry.add("normal", classes.at("RandomNormal"));
            registry.add("uniform", classes.at("RandomUniform"));
            registry.add("one", classes.at("Ones"));
            registry.add("zero", classes.at("Zeros"));
        }
    }

    Fans compute_fans(const Shape& shape)
    {
        if (shape.empty())
            return {1.0, 1.0};
        if (shape.size() == 1)
            return {double(shape[0]), double(shape[0])};
        if (shape.size() == 2)
            return {double(shape[0]), double(shape[1])};
        // Convolution kernels (..., input_depth, depth): every spatial position counts as a unit.
        double receptive_field = double(shape_size(Shape(shape.begin(), shape.end() - 2)));
        return {double(shape[shape.size() - 2]) * receptive_field, double(shape.back()) * receptive_field};
    }

    Registry<InitializerPtr, const json&>& initializer_registry()
    {
        static InitializerRegistry registry = [] {
            InitializerRegistry r("initializer");
            register_builtins(r);
            return r;
        }();
        return registry;
    }

    InitializerPtr get_initializer(const json& identifier)
    {
        if (identifier.is_null())
            return nullptr;
        if (identifier.is_string())
            return initializer_registry().create(identifier.get<std::string>(), json::object());
        XK_CHECK(identifier.is_object(), value_error,
                 "Could not interpret initializer identifier: ", identifier.dump(), ".");
        auto name = identifier.find("class_name");
        XK_CHECK(name != identifier.end() && name->is_string(), value_error, "Improper config format: ",
                 identifier.dump(), ". Expecting a JSON object with `class_name` and `config` as keys.");
        auto config = identifier.find("config");
        bool no_config = config == identifier.end() || config->is_null();
        return initializer_registry().create(name->get<std::string>(), no_config ? json::object() : *config);
    }

    json serialize(const InitializerPtr& initializer)
    {
        if (!initializer)
            return nullptr;
        return {{"class_name", initializer->class_name()}, {"config", initializer->get_config()}};
    }
}
