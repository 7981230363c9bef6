#pragma once
// Keras configs are JSON objects (get_config / from_config). These helpers read their arguments with
// Keras's normalisation rules and Keras's error messages.
#include "framework/engine/error.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>
#include <type_traits>
#include <vector>

namespace xk
{
    using json = nlohmann::json;

    /// config[key] when present and not null, otherwise `fallback`.
    template <class V>
    V config_value(const json& config, const std::string& key, const V& fallback)
    {
        auto it = config.find(key);
        if (it == config.end() || it->is_null())
            return fallback;
        // A Python int where a flag is expected (scale=1) is truthy in Keras, and configs keep it as written.
        if constexpr (std::is_same_v<V, bool>)
            if (it->is_number_integer())
                return it->template get<long>() != 0;
        try
        {
            return it->template get<V>();
        }
        catch (const json::exception&)
        {
            throw value_error("Invalid value for argument `" + key + "`. Received " + key + "=" + it->dump() + ".");
        }
    }

    /// Keras's standardize_tuple: an int or a list of `n` ints. `allow_zero` as in Keras (strides and sizes
    /// must be positive; padding and cropping may be zero).
    std::vector<long> int_tuple(const json& value, std::size_t n, const std::string& arg, bool allow_zero = false);

    /// "valid" / "same" / "causal" (lower-cased, as Keras standardizes it), checked against what the layer allows.
    std::string padding_mode(const json& value, bool allow_causal);

    /// "channels_last" or "channels_first"; null means the configured image_data_format().
    std::string data_format_value(const json& value);

    /// Keras's backend image_data_format: set_image_data_format() if called, else "image_data_format" in
    /// $KERAS_HOME/keras.json (default ~/.keras/keras.json), else "channels_last".
    std::string image_data_format();
    void set_image_data_format(const std::string& format);
    /// Forgets a set_image_data_format() and re-reads keras.json at the next image_data_format().
    void reset_image_data_format();

    /// The keys of `config` that are not in `known`, for "unrecognized keyword argument" errors.
    std::vector<std::string> unknown_keys(const json& config, const std::vector<std::string>& known);
}
