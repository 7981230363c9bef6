#include "framework/io/keras_h5.hpp"
#include "layers/registry.hpp"
#include "framework/io/hdf5_file.hpp"
#include "framework/io/keras3_store.hpp"
#include "framework/io/keras_archive.hpp"

#include <algorithm>
#include <cctype>
#include <iterator>
#include <map>

namespace xk
{
    namespace
    {
        using h5::File;

        const char* const written_backend = "tensorflow";

        std::string join_path(const std::string& group, const std::string& name)
        {
            return group.empty() ? name : group + "/" + name;
        }

        /// "/model_weights/conv2d" as h5py prints object paths ("/" for the root).
        std::string object_name(const std::string& path)
        {
            return "/" + path;
        }

        [[noreturn]] void fail_weights(const std::string& path, const std::string& message)
        {
            throw io_error("Cannot load weights from '" + path + "': " + message);
        }

        [[noreturn]] void fail_model(const std::string& path, const std::string& message)
        {
            throw io_error("Cannot load the model in '" + path + "': " + message);
        }

        /// Keras's model.layers (a Sequential's without its InputLayer, a functional model's with them).
        template <class T>
        std::vector<BasicLayer<T>*> model_layers(BasicModel<T>& model)
        {
            return model.layers();
        }

        /// Weights only exist once the layers are built; Keras refuses in the same situation.
        template <class T>
        void require_built(BasicModel<T>& model, const std::string& action, const std::string& path)
        {
            XK_CHECK(model.built(), value_error, "Unable to ", action, " '", path, "': ", model.class_name(), " model '",
                     model.name(),
                     "' has not created its weights yet. Build it first (declare its input shape with set_input or "
                     "batch_input_shape, or call build(input_shape)), then ", action, " the file.");
        }

        bool has_list_attribute(const File& f, const std::string& object, const std::string& name)
        {
            return f.has_attribute(object, name) || f.has_attribute(object, name + "0");
        }

        /// Keras's load_attributes_from_hdf5_group, which gives [] when the attribute is absent.
        std::vector<std::string> read_list_or_empty(const File& f, const std::string& object, const std::string& name)
        {
            return has_list_attribute(f, object, name) ? f.read_string_list_attribute(object, name)
                                                       : std::vector<std::string>{};
        }

        /// A scalar text attribute. Fixed-length strings read back as bytes in every h5py, which Keras <= 2.3
        /// needs (it calls .decode on them); past the object-header limit only the variable-length form fits.
        void write_text_attribute(File& f, const std::string& object, const std::string& name, const std::string& text)
        {
            const bool fits = !text.empty() && text.size() <= h5::object_header_limit;
            f.write_string_attribute(object, name, text,
                                     fits ? h5::StringStorage::fixed_ascii : h5::StringStorage::variable_utf8);
        }

        /// Python's json.dumps escapes non-ASCII characters, so the attribute stays plain ASCII.
        std::string dump_json(const json& value)
        {
            return value.dump(-1, ' ', true);
        }

        json parse_json_attribute(const File& f, const std::string& name)
        {
            const std::string text = f.read_string_attribute("", name);
            try
            {
                return json::parse(text);
            }
            catch (const json::exception& e)
            {
                fail_model(f.path(), "the " + name + " attribute is not valid JSON (" + e.what() +
                                         "); it starts with: " + text.substr(0, 120));
            }
        }

        // ---- the tf.keras 2.x layer_names layout

        template <class T>
        void write_weights_group(File& f, const std::string& root, BasicModel<T>& model)
        {
            std::vector<BasicLayer<T>*> layers = model_layers(model);
            std::vector<std::string> layer_names;
            for (auto* layer : layers)
                layer_names.push_back(layer->name());
            f.write_string_list_attribute(root, "layer_names", layer_names);
            write_text_attribute(f, root, "backend", written_backend);
            write_text_attribute(f, root, "keras_version", written_keras_version);

            // Keras creates the groups in name order; the order that counts is the layer_names attribute.
            std::sort(layers.begin(), layers.end(), [](auto* a, auto* b) { return a->name() < b->name(); });
            for (auto* layer : layers)
            {
                const std::string group = join_path(root, layer->name());
                f.create_group(group);
                const std::vector<Weight<T>*> weights = layer->weights();
                std::vector<std::string> weight_names;
                for (const auto* w : weights)
                    weight_names.push_back(layer->weight_path(*w));
                f.write_string_list_attribute(group, "weight_names", weight_names);
                // The weight name is the dataset path, so "conv2d/kernel:0" lands at <group>/conv2d/kernel:0.
                for (std::size_t i = 0; i < weights.size(); ++i)
                    f.write<float>(join_path(group, weight_names[i]), tensor_cast<float>(weights[i]->variable.value()));
            }
            // tf.keras >= 2.7 also stores the model's own weights here; a Sequential owns none.
            const std::string top_level = join_path(root, "top_level_model_weights");
            f.create_group(top_level);
            f.write_string_list_attribute(top_level, "weight_names", {});
        }

