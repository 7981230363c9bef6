#include "framework/training/progbar.hpp"

#include <fmt/core.h>

#include <cmath>

namespace xk
{
    const double* find_log(const Logs& logs, const std::string& key)
    {
        for (const auto& [name, value] : logs)
            if (name == key)
                return &value;
        return nullptr;
    }

    Progbar::Progbar(std::size_t target, int verbose, std::FILE* out)
        : m_target(target), m_verbose(verbose), m_out(out), m_start(std::chrono::steady_clock::now()),
          m_last_draw(m_start)
    {
    }

    std::string Progbar::bar(std::size_t current, std::size_t target, std::size_t width)
    {
        const int digits = int(std::log10(double(std::max<std::size_t>(target, 1)))) + 1;
        std::string out = fmt::format("{:>{}}/{} [", current, digits, target);
        const std::size_t filled = target ? std::size_t(double(width) * double(current) / double(target)) : width;
        if (filled > 0)
            out += std::string(filled - 1, '=') + (current < target ? '>' : '=');
        out += std::string(width - std::min(filled, width), '.') + "]";
        return out;
    }

    std::string Progbar::format_values(const Logs& values)
    {
        std::string out;
        for (const auto& [name, value] : values)
            out += std::abs(value) > 1e-3 ? fmt::format(" - {}: {:.4f}", name, value)
                                          : fmt::format(" - {}: {:.4e}", name, value);
        return out;
    }

    std::string Progbar::format_eta(double seconds)
    {
        long s = long(seconds);
        if (s > 3600)
            return fmt::format("{}:{:02}:{:02}", s / 3600, (s % 3600) / 60, s % 60);
        if (s > 60)
            return fmt::format("{}:{:02}", s / 60, s % 60);
        return fmt::format("{}s", s);
    }

    void Progbar::update(std::size_t current, const Logs& values, bool finalize)
    {
        if (m_verbose == 0)
            return;
        const auto now = std::chrono::steady_clock::now();
        const double elapsed = std::chrono::duration<double>(now - m_start).count();
        const bool done = finalize || current >= m_target;
        const double per_step = current ? elapsed / double(current) : 0.0;
        const std::string step_time = per_step >= 1 ? fmt::format("{:.0f}s/step", per_step)
                                      : per_step >= 1e-3 ? fmt::format("{:.0f}ms/step", per_step * 1e3)
                                                         : fmt::format("{:.0f}us/step", per_step * 1e6);
        if (m_verbose == 2)
        {
            // Keras's verbose=2 epoch line: "63/63 - 5s - loss: ... - val_loss: ... - 5s/epoch - 80ms/step".
            if (done)
                fmt::print(m_out, "{}/{} - {:.0f}s{} - {:.0f}s/epoch - {}\n", current, m_target, elapsed,
                           format_values(values), elapsed, step_time);
            return;
        }
        // verbose 1: redraw at most every 50 ms, and always the last step.
        if (!done && std::chrono::duration<double>(now - m_last_draw).count() < 0.05 && current != 1)
            return;
        m_last_draw = now;
        std::string line = bar(current, m_target);
        if (done)
            line += fmt::format(" - {:.0f}s {}", elapsed, step_time);
        else
            line += " - ETA: " + format_eta(per_step * double(m_target - current));
        line += format_values(values);
        // Pad over the previous, possibly longer, line.
        std::string padding(m_previous_width > line.size() ? m_previous_width - line.size() : 0, ' ');
        m_previous_width = line.size();
        fmt::print(m_out, "\r{}{}{}", line, padding, done ? "\n" : "");
        std::fflush(m_out);
    }
}
