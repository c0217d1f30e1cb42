#include "cli/text_table.h"

#include <algorithm>

namespace tandem::cli {
namespace {

void trimRight(std::string* s) {
    while (!s->empty() && s->back() == ' ') s->pop_back();
}

}  // namespace

TextTable::TextTable(std::vector<Column> columns) : columns_(std::move(columns)) {}

void TextTable::addRow(std::vector<std::string> cells) {
    cells.resize(columns_.size());
    rows_.push_back(std::move(cells));
}

std::string TextTable::render() const {
    std::vector<size_t> width(columns_.size());
    for (size_t c = 0; c < columns_.size(); ++c) {
        width[c] = columns_[c].header.size();
        for (const auto& r : rows_) width[c] = std::max(width[c], r[c].size());
    }
    auto line = [&](const std::vector<std::string>& cells) {
        std::string out;
        for (size_t c = 0; c < columns_.size(); ++c) {
            if (c > 0) out += "  ";
            const std::string pad(width[c] - cells[c].size(), ' ');
            out += columns_[c].align == Align::right ? pad + cells[c] : cells[c] + pad;
        }
        trimRight(&out);
        return out + "\n";
    };
    std::vector<std::string> headers;
    for (const auto& c : columns_) headers.push_back(c.header);
    std::string out = line(headers);
    for (const auto& r : rows_) out += line(r);
    return out;
}

std::string renderPairs(const std::vector<std::pair<std::string, std::string>>& pairs,
                        size_t indent) {
    size_t width = 0;
    for (const auto& [label, value] : pairs) width = std::max(width, label.size() + 1);
    std::string out;
    for (const auto& [label, value] : pairs) {
        std::string l = std::string(indent, ' ') + label + ":";
        l += std::string(width + 2 - (label.size() + 1), ' ');
        l += value;
        trimRight(&l);
        out += l + "\n";
    }
    return out;
}

}  // namespace tandem::cli