        /// One entry of layer_names with the weight names its group lists.
        struct SavedLayer
        {
            std::string name;
            std::string group;
            std::vector<std::string> weight_names;
        };

        template <class T>
        struct Assignment
        {
            Weight<T>* weight;
            Tensor<T> value;
        };

        /// Where save_weights' layout sits: the root, or /model_weights of a model.save file (Keras switches
        /// when the root has no layer_names).
        std::string locate_weights(const File& f)
        {
            if (has_list_attribute(f, "", "layer_names"))
                return "";
            if (f.is_group("model_weights"))
                return "model_weights";
            if (f.is_group("layers") && f.is_group("vars"))
                fail_weights(f.path(), "this is a Keras 3 weights file (layers/<key>/vars/<i>), not tf.keras's "
                                       "layer_names layout; Keras 3 reads it when the name ends in '.weights.h5' "
                                       "(or use load_weights_keras3).");
            fail_weights(f.path(), "the root has no 'layer_names' attribute and there is no 'model_weights' group: "
                                   "not a file written by save_weights or model.save.");
        }

        std::vector<SavedLayer> read_saved_layers(const File& f, const std::string& root)
        {
            std::vector<SavedLayer> out;
            for (const auto& name : f.read_string_list_attribute(root, "layer_names"))
            {
                const std::string group = join_path(root, name);
                if (!f.is_group(group))
                    fail_weights(f.path(), "layer '" + name + "' is listed in the layer_names of " +
                                               object_name(root) + " but its group " + object_name(group) +
                                               " is missing.");
                // Names come from the attribute only: they differ by version and backend (":0" or not).
                out.push_back({name, group, read_list_or_empty(f, group, "weight_names")});
            }
            return out;
        }

        std::string dataset_of(const File& f, const SavedLayer& saved, std::size_t i)
        {
            const std::string dataset = join_path(saved.group, saved.weight_names[i]);
            if (!f.is_dataset(dataset))
                fail_weights(f.path(), "layer '" + saved.name + "' lists the weight '" + saved.weight_names[i] +
                                           "' in its weight_names, but the dataset " + object_name(dataset) +
                                           " is missing.");
            return dataset;
        }

        /// Pairs one saved layer with a model layer, checking counts and shapes with Keras's messages. Returns
        /// false when the layer is skipped (skip_mismatch); nothing is queued for a skipped layer.
        template <class T>
        bool match_layer(const File& f, const SavedLayer& saved, BasicLayer<T>& layer, std::size_t k, bool by_name,
                         bool skip_mismatch, std::vector<Assignment<T>>& out)
        {
            const std::vector<Weight<T>*> weights = layer.weights();
            if (saved.weight_names.size() != weights.size())
            {
                if (skip_mismatch)
                    return false;
                const std::string named = by_name ? "(named " + layer.name() + ")"
                                                  : "(named " + layer.name() + " in the current model, " + saved.name +
                                                        " in the save file)";
                fail_weights(f.path(), "Weight count mismatch for layer #" + std::to_string(k) + " " + named +
                                           ". Layer expects " + std::to_string(weights.size()) +
                                           " weight(s). Received " + std::to_string(saved.weight_names.size()) +
                                           " saved weight(s)");
            }
            std::vector<Assignment<T>> pending;
            for (std::size_t i = 0; i < weights.size(); ++i)
            {
                const std::string dataset = dataset_of(f, saved, i);
                const Shape found = f.dataset_shape(dataset);
                const Shape expected = weights[i]->variable.shape();
                if (found != expected)
                {
                    if (skip_mismatch)
                        return false;
                    fail_weights(f.path(), "Shape mismatch in layer #" + std::to_string(k) + " (named " +
                                               layer.name() + ") for weight " + layer.weight_path(*weights[i]) +
                                               ". Weight expects shape " + shape_str(expected) +
                                               ". Received saved weight with shape " + shape_str(found) +
                                               " (dataset " + object_name(dataset) + ")");
                }
                pending.push_back({weights[i], f.read<T>(dataset)});
            }
            std::move(pending.begin(), pending.end(), std::back_inserter(out));
            return true;
        }

