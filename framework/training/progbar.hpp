#pragma once
// Keras's progress display for fit() and evaluate(): a live bar with ETA and running metrics (verbose=1),
// one line per epoch (verbose=2), or nothing (verbose=0).
#include <chrono>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace xk
{
    /// Metric values in Keras's order: loss, the metrics, then val_loss and the validation metrics.
    using Logs = std::vector<std::pair<std::string, double>>;

    /// The value of `key` in logs, or nullptr.
    const double* find_log(const Logs& logs, const std::string& key);

    class Progbar
    {
    public:
        /// `target` steps; `out` receives the text (stdout by default).
        Progbar(std::size_t target, int verbose, std::FILE* out = stdout);

        /// After step `current` (1-based) with the running values; the last step closes the line.
        void update(std::size_t current, const Logs& values, bool finalize = false);

        /// "47/63 [=====================>........]": the bar Keras draws (width 30).
        static std::string bar(std::size_t current, std::size_t target, std::size_t width = 30);
        /// " - loss: 0.1312 - accuracy: 0.9601" (%.4f, or %.4e for magnitudes below 1e-3).
        static std::string format_values(const Logs& values);
        /// "2s", "1:05", "1:02:03" as Keras prints an ETA.
        static std::string format_eta(double seconds);

    private:
        std::size_t m_target;
        int m_verbose;
        std::FILE* m_out;
        std::chrono::steady_clock::time_point m_start;
        std::chrono::steady_clock::time_point m_last_draw;
        std::size_t m_previous_width = 0;
    };
}
