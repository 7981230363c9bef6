#include "framework/io/keras3_store.hpp"

#include <algorithm>
#include <cctype>
#include <map>

namespace xk::keras3
{
    namespace
    {
        using h5::File;

        std::string join_path(const std::string& group, const std::string& name)
        {
            return group.empty() ? name : group + "/" + name;
        }

        [[noreturn]] void fail_weights(const std::string& label, const std::string& message)
        {
            throw io_error("Cannot load weights from '" + label + "': " + message);
        }

        std::string python_list(const std::vector<std::string>& items)
        {
            std::string out = "[";
            for (std::size_t i = 0; i < items.size(); ++i)
                out += (i ? ", '" : "'") + items[i] + "'";
            return out + "]";
        }

        template <class T>
        ModelLayer<T>* as_model(BasicLayer<T>* layer)
        {
            return dynamic_cast<ModelLayer<T>*>(layer);
        }

        /// The keys Keras gives a list of layers: snake_case class, then _1, _2, ... for repeats, in order.
        template <class T>
        std::vector<std::string> written_keys(const std::vector<BasicLayer<T>*>& layers)
        {
            std::vector<std::string> keys;
            std::map<std::string, int> used;
            for (auto* layer : layers)
            {
                std::string key = keras3_snake_case(layer->class_name());
                auto [it, fresh] = used.emplace(key, 0);
                keys.push_back(fresh ? key : key + "_" + std::to_string(++it->second));
            }
            return keys;
        }

        template <class T>
        void write_layers(File& f, const std::string& owner, BasicModel<T>& model)
        {
            const std::vector<BasicLayer<T>*> layers = model.layers();
            const std::vector<std::string> keys = written_keys(layers);
            f.create_group(join_path(owner, "layers"));
            for (std::size_t l = 0; l < layers.size(); ++l)
            {
                const std::string path = join_path(owner, "layers/" + keys[l]);
                const std::string vars = path + "/vars";
                f.create_group(vars);
                f.write_string_attribute(vars, "name", layers[l]->name());
                if (auto* nested = as_model(layers[l]))
                {
                    write_layers(f, path, nested->model());
                    continue;
                }
                const std::vector<Tensor<T>> values = layers[l]->saved_variables();
                for (std::size_t i = 0; i < values.size(); ++i)
                    f.write<float>(vars + "/" + std::to_string(i), tensor_cast<float>(values[i]));
            }
        }

        /// The stored keys of the layers under `owner`, each with its group: Keras 3's "layers" container,
        /// tf.keras 2.13-2.15's "_layer_checkpoint_dependencies", or Windows-written "layers\<key>" groups.
        std::vector<std::pair<std::string, std::string>> stored_keys(const File& f, const std::string& owner)
        {
            std::vector<std::pair<std::string, std::string>> out;
            for (const char* container : {"layers", "_layer_checkpoint_dependencies"})
            {
                const std::string group = join_path(owner, container);
                if (f.is_group(group))
                {
                    for (const auto& key : f.children(group))
                        out.emplace_back(key, join_path(group, key));
                    return out;
                }
            }
            if (!owner.empty() && !f.is_group(owner))
                return out;
            for (const auto& child : f.children(owner))
                for (const std::string prefix : {"layers\\", "_layer_checkpoint_dependencies\\"})
                    if (child.rfind(prefix, 0) == 0)
                        out.emplace_back(child.substr(prefix.size()), join_path(owner, child));
            return out;
        }