        /// A Sequential has no weights of its own, so a top_level_model_weights group must list none.
        void check_top_level(const File& f, const std::string& root, bool skip_mismatch)
        {
            const std::string group = join_path(root, "top_level_model_weights");
            if (!f.is_group(group))
                return;
            const std::size_t n = read_list_or_empty(f, group, "weight_names").size();
            if (n != 0 && !skip_mismatch)
                fail_weights(f.path(), "Weight count mismatch for top-level weights when loading weights from file. "
                                       "Model expects 0 top-level weight(s). Received " +
                                           std::to_string(n) + " saved top-level weight(s)");
        }

        /// Every check has passed: the model changes only now, so a failed load leaves it as it was.
        template <class T>
        void assign_all(std::vector<Assignment<T>>& assignments)
        {
            for (auto& a : assignments)
                a.weight->variable.value() = std::move(a.value);
        }

        template <class T>
        void load_by_order(const File& f, const std::string& root, BasicModel<T>& model, bool skip_mismatch)
        {
            std::vector<BasicLayer<T>*> layers;
            for (auto* layer : model_layers(model))
                if (!layer->weights().empty())
                    layers.push_back(layer);
            std::vector<SavedLayer> saved;
            for (auto& s : read_saved_layers(f, root))
                if (!s.weight_names.empty())
                    saved.push_back(std::move(s));
            if (saved.size() != layers.size())
                fail_weights(f.path(), "You are trying to load a weight file containing " +
                                           std::to_string(saved.size()) + " layers into a model with " +
                                           std::to_string(layers.size()) + " layers.");
            std::vector<Assignment<T>> assignments;
            for (std::size_t k = 0; k < saved.size(); ++k)
                match_layer(f, saved[k], *layers[k], k, false, skip_mismatch, assignments);
            check_top_level(f, root, skip_mismatch);
            assign_all(assignments);
        }

        template <class T>
        void load_by_name(const File& f, const std::string& root, BasicModel<T>& model, bool skip_mismatch)
        {
            std::map<std::string, BasicLayer<T>*> index;
            for (auto* layer : model_layers(model))
                index.emplace(layer->name(), layer);
            const std::vector<SavedLayer> saved = read_saved_layers(f, root);
            std::vector<Assignment<T>> assignments;
            for (std::size_t k = 0; k < saved.size(); ++k)
            {
                auto it = index.find(saved[k].name);
                if (it != index.end())
                    match_layer(f, saved[k], *it->second, k, true, skip_mismatch, assignments);
            }
            check_top_level(f, root, skip_mismatch);
            assign_all(assignments);
        }

        template <class T>
        void load_legacy_weights(BasicModel<T>& model, const std::string& path, bool by_name, bool skip_mismatch)
        {
            require_built(model, "load weights from", path);
            const File f = File::open_read(path);
            const std::string root = locate_weights(f);
            if (by_name)
                load_by_name(f, root, model, skip_mismatch);
            else
                load_by_order(f, root, model, skip_mismatch);
        }

        // ---- model_config

        std::string string_field(const json& object, const char* key)
        {
            if (object.is_object() && object.contains(key) && object[key].is_string())
                return object[key].get<std::string>();
            return {};
        }

        /// The layer entries of a model_config: Sequential {"layers": [...]}, Keras 2.0-2.1's bare list, or a
        /// functional model's "layers"; nullptr when there is no such list.
        const json* config_layers(const json& model_config)
        {
            if (!model_config.is_object() || !model_config.contains("config"))
                return nullptr;
            const json& config = model_config["config"];
            const json* layers = config.is_array() ? &config
                                 : config.is_object() && config.contains("layers") ? &config["layers"]
                                                                                   : nullptr;
            return layers && layers->is_array() ? layers : nullptr;
        }

        /// Names the first layer class the registry lacks before anything is built, so the message says which
        /// class is missing (model_from_config would stop earlier on a branch, e.g. nnom's densenet).
        template <class T>
        void check_layer_classes(const json& model_config, const std::string& path)
        {
            const json* layers = config_layers(model_config);
            if (!layers)
                return;
            const auto& registry = layer_registry<T>();
            for (const auto& entry : *layers)
            {
                const std::string cls = string_field(entry, "class_name");
                if (is_model_class(cls))
                {
                    check_layer_classes<T>(entry, path); // a nested model: its own layers
                    continue;
                }
                if (cls.empty() || registry.contains(cls))
                    continue;
                std::string name = string_field(entry, "name");
                if (name.empty() && entry.contains("config"))
                    name = string_field(entry["config"], "name");
                std::string known;
                for (const auto& k : registry.names())
                    known += (known.empty() ? "" : ", ") + k;
                throw value_error("Cannot load the model in '" + path + "': Unknown layer: '" + cls +
                                  "' (the layer named '" + name + "'). Known layers: " + known + ".");
            }
        }

