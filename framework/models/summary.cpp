#include "framework/models/summary.hpp"

#include <fmt/core.h>

#include <algorithm>

namespace xk
{
    std::string with_commas(std::size_t n)
    {
        std::string digits = std::to_string(n), out;
        for (std::size_t i = 0; i < digits.size(); ++i)
        {
            if (i && (digits.size() - i) % 3 == 0)
                out += ',';
            out += digits[i];
        }
        return out;
    }

    std::string format_summary(const std::string& model_name, const std::vector<SummaryRow>& rows, std::size_t total,
                               std::size_t trainable, bool connected_column)
    {
        // Keras's column widths (tf.keras 2.x: 65 characters for a Sequential, 98 with "Connected to").
        std::size_t name_width = connected_column ? 31 : 28, shape_width = connected_column ? 21 : 26;
        std::size_t params_width = connected_column ? 12 : 11, connected_width = 0;
        for (const auto& r : rows)
        {
            name_width = std::max(name_width, r.layer.size() + 2);
            shape_width = std::max(shape_width, r.shape.size() + 2);
            params_width = std::max(params_width, r.params.size() + 2);
            for (const auto& c : r.connected)
                connected_width = std::max(connected_width, c.size() + 4);
        }
        const std::size_t width =
            name_width + shape_width + params_width + (connected_column ? std::max<std::size_t>(33, connected_width) : 0);
        const std::string rule(width, '_'), thick(width, '=');
        std::string out = fmt::format("Model: \"{}\"\n{}\n {:<{}}{:<{}}", model_name, rule, "Layer (type)", name_width,
                                      "Output Shape", shape_width);
        out += connected_column ? fmt::format("{:<{}}Connected to\n", "Param #", params_width) : "Param #\n";
        out += thick + "\n";
        for (std::size_t i = 0; i < rows.size(); ++i)
        {
            const SummaryRow& r = rows[i];
            if (!connected_column)
                out += fmt::format(" {:<{}}{:<{}}{}\n", r.layer, name_width, r.shape, shape_width, r.params);
            else
            {
                // Keras prints the connections as a Python list, breaking the line after each one.
                std::vector<std::string> cells;
                for (std::size_t c = 0; c < r.connected.size(); ++c)
                    cells.push_back(std::string(c == 0 ? "['" : " '") + r.connected[c] +
                                    (c + 1 == r.connected.size() ? "']" : "',"));
                if (cells.empty())
                    cells.push_back("[]");
                out += fmt::format(" {:<{}}{:<{}}{:<{}}{}\n", r.layer, name_width, r.shape, shape_width, r.params,
                                   params_width, cells[0]);
                for (std::size_t c = 1; c < cells.size(); ++c)
                    out += fmt::format(" {:<{}}{}\n", "", name_width + shape_width + params_width, cells[c]);
            }
            out += i + 1 < rows.size() ? "\n" : "";
        }
        out += fmt::format("{}\nTotal params: {}\nTrainable params: {}\nNon-trainable params: {}\n{}\n", thick,
                           with_commas(total), with_commas(trainable), with_commas(total - trainable), rule);
        return out;
    }
}
