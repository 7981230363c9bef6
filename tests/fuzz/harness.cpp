#include "fuzz/harness.hpp"

#include "framework/engine/error.hpp"
#include "framework/io/keras_archive.hpp"
#include "framework/io/keras_h5.hpp"
#include "framework/keras/layer.hpp"
#include "framework/models/sequential.hpp"
#include "layers/merge.hpp"

#include <cstdio>
#include <fstream>
#include <functional>
#include <unistd.h>
#include <vector>

namespace xk::fuzz
{
    namespace
    {
        // Inputs and outputs above this many elements are skipped: the harness looks for crashes, not for
        // the allocator's limit.
        constexpr long max_elements = 1L << 16;

        /// The library's own rejections are the accepted outcome; everything else propagates to the caller.
        void run_rejecting_cleanly(const std::function<void()>& body)
        {
            try
            {
                body();
            }
            catch (const xk::value_error&)
            {
            }
            catch (const xk::io_error&)
            {
            }
        }

        long element_count(const PartialShape& shape)
        {
            long count = 1;
            for (long d : shape)
            {
                if (d < 0 || (d > 0 && count > max_elements / d))
                    return -1;
                count *= d;
            }
            return count;
        }

        /// A deterministic, bounded reader of the fuzz bytes (zeros once they run out).
        class ByteReader
        {
        public:
            ByteReader(const std::uint8_t* data, std::size_t size) : m_data(data), m_size(size) {}
            std::uint8_t byte() { return m_pos < m_size ? m_data[m_pos++] : 0; }
            int in_range(int lo, int hi) { return lo + byte() % (hi - lo + 1); }
            bool flag() { return byte() & 1; }
            template <class C>
            const auto& pick(const C& choices) { return choices[byte() % choices.size()]; }

            /// A size argument: mostly small, sometimes zero, negative or huge (the layer must reject those).
            long size_value(int max_small)
            {
                const std::uint8_t b = byte();
                if (b < 232)
                    return 1 + b % max_small;
                static const long odd[] = {0, -1, -2, 1L << 31, 1L << 40, -(1L << 31), 1000, 65537};
                return odd[b % 8];
            }
            json sizes(int rank, int max_small)
            {
                if (flag())
                    return size_value(max_small);
                json out = json::array();
                for (int i = 0; i < rank; ++i)
                    out.push_back(size_value(max_small));
                return out;
            }

        private:
            const std::uint8_t* m_data;
            std::size_t m_size;
            std::size_t m_pos = 0;
        };

        int spatial_rank_of(const std::string& class_name)
        {
            if (class_name.find("1D") != std::string::npos)
                return 1;
            if (class_name.find("2D") != std::string::npos)
                return 2;
            if (class_name.find("3D") != std::string::npos)
                return 3;
            return 0;
        }

        bool has(const std::string& text, const char* part) { return text.find(part) != std::string::npos; }