        /// After model_from_config failed: the layer whose config alone is rejected (an unknown initializer or
        /// activation, whose message does not say where it sits), as "layer 'conv2d' (Conv2D): ", else "".
        template <class T>
        std::string rejected_layer(const json& model_config, const std::string& message)
        {
            const json* layers = config_layers(model_config);
            if (!layers)
                return {};
            for (const auto& entry : *layers)
            {
                // Only named layers: an unnamed one would take a generated name and shift later ones. InputLayer
                // entries only declare the input; model_from_config never constructs them.
                const std::string name = entry.contains("config") ? string_field(entry["config"], "name") : "";
                if (name.empty() || string_field(entry, "class_name") == "InputLayer")
                    continue;
                try
                {
                    layer_or_model_from_config<T>(entry);
                }
                catch (const std::exception&)
                {
                    if (message.find("'" + name + "'") != std::string::npos)
                        return {};
                    return "layer '" + name + "' (" + string_field(entry, "class_name") + "): ";
                }
            }
            return {};
        }

        /// model_from_config with the file (and the layer, when the message lacks it) named in every message;
        /// the exception keeps its type.
        template <class T>
        ModelPtr<T> model_from_config_naming_file(const json& model_config, const std::string& path)
        {
            const std::string prefix = "Cannot load the model in '" + path + "': ";
            try
            {
                return model_from_config<T>(model_config);
            }
            catch (const shape_error& e)
            {
                throw shape_error(prefix + rejected_layer<T>(model_config, e.what()) + e.what());
            }
            catch (const value_error& e)
            {
                throw value_error(prefix + rejected_layer<T>(model_config, e.what()) + e.what());
            }
            catch (const io_error& e)
            {
                throw io_error(prefix + e.what());
            }
            catch (const json::exception& e)
            {
                throw io_error(prefix + "malformed model_config: " + e.what());
            }
            catch (const std::exception& e)
            {
                throw io_error(prefix + e.what());
            }
        }

    }

    template <class T>
    ModelPtr<T> model_from_file_config(const json& model_config, const std::string& path)
    {
        check_layer_classes<T>(model_config, path);
        return model_from_config_naming_file<T>(model_config, path);
    }

    bool is_keras3_weights_path(const std::string& path)
    {
        const std::string suffix = ".weights.h5";
        return path.size() >= suffix.size() && path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
    }

    template <class T>
    void save_weights(BasicModel<T>& model, const std::string& path)
    {
        if (is_keras3_weights_path(path))
        {
            save_weights_keras3(model, path);
            return;
        }
        require_built(model, "save weights to", path);
        h5::write_atomically(path, [&](File& f) { write_weights_group(f, "", model); });
    }

    template <class T>
    void load_weights(BasicModel<T>& model, const std::string& path, bool by_name, bool skip_mismatch)
    {
        if (is_keras_archive_path(path))
        {
            XK_CHECK(!by_name, value_error,
                     "`by_name` only supports loading legacy '.h5' or '.hdf5' files. Received: filepath=", path);
            load_weights_keras(model, path, skip_mismatch);
            return;
        }
        if (is_keras3_weights_path(path))
        {
            XK_CHECK(!by_name, value_error,
                     "`by_name` only supports loading legacy '.h5' or '.hdf5' files. Received: filepath=", path);
            load_weights_keras3(model, path, skip_mismatch);
            return;
        }
        load_legacy_weights(model, path, by_name, skip_mismatch);
    }

