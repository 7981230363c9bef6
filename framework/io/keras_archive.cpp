#include "framework/io/keras_archive.hpp"

#include "framework/io/atomic_file.hpp"
#include "framework/io/hdf5_file.hpp"
#include "framework/io/keras3_store.hpp"
#include "framework/io/keras_h5.hpp"
#include "framework/io/zip_archive.hpp"
#include "framework/models/functional.hpp"
#include "layers/registry.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <map>

namespace xk
{
    namespace
    {
        namespace fs = std::filesystem;

        constexpr const char* metadata_member = "metadata.json";
        constexpr const char* config_member = "config.json";
        constexpr const char* weights_member = "model.weights.h5";
        // JSON members are read into memory; no real model config comes near this.
        constexpr std::uint64_t json_member_limit = std::uint64_t(256) << 20;
        constexpr std::uint64_t weights_member_limit = std::uint64_t(64) << 30;

        [[noreturn]] void fail_archive(const std::string& path, const std::string& message)
        {
            throw io_error("Cannot load the model in '" + path + "': " + message);
        }

        /// A file in the temporary directory, removed when this goes out of scope.
        class ScratchFile
        {
        public:
            explicit ScratchFile(const std::string& suffix)
            {
                static std::atomic<unsigned long> counter{0};
                m_path = (fs::temp_directory_path() / ("xkeras-" + std::to_string(static_cast<long>(::getpid())) +
                                                       "-" + std::to_string(counter++) + "-" + suffix))
                             .string();
            }
            ~ScratchFile()
            {
                std::error_code ec;
                fs::remove(m_path, ec);
            }
            ScratchFile(const ScratchFile&) = delete;
            ScratchFile& operator=(const ScratchFile&) = delete;
            const std::string& path() const { return m_path; }

        private:
            std::string m_path;
        };

        json parse_member(const ZipReader& zip, const std::string& member)
        {
            const std::string text = zip.read(member, json_member_limit);
            try
            {
                return json::parse(text);
            }
            catch (const json::exception& e)
            {
                fail_archive(zip.label(), "the member '" + member + "' is not valid JSON (" + e.what() +
                                              "); it starts with: " + text.substr(0, 120));
            }
        }

        /// How messages that quote a file name ('<label>') name a member: 'x.keras', member 'config.json'.
        std::string member_label(const std::string& archive, const std::string& member)
        {
            return archive + "', member '" + member;
        }

        /// Messages from the extracted weights file name the archive and its member, not the scratch file.
        std::string rename_scratch(std::string message, const std::string& scratch, const std::string& archive)
        {
            const std::string where = member_label(archive, weights_member);
            for (std::size_t at = message.find(scratch); at != std::string::npos;
                 at = message.find(scratch, at + where.size()))
                message.replace(at, scratch.size(), where);
            return message;
        }

        template <class Read>
        auto with_weights_file(const ZipReader& zip, Read&& read)
        {
            if (!zip.contains(weights_member))
                fail_archive(zip.label(), std::string("the archive has no '") + weights_member +
                                              "' member (Keras 3 writes one for every model).");
            ScratchFile scratch(weights_member);
            zip.extract(weights_member, scratch.path(), weights_member_limit);
            try
            {
                return read(scratch.path());
            }
            catch (const io_error& e)
            {
                throw io_error(rename_scratch(e.what(), scratch.path(), zip.label()));
            }
        }

        ZipReader open_archive(const std::string& path)
        {
            ZipReader zip(path);
            if (!zip.contains(config_member))
                fail_archive(path, std::string("the archive has no '") + config_member +
                                       "' member; it is not a Keras model archive. Members: " +
                                       [&] {
                                           std::string list;
                                           for (const auto& m : zip.members())
                                               list += (list.empty() ? "" : ", ") + m;
                                           return list.empty() ? std::string("none") : list;
                                       }());
            return zip;
        }

        // ---- Keras 3 serialization