        /// A config of the keys Keras documents for the layer's family, values drawn from the bytes.
        json config_for(const std::string& name, int rank, ByteReader& in)
        {
            static const std::vector<std::string> paddings = {"valid", "same", "causal", "full"};
            static const std::vector<std::string> formats = {"channels_last", "channels_first"};
            static const std::vector<std::string> activations = {"linear", "relu", "sigmoid", "tanh", "softmax",
                                                                 "elu", "selu", "swish", "gelu", "nonsense"};
            json config = json::object();
            auto maybe = [&](const char* key, const json& value) {
                if (in.flag())
                    config[key] = value;
            };
            const bool conv = has(name, "Conv");
            const bool pooling = has(name, "Pooling") && !has(name, "Global");
            if (conv)
            {
                if (!has(name, "Depthwise"))
                    config["filters"] = in.size_value(6);
                config["kernel_size"] = in.sizes(rank, 4);
                maybe("strides", in.sizes(rank, 3));
                maybe("dilation_rate", in.sizes(rank, 3));
                maybe("padding", in.pick(paddings));
                maybe("data_format", in.pick(formats));
                if (has(name, "Depthwise") || has(name, "Separable"))
                    maybe("depth_multiplier", in.size_value(3));
                if (has(name, "Transpose"))
                    maybe("output_padding", in.sizes(rank, 3));
                if (!has(name, "Depthwise") && !has(name, "Separable") && !has(name, "Transpose"))
                    maybe("groups", in.size_value(3));
                maybe("use_bias", in.flag());
                maybe("activation", in.pick(activations));
            }
            else if (pooling)
            {
                maybe("pool_size", in.sizes(rank, 3));
                maybe("strides", in.sizes(rank, 3));
                maybe("padding", in.pick(paddings));
                maybe("data_format", in.pick(formats));
            }
            else if (has(name, "Global"))
            {
                maybe("data_format", in.pick(formats));
                maybe("keepdims", in.flag());
            }
            else if (has(name, "Cropping") || has(name, "ZeroPadding"))
            {
                json amounts = in.flag() ? json(in.size_value(2) - 1) : json::array();
                if (amounts.is_array())
                    for (int i = 0; i < rank; ++i)
                        amounts.push_back(in.flag() ? json(in.size_value(2) - 1)
                                                    : json::array({in.size_value(2) - 1, in.size_value(2) - 1}));
                config[has(name, "Cropping") ? "cropping" : "padding"] = amounts;
                if (rank > 1)
                    maybe("data_format", in.pick(formats));
            }
            else if (has(name, "UpSampling"))
            {
                maybe("size", in.sizes(rank, 3));
                if (rank > 1)
                    maybe("data_format", in.pick(formats));
                if (rank == 2)
                    maybe("interpolation", in.pick(std::vector<std::string>{"nearest", "bilinear", "area"}));
            }
            else if (name == "Dense")
            {
                config["units"] = in.size_value(6);
                maybe("use_bias", in.flag());
                maybe("activation", in.pick(activations));
            }
            else if (name == "Activation")
                config["activation"] = in.pick(activations);
            else if (name == "Dropout")
            {
                config["rate"] = in.in_range(0, 12) / 10.0;
                maybe("seed", in.in_range(0, 9));
            }
            else if (name == "Reshape")
            {
                json target = json::array();
                const int n = in.in_range(1, 3);
                for (int i = 0; i < n; ++i)
                    target.push_back(in.flag() ? -1L : in.size_value(4));
                config["target_shape"] = target;
            }
            else if (name == "BatchNormalization")
            {
                maybe("axis", in.in_range(-4, 4));
                maybe("center", in.flag());
                maybe("scale", in.flag());
                maybe("momentum", in.in_range(0, 10) / 10.0);
            }
            else if (name == "Flatten")
                maybe("data_format", in.pick(formats));
            else if (name == "Dot")
            {
                config["axes"] = in.in_range(-2, rank + 2);
                maybe("normalize", in.flag());
            }
            else if (name == "Concatenate")
                maybe("axis", in.in_range(-3, rank + 2));
            return config;
        }

        /// A unique scratch file in memory (/dev/shm when there is one), removed on scope exit.
        class ScratchFile
        {
        public:
            /// The format is chosen by the extension: ".h5" or ".keras".
            explicit ScratchFile(const char* extension = ".h5")
            {
                const char* dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
                m_path = std::string(dir) + "/xkeras-fuzz-" + std::to_string(getpid()) + extension;
            }
            ~ScratchFile() { std::remove(m_path.c_str()); }
            const std::string& path() const { return m_path; }

        private:
            std::string m_path;
        };
    }

    namespace
    {
        /// Loads the bytes as a model file of `extension`, reads its training state, predicts on zeros.
        void load_file_bytes(const std::uint8_t* data, std::size_t size, const char* extension)
        {
            ScratchFile file(extension);
            {
                std::ofstream out(file.path(), std::ios::binary | std::ios::trunc);
                out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
            }
            run_rejecting_cleanly([&] {
                auto model = load_model<float>(file.path());
                if (is_keras_archive_path(file.path()))
                    load_training_keras<float>(file.path());
                else
                    load_optimizer_state<float>(file.path());
                std::vector<PartialShape> shapes = model->input_shapes();
                if (shapes.empty())
                    return;
                std::vector<Tensor<float>> inputs;
                for (auto& shape : shapes)
                {
                    if (!shape.empty())
                        shape[0] = 1;
                    if (element_count(shape) <= 0)
                        return;
                    inputs.push_back(zeros<float>(Shape(shape.begin(), shape.end())));
                }
                for (const auto& out : model->compute_output_shapes(shapes))
                    if (element_count(out) < 0)
                        return;
                model->predict(inputs);
            });
        }
    }

    void load_model_bytes(const std::uint8_t* data, std::size_t size)
    {
        load_file_bytes(data, size, ".h5");
    }