    template <class T>
    void save_model(BasicModel<T>& model, const std::string& path, const SavedOptimizer<T>* optimizer)
    {
        if (is_keras_archive_path(path))
        {
            XK_CHECK(!optimizer || optimizer->training_config.is_null(), value_error, "Cannot save '", path,
                     "': a .keras archive stores Keras 3's compile_config and optimizer variables, not tf.keras's "
                     "training_config; save a compiled model with xk::Model::save.");
            save_model_keras(model, path);
            return;
        }
        require_built(model, "save the model to", path);
        const std::string model_config =
            dump_json(serialize_model(model));
        const bool has_training_config = optimizer && !optimizer->training_config.is_null();
        const std::string training_config = has_training_config ? dump_json(optimizer->training_config) : "";
        h5::write_atomically(path, [&](File& f) {
            write_text_attribute(f, "", "keras_version", written_keras_version);
            write_text_attribute(f, "", "backend", written_backend);
            write_text_attribute(f, "", "model_config", model_config);
            if (has_training_config)
                write_text_attribute(f, "", "training_config", training_config);
            f.create_group("model_weights");
            write_weights_group(f, "model_weights", model);
            if (optimizer && !optimizer->weights.empty())
            {
                f.create_group("optimizer_weights");
                std::vector<std::string> names;
                for (const auto& [name, value] : optimizer->weights)
                    names.push_back(name);
                f.write_string_list_attribute("optimizer_weights", "weight_names", names);
                for (const auto& [name, value] : optimizer->weights)
                    f.write<float>(join_path("optimizer_weights", name), tensor_cast<float>(value));
            }
        });
    }

    template <class T>
    ModelPtr<T> load_model(const std::string& path)
    {
        if (is_keras_archive_path(path))
            return load_model_keras<T>(path);
        const File f = File::open_read(path);
        if (!f.has_attribute("", "model_config"))
            throw io_error("No model config found in the file at " + path + ".");
        const json model_config = parse_json_attribute(f, "model_config");
        if (model_config.is_null())
            throw io_error("No model config found in the file at " + path + ".");
        ModelPtr<T> model = model_from_file_config<T>(model_config, path);
        if (!model->built())
            fail_model(path, "its model_config declares no input shape (no InputLayer and no batch_input_shape on "
                             "the first layer), so the model cannot be built to receive its weights.");
        if (!f.is_group("model_weights"))
            fail_model(path, "the file has no 'model_weights' group.");
        load_by_order(f, "model_weights", *model, false);
        return model;
    }

    template <class T>
    SavedOptimizer<T> load_optimizer_state(const std::string& path)
    {
        const File f = File::open_read(path);
        SavedOptimizer<T> out;
        if (f.has_attribute("", "training_config"))
            out.training_config = parse_json_attribute(f, "training_config");
        if (!f.is_group("optimizer_weights"))
            return out;
        for (const auto& name : read_list_or_empty(f, "optimizer_weights", "weight_names"))
        {
            const std::string dataset = join_path("optimizer_weights", name);
            if (!f.is_dataset(dataset))
                throw io_error("Cannot load the optimizer state in '" + path + "': the weight '" + name +
                               "' is listed in the weight_names of /optimizer_weights, but the dataset " +
                               object_name(dataset) + " is missing.");
            out.weights.emplace_back(name, f.read<T>(dataset));
        }
        return out;
    }

    template <class T>
    void save_weights_keras3(BasicModel<T>& model, const std::string& path)
    {
        require_built(model, "save weights to", path);
        h5::write_atomically(path, [&](File& f) { keras3::write_model_variables(f, model); });
    }

    template <class T>
    void load_weights_keras3(BasicModel<T>& model, const std::string& path, bool skip_mismatch)
    {
        require_built(model, "load weights from", path);
        const File f = File::open_read(path);
        if (!f.is_group("layers") && (has_list_attribute(f, "", "layer_names") || f.is_group("model_weights")))
            fail_weights(path, "this file has tf.keras's layer_names layout, not Keras 3's .weights.h5 store; read "
                               "it with load_weights under a name that does not end in '.weights.h5'.");
        keras3::read_model_variables(f, model, skip_mismatch, path);
    }

#define XK_INSTANTIATE_KERAS_H5(T)                                                                                 \
    template void save_weights<T>(BasicModel<T>&, const std::string&);                                        \
    template void load_weights<T>(BasicModel<T>&, const std::string&, bool, bool);                            \
    template void save_model<T>(BasicModel<T>&, const std::string&, const SavedOptimizer<T>*);                \
    template ModelPtr<T> load_model<T>(const std::string&);                                                 \
    template SavedOptimizer<T> load_optimizer_state<T>(const std::string&);                                        \
    template ModelPtr<T> model_from_file_config<T>(const json&, const std::string&);                                        \
    template void save_weights_keras3<T>(BasicModel<T>&, const std::string&);                                 \
    template void load_weights_keras3<T>(BasicModel<T>&, const std::string&, bool);

    XK_INSTANTIATE_KERAS_H5(float)
    XK_INSTANTIATE_KERAS_H5(double)
#undef XK_INSTANTIATE_KERAS_H5
}