        bool ends_with(const std::string& s, const std::string& suffix)
        {
            return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
        }

        /// The Keras 3 form of a layer's arguments: serialized objects carry their module. The dtype stays the
        /// string "float32", which every Keras 3 release reads (the DTypePolicy object of 3.4+ is not read by
        /// 3.0-3.3).
        json keras3_arguments(json config)
        {
            for (auto it = config.begin(); it != config.end(); ++it)
            {
                const std::string& key = it.key();
                json& value = it.value();
                if (value.is_object() && value.contains("class_name") && value.contains("config"))
                {
                    const char* module = ends_with(key, "_initializer")   ? "keras.initializers"
                                         : ends_with(key, "_regularizer") ? "keras.regularizers"
                                         : ends_with(key, "_constraint")  ? "keras.constraints"
                                                                          : nullptr;
                    if (module)
                        value = {{"module", module},
                                 {"class_name", value["class_name"]},
                                 {"config", value["config"]},
                                 {"registered_name", nullptr}};
                }
            }
            return config;
        }

        json shape_json(const PartialShape& shape)
        {
            json out = json::array();
            for (long d : shape)
                out.push_back(d < 0 ? json(nullptr) : json(d));
            return out;
        }

        template <class T>
        json build_config(const BasicLayer<T>& layer)
        {
            const auto& shapes = layer.input_shapes();
            if (shapes.empty())
                return {{"input_shape", nullptr}};
            if (shapes.size() == 1)
                return {{"input_shape", shape_json(shapes[0])}};
            json list = json::array();
            for (const auto& s : shapes)
                list.push_back(shape_json(s));
            return {{"input_shape", list}};
        }

        template <class T>
        json keras3_model(const BasicModel<T>& model);

        template <class T>
        json keras3_layer(const BasicLayer<T>& layer)
        {
            if (const auto* nested = dynamic_cast<const ModelLayer<T>*>(&layer))
                return keras3_model(nested->model());
            const bool input = layer.class_name() == "InputLayer";
            json config = keras3_arguments(layer.keras3_config());
            config.erase("batch_input_shape"); // an input shape is declared by the InputLayer in Keras 3
            json entry = {{"module", "keras.layers"},
                          {"class_name", layer.class_name()},
                          {"config", config},
                          {"registered_name", nullptr}};
            if (!input)
                entry["build_config"] = build_config(layer);
            return entry;
        }

        json input_layer_entry(const json& legacy_config)
        {
            json config = legacy_config;
            config["batch_shape"] = config["batch_input_shape"];
            config.erase("batch_input_shape");
            config.erase("ragged");
            return {{"module", "keras.layers"},
                    {"class_name", "InputLayer"},
                    {"config", config},
                    {"registered_name", nullptr}};
        }

        /// {"class_name": "__keras_tensor__", ...} for [layer, node, tensor] of a functional model.
        template <class T>
        json keras_tensor(const BasicFunctional<T>& model, const json& reference)
        {
            const std::string layer = reference[0].get<std::string>();
            const std::size_t node_index = reference[1].get<std::size_t>();
            const std::size_t tensor_index = reference[2].get<std::size_t>();
            PartialShape shape;
            std::size_t history_node = node_index;
            for (const auto& node : model.nodes())
                if (node->layer->name() == layer && model.config_node_index(node.get()) == node_index)
                {
                    shape = node->output_shapes.at(tensor_index);
                    // Keras 3 numbers a nested model's calls from 0; tf.keras 2.x's references from 1.
                    if (dynamic_cast<const ModelLayer<T>*>(node->layer.get()))
                        history_node = node_index - 1;
                }
            if (shape.empty()) // an Input: its one node holds its shape
                for (const auto& x : model.inputs())
                    if (x.layer().name() == layer)
                        shape = x.shape();
            return {{"class_name", "__keras_tensor__"},
                    {"config",
                     {{"shape", shape_json(shape)},
                      {"dtype", "float32"},
                      {"keras_history", {layer, history_node, tensor_index}}}}};
        }