    void load_archive_bytes(const std::uint8_t* data, std::size_t size)
    {
        load_file_bytes(data, size, ".keras");
    }

    void model_config_text(const std::uint8_t* data, std::size_t size)
    {
        const json document = json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
        if (document.is_discarded())
            return;
        run_rejecting_cleanly([&] { model_from_config<float>(document); });
        run_rejecting_cleanly([&] { layer_from_config<float>(document); });
    }

    LayerRun run_layer_from_bytes(const std::uint8_t* data, std::size_t size)
    {
        static const std::vector<std::string> names = fuzzable_layers();
        ByteReader in(data, size);
        LayerRun run;
        run.class_name = in.pick(names);
        const std::string& name = run.class_name;
        int rank = spatial_rank_of(name);
        if (rank == 0) // Dense, Flatten, Activation...: any rank from 1 to 3 beyond the batch
            rank = in.in_range(0, 2);
        const json config = config_for(name, rank, in);

        PartialShape shape = {in.in_range(1, 2)};
        for (int i = 0; i < rank + 1; ++i) // spatial dimensions and the channels
            shape.push_back(in.in_range(1, 6));
        run_rejecting_cleanly([&] {
            auto layer = make_layer<float>(name, config);
            // Merge layers take a list: two or three inputs of the same shape (the byte is read for them only,
            // so the saved inputs of other layers replay as they were found).
            const bool merge = dynamic_cast<MergeLayer<float>*>(layer.get()) != nullptr;
            const int input_count = merge ? in.in_range(2, 3) : 1;
            PartialShape build_shape = shape;
            build_shape[0] = -1;
            const std::vector<PartialShape> build_shapes(std::size_t(input_count), build_shape);
            // The promised shape keeps None where the layer cannot know the size (a Concatenate on the batch
            // axis); the size check puts the batch there.
            const PartialShape promised = layer->compute_output_shapes(build_shapes).at(0);
            PartialShape concrete = promised;
            if (!concrete.empty() && concrete[0] == -1)
                concrete[0] = shape[0] * input_count;
            if (element_count(concrete) < 0)
                return; // an output too large to compute: the layer accepted a config the harness won't run
            std::vector<Variable> inputs;
            std::uint32_t state = 2463534242u;
            for (std::size_t k = 0; k < build_shapes.size(); ++k)
            {
                Tensor<float> x = zeros<float>(Shape(shape.begin(), shape.end()));
                for (auto& v : x)
                {
                    state ^= state << 13, state ^= state >> 17, state ^= state << 5;
                    v = static_cast<float>(state % 2001) / 1000.0f - 1.0f;
                }
                inputs.emplace_back(x, /*requires_grad=*/true);
            }
            Tape tape;
            const bool training = in.flag();
            auto y = layer->call(tape, std::span<const Variable>(inputs), training).at(0);
            XK_CHECK(y.value().shape().size() == promised.size(), std::logic_error, name,
                     ": output rank differs from compute_output_shape");
            for (std::size_t i = 0; i < promised.size(); ++i)
            {
                const long got = static_cast<long>(y.value().shape()[i]);
                // An unknown batch is the input's, or the inputs' together for a merge on the batch axis.
                const bool fits = promised[i] != -1 ? got == promised[i]
                                  : i != 0          || got == shape[0] || (merge && got == shape[0] * input_count);
                XK_CHECK(fits,
                         std::logic_error, name, ": output shape ", shape_str(promised), " promised, got dim ",
                         i, " = ", got);
            }
            tape.backward(y);
            for (const auto& input : inputs)
                XK_CHECK(input.grad().shape() == input.value().shape(), std::logic_error, name,
                         ": input gradient shape");
            run.ran = true;
        });
        return run;
    }

    void layer_from_bytes(const std::uint8_t* data, std::size_t size) { run_layer_from_bytes(data, size); }

    std::vector<std::string> fuzzable_layers()
    {
        std::vector<std::string> names;
        for (const auto& name : layer_registry<float>().names())
            if (name != "InputLayer") // the model's input, not a layer one calls
                names.push_back(name);
        return names;
    }

    Harness harness_named(const std::string& name)
    {
        if (name == "load_model")
            return load_model_bytes;
        if (name == "load_archive")
            return load_archive_bytes;
        if (name == "model_config")
            return model_config_text;
        if (name == "layer")
            return layer_from_bytes;
        return nullptr;
    }
}
