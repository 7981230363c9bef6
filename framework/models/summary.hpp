#pragma once
// Keras's model.summary() table, shared by every model class: the rows, the column layout and the totals.
#include <cstddef>
#include <string>
#include <vector>

namespace xk
{
    struct SummaryRow
    {
        std::string layer;                  ///< "conv2d (Conv2D)"
        std::string shape;                  ///< "(None, 26, 26, 32)"
        std::string params;                 ///< "320"
        std::vector<std::string> connected; ///< "conv2d[0][0]", ... (functional models only)
    };

    /// "1,199,882", as Keras prints parameter counts.
    std::string with_commas(std::size_t n);

    /// The whole table: Keras's columns (Layer (type), Output Shape, Param #, and Connected to when
    /// `connected_column`), widened where a cell would run into the next column, then the totals.
    std::string format_summary(const std::string& model_name, const std::vector<SummaryRow>& rows, std::size_t total,
                               std::size_t trainable, bool connected_column);
}