        template <class T>
        json keras3_functional(const BasicFunctional<T>& model)
        {
            json legacy = model.get_config();
            const auto layers = model.layers();
            json entries = json::array();
            for (std::size_t i = 0; i < layers.size(); ++i)
            {
                json entry = keras3_layer(*layers[i]);
                entry["name"] = layers[i]->name();
                json inbound = json::array();
                for (const auto& node : legacy["layers"][i]["inbound_nodes"])
                {
                    json tensors = json::array();
                    for (const auto& reference : node)
                        tensors.push_back(keras_tensor(model, reference));
                    // A layer of several inputs receives them as one list argument.
                    json args = tensors.size() == 1 ? tensors : json::array({tensors});
                    inbound.push_back({{"args", args}, {"kwargs", json::object()}});
                }
                entry["inbound_nodes"] = inbound;
                entries.push_back(entry);
            }
            json config = {{"name", legacy["name"]},
                           {"trainable", legacy["trainable"]},
                           {"layers", entries},
                           {"input_layers", legacy["input_layers"]},
                           {"output_layers", legacy["output_layers"]}};
            return {{"module", "keras.src.models.functional"},
                    {"class_name", "Functional"},
                    {"config", config},
                    {"registered_name", "Functional"},
                    {"build_config", {{"input_shape", nullptr}}}};
        }

        template <class T>
        json keras3_sequential(const BasicModel<T>& model)
        {
            const json legacy = model.get_config();
            json entries = json::array();
            json input_shape = nullptr;
            if (!legacy["layers"].empty() && legacy["layers"][0]["class_name"] == "InputLayer")
            {
                entries.push_back(input_layer_entry(legacy["layers"][0]["config"]));
                input_shape = legacy["layers"][0]["config"]["batch_input_shape"];
            }
            for (const auto* layer : model.layers())
                entries.push_back(keras3_layer(*layer));
            json config = {{"name", model.name()},
                           {"trainable", true},
                           {"dtype", "float32"},
                           {"layers", entries}};
            if (!input_shape.is_null())
                config["build_input_shape"] = input_shape;
            return {{"module", "keras"},
                    {"class_name", "Sequential"},
                    {"config", config},
                    {"registered_name", nullptr},
                    {"build_config", {{"input_shape", input_shape}}}};
        }

        template <class T>
        json keras3_model(const BasicModel<T>& model)
        {
            if (const auto* functional = dynamic_cast<const BasicFunctional<T>*>(&model))
                return keras3_functional(*functional);
            XK_CHECK(model.class_name() == "Sequential", value_error, "Cannot write the ", model.class_name(),
                     " model '", model.name(), "' as Keras 3: only Sequential and Functional models are known.");
            return keras3_sequential(model);
        }

        std::string date_saved()
        {
            const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
            std::tm local{};
            ::localtime_r(&now, &local);
            char text[32];
            std::strftime(text, sizeof text, "%Y-%m-%d@%H:%M:%S", &local);
            return text;
        }

        /// Python's json.dumps: ASCII with escapes; Keras writes config.json that way.
        std::string dump_json(const json& value)
        {
            return value.dump(-1, ' ', true);
        }
    }

    bool is_keras_archive_path(const std::string& path)
    {
        return ends_with(path, ".keras");
    }

    template <class T>
    json keras3_model_config(const BasicModel<T>& model)
    {
        return keras3_model(model);
    }

