#include "framework/keras/config.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>

namespace xk
{
    std::vector<long> int_tuple(const json& value, std::size_t n, const std::string& arg, bool allow_zero)
    {
        std::vector<long> out;
        auto fail = [&]() {
            return value_error("The `" + arg + "` argument must be a tuple of " + std::to_string(n) +
                               " integers. Received " + arg + "=" + value.dump() + ".");
        };
        if (value.is_number_integer())
            out.assign(n, value.get<long>());
        else if (value.is_array())
        {
            if (value.size() != n)
                throw fail();
            for (const auto& v : value)
            {
                if (!v.is_number_integer())
                    throw fail();
                out.push_back(v.get<long>());
            }
        }
        else
            throw fail();
        for (long v : out)
        {
            bool ok = allow_zero ? v >= 0 : v > 0;
            if (!ok)
                throw value_error("The `" + arg + "` argument must be a tuple of " + std::to_string(n) + " " +
                                  (allow_zero ? "non-negative" : "strictly positive") + " integers. Received " +
                                  arg + "=" + value.dump() + ".");
        }
        return out;
    }

    std::string padding_mode(const json& value, bool allow_causal)
    {
        XK_CHECK(value.is_string(), value_error,
                 "The `padding` argument must be a string. Received padding=", value.dump(), ".");
        std::string mode = value.get<std::string>();
        std::transform(mode.begin(), mode.end(), mode.begin(), [](unsigned char c) { return std::tolower(c); });
        bool ok = mode == "valid" || mode == "same" || (allow_causal && mode == "causal");
        XK_CHECK(ok, value_error, "The `padding` argument must be one of \"valid\", \"same\"",
                 (allow_causal ? ", \"causal\"" : ""), ". Received padding=", value.dump(),
                 (mode == "causal" ? " (causal padding is only for 1D convolutions)." : "."));
        return mode;
    }

    namespace
    {
        std::mutex format_mutex;
        std::optional<std::string> configured_format;

        std::string read_keras_json_format()
        {
            namespace fs = std::filesystem;
            fs::path dir;
            if (const char* home = std::getenv("KERAS_HOME"); home && *home)
                dir = home;
            else if (const char* user = std::getenv("HOME"); user && *user)
                dir = fs::path(user) / ".keras";
            else
                return "channels_last";
            std::ifstream in(dir / "keras.json");
            if (!in)
                return "channels_last";
            json doc = json::parse(in, nullptr, /*allow_exceptions=*/false);
            // Keras ignores a malformed keras.json and keeps its defaults; so do we.
            if (!doc.is_object() || !doc.contains("image_data_format") || !doc["image_data_format"].is_string())
                return "channels_last";
            std::string format = doc["image_data_format"];
            return (format == "channels_first") ? format : "channels_last";
        }
    }

    std::string image_data_format()
    {
        std::lock_guard lock(format_mutex);
        if (!configured_format)
            configured_format = read_keras_json_format();
        return *configured_format;
    }

    void set_image_data_format(const std::string& format)
    {
        XK_CHECK(format == "channels_last" || format == "channels_first", value_error,
                 "The `data_format` argument must be one of \"channels_first\", \"channels_last\". Received: ",
                 format, ".");
        std::lock_guard lock(format_mutex);
        configured_format = format;
    }

    void reset_image_data_format()
    {
        std::lock_guard lock(format_mutex);
        configured_format.reset();
    }

    std::string data_format_value(const json& value)
    {
        if (value.is_null())
            return image_data_format();
        XK_CHECK(value.is_string(), value_error,
                 "The `data_format` argument must be one of \"channels_first\", \"channels_last\". Received data_format=",
                 value.dump(), ".");
        std::string format = value.get<std::string>();
        std::transform(format.begin(), format.end(), format.begin(),
                       [](unsigned char c) { return std::tolower(c); });
        XK_CHECK(format == "channels_last" || format == "channels_first", value_error,
                 "The `data_format` argument must be one of \"channels_first\", \"channels_last\". Received data_format=",
                 value.dump(), ".");
        return format;
    }

    std::vector<std::string> unknown_keys(const json& config, const std::vector<std::string>& known)
    {
        std::vector<std::string> out;
        for (auto it = config.begin(); it != config.end(); ++it)
            if (std::find(known.begin(), known.end(), it.key()) == known.end())
                out.push_back(it.key());
        return out;
    }
}