        /// `key`'s number among the keys of class `snake` ("conv2d" 0, "conv2d_3" 3), or -1 if another class's.
        long key_number(const std::string& key, const std::string& snake)
        {
            if (key == snake)
                return 0;
            if (key.size() <= snake.size() + 1 || key.compare(0, snake.size(), snake) != 0 || key[snake.size()] != '_')
                return -1;
            const std::string digits = key.substr(snake.size() + 1);
            if (digits.size() > 9 || !std::all_of(digits.begin(), digits.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
                return -1;
            return std::stol(digits);
        }

        template <class T>
        struct Assignment
        {
            Weight<T>* weight;
            Tensor<T> value;
        };

        template <class T>
        void read_layers(const File& f, const std::string& owner, BasicModel<T>& model, bool skip_mismatch,
                         const std::string& label, std::vector<Assignment<T>>& assignments)
        {
            const auto keys = stored_keys(f, owner);
            std::map<std::string, std::size_t> taken; // per class: how many of its keys the layers have used
            for (auto* layer : model.layers())
            {
                // The layers of one class take that class's keys in the order of their numbers.
                const std::string snake = keras3_snake_case(layer->class_name());
                std::vector<std::pair<long, std::string>> candidates;
                for (const auto& [key, group] : keys)
                    if (long n = key_number(key, snake); n >= 0)
                        candidates.emplace_back(n, group);
                std::sort(candidates.begin(), candidates.end());
                const std::size_t index = taken[snake]++;
                // A missing group reads as an empty store, as in Keras 3: fine for a layer without weights.
                const std::string path = index < candidates.size() ? candidates[index].second : std::string();
                if (auto* nested = as_model(layer))
                {
                    if (!path.empty())
                        read_layers(f, path, nested->model(), skip_mismatch, label, assignments);
                    else if (!nested->weights().empty() && !skip_mismatch)
                        fail_weights(label, "the nested model '" + layer->name() + "' (" + layer->class_name() +
                                                ") has no group in the file (expected one for the key '" + snake +
                                                (index ? "_" + std::to_string(index) : std::string()) + "').");
                    continue;
                }
                const std::string vars = path.empty() ? std::string() : path + "/vars";
                const std::vector<std::string> stored =
                    !vars.empty() && f.is_group(vars) ? f.children(vars) : std::vector<std::string>{};
                const std::vector<Weight<T>*> weights = layer->loaded_variables();
                if (stored.size() != weights.size())
                {
                    if (skip_mismatch)
                        continue;
                    std::vector<std::string> expected;
                    for (const auto* w : weights)
                        expected.push_back(w->name);
                    fail_weights(label, "Layer '" + layer->name() + "' expected " + std::to_string(weights.size()) +
                                            " variables, but received " + std::to_string(stored.size()) +
                                            " variables during loading. Expected: " + python_list(expected) +
                                            (vars.empty() ? " (no group for it in the file)"
                                                          : " (group /" + vars + ")"));
                }
                std::vector<Assignment<T>> pending;
                bool skipped = false;
                for (std::size_t i = 0; i < weights.size() && !skipped; ++i)
                {
                    const std::string dataset = vars + "/" + std::to_string(i);
                    if (!f.is_dataset(dataset))
                        fail_weights(label, "Layer '" + layer->name() + "' has " + std::to_string(stored.size()) +
                                                " entries in /" + vars + " but no dataset /" + dataset + ".");
                    const Shape found = f.dataset_shape(dataset);
                    const Shape expected = weights[i]->variable.shape();
                    if (found != expected)
                    {
                        skipped = skip_mismatch;
                        if (!skipped)
                            fail_weights(label, "Shape mismatch in layer '" + layer->name() + "' for weight '" +
                                                    weights[i]->name + "'. Weight expects shape " +
                                                    shape_str(expected) + ". Received saved weight with shape " +
                                                    shape_str(found) + " (dataset /" + dataset + ")");
                        continue;
                    }
                    pending.push_back({weights[i], f.read<T>(dataset)});
                }
                if (skipped)
                    continue;
                // What the file does not store for the layer (LoRA's factors) is zeroed, as Keras's load does.
                for (Weight<T>* w : layer->weights())
                    if (std::find(weights.begin(), weights.end(), w) == weights.end())
                        pending.push_back({w, Tensor<T>(w->variable.value().shape(), T(0))});
                std::move(pending.begin(), pending.end(), std::back_inserter(assignments));
            }
        }
    }

    template <class T>
    void write_model_variables(File& f, BasicModel<T>& model)
    {
        // The model's own variables (none); Keras >= 3.6 names each vars group's owner.
        f.create_group("vars");
        f.write_string_attribute("vars", "name", model.name());
        write_layers(f, "", model);
    }

    template <class T>
    void read_model_variables(const File& f, BasicModel<T>& model, bool skip_mismatch, const std::string& label)
    {
        std::vector<Assignment<T>> assignments;
        read_layers(f, "", model, skip_mismatch, label, assignments);
        for (auto& a : assignments)
            a.weight->variable.value() = std::move(a.value);
    }

    void write_optimizer_variables(File& f, const std::vector<Tensor<float>>& variables)
    {
        f.create_group("optimizer/vars");
        for (std::size_t i = 0; i < variables.size(); ++i)
        {
            const std::string dataset = "optimizer/vars/" + std::to_string(i);
            // Keras 3's first optimizer variable is `iterations`, an int64 that Keras assigns back as one.
            if (i == 0)
                f.write<std::int64_t>(dataset, tensor_cast<std::int64_t>(variables[i]));
            else
                f.write<float>(dataset, variables[i]);
        }
    }

    std::vector<Tensor<float>> read_optimizer_variables(const File& f, const std::string& label)
    {
        std::vector<Tensor<float>> out;
        if (!f.is_group("optimizer/vars"))
            return out;
        const std::size_t count = f.children("optimizer/vars").size();
        for (std::size_t i = 0; i < count; ++i)
        {
            const std::string dataset = "optimizer/vars/" + std::to_string(i);
            if (!f.is_dataset(dataset))
                throw io_error("Cannot load the optimizer state in '" + label + "': /optimizer/vars holds " +
                               std::to_string(count) + " entries but no dataset /" + dataset + ".");
            out.push_back(f.read<float>(dataset));
        }
        return out;
    }

#define XK_INSTANTIATE_KERAS3_STORE(T)                                                                            \
    template void write_model_variables<T>(File&, BasicModel<T>&);                                              \
    template void read_model_variables<T>(const File&, BasicModel<T>&, bool, const std::string&);

    XK_INSTANTIATE_KERAS3_STORE(float)
    XK_INSTANTIATE_KERAS3_STORE(double)
#undef XK_INSTANTIATE_KERAS3_STORE
}