    template <class T>
    void save_model_keras(BasicModel<T>& model, const std::string& path, const SavedTraining<T>* training)
    {
        XK_CHECK(model.built(), value_error, "Unable to save the model to '", path, "': ", model.class_name(),
                 " model '", model.name(), "' has not created its weights yet. Build it first.");
        json config = keras3_model(model);
        if (training && !training->compile_config.is_null())
            config["compile_config"] = training->compile_config;
        const json metadata = {{"keras_version", written_keras3_version}, {"date_saved", date_saved()}};
        write_file_atomically(path, [&](const std::string& temporary) {
            const std::string weights = temporary + ".weights.h5";
            try
            {
                {
                    h5::File f = h5::File::open_write(weights);
                    keras3::write_model_variables(f, model);
                    if (training && !training->optimizer_variables.empty())
                        keras3::write_optimizer_variables(f, training->optimizer_variables);
                    f.close();
                }
                // saving_lib's order: metadata, config, then the weights.
                ZipWriter zip(temporary);
                zip.add(metadata_member, dump_json(metadata));
                zip.add(config_member, dump_json(config));
                zip.add_file(weights_member, weights);
                zip.close();
            }
            catch (...)
            {
                std::error_code ec;
                fs::remove(weights, ec);
                throw;
            }
            std::error_code ec;
            fs::remove(weights, ec);
        });
    }

    template <class T>
    ModelPtr<T> load_model_keras(const std::string& path)
    {
        const ZipReader zip = open_archive(path);
        if (zip.contains(metadata_member))
        {
            const json metadata = parse_member(zip, metadata_member);
            if (!metadata.is_object())
                fail_archive(path, std::string("the member '") + metadata_member +
                                       "' is not a JSON object. Received " + metadata.dump().substr(0, 120));
        }
        const json config = parse_member(zip, config_member);
        if (!config.is_object() || !config.contains("class_name") || !config.contains("config"))
            fail_archive(path, std::string("the member '") + config_member +
                                   "' is not a serialized model (an object with class_name and config). Received " +
                                   config.dump().substr(0, 120));
        ModelPtr<T> model = model_from_file_config<T>(config, member_label(path, config_member));
        if (!model->built())
            fail_archive(path, std::string("the model in '") + config_member +
                                   "' declares no input shape, so it cannot be built to receive its weights.");
        with_weights_file(zip, [&](const std::string& weights) {
            const h5::File f = h5::File::open_read(weights);
            keras3::read_model_variables(f, *model, false, member_label(path, weights_member));
            return 0;
        });
        return model;
    }

    template <class T>
    void load_weights_keras(BasicModel<T>& model, const std::string& path, bool skip_mismatch)
    {
        XK_CHECK(model.built(), value_error, "Unable to load weights from '", path, "': ", model.class_name(),
                 " model '", model.name(), "' has not created its weights yet. Build it first.");
        const ZipReader zip(path);
        with_weights_file(zip, [&](const std::string& weights) {
            const h5::File f = h5::File::open_read(weights);
            keras3::read_model_variables(f, model, skip_mismatch, member_label(path, weights_member));
            return 0;
        });
    }

    template <class T>
    SavedTraining<T> load_training_keras(const std::string& path)
    {
        const ZipReader zip = open_archive(path);
        SavedTraining<T> out;
        const json config = parse_member(zip, config_member);
        if (config.is_object() && config.contains("compile_config"))
            out.compile_config = config["compile_config"];
        out.optimizer_variables = with_weights_file(zip, [&](const std::string& weights) {
            const h5::File f = h5::File::open_read(weights);
            return keras3::read_optimizer_variables(f, member_label(path, weights_member));
        });
        return out;
    }

#define XK_INSTANTIATE_KERAS_ARCHIVE(T)                                                                           \
    template json keras3_model_config<T>(const BasicModel<T>&);                                                 \
    template void save_model_keras<T>(BasicModel<T>&, const std::string&, const SavedTraining<T>*);            \
    template ModelPtr<T> load_model_keras<T>(const std::string&);                                                \
    template void load_weights_keras<T>(BasicModel<T>&, const std::string&, bool);                              \
    template SavedTraining<T> load_training_keras<T>(const std::string&);

    XK_INSTANTIATE_KERAS_ARCHIVE(float)
    XK_INSTANTIATE_KERAS_ARCHIVE(double)
#undef XK_INSTANTIATE_KERAS_ARCHIVE
}
