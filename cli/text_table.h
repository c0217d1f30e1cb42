// TextTable: rows of cells printed in aligned columns under a header line, as
// the shell shows sessions and interfaces. Columns are separated by two
// blanks; numbers are usually right-aligned; trailing blanks are trimmed.
#pragma once

#include <string>
#include <vector>

namespace tandem::cli {

class TextTable {
  public:
    enum class Align { left, right };
    struct Column {
        std::string header;
        Align align = Align::left;
    };

    explicit TextTable(std::vector<Column> columns);

    /// Adds a row; missing cells are blank, extra cells are dropped.
    void addRow(std::vector<std::string> cells);

    size_t rows() const { return rows_.size(); }

    /// The header, then one line per row, each ending in '\n'.
    std::string render() const;

  private:
    std::vector<Column> columns_;
    std::vector<std::vector<std::string>> rows_;
};

/// "label: value" lines with the values aligned, each indented by `indent`
/// blanks — the layout of the key/value blocks (HA state, one session).
std::string renderPairs(const std::vector<std::pair<std::string, std::string>>& pairs,
                        size_t indent);

}  // namespace tandem::cli
