#include "cli/pager.h"

#include <vector>

namespace tandem::cli {
namespace {

constexpr const char* kPrompt = "--More--";
constexpr const char* kErasePrompt = "\r        \r";

std::vector<std::string> splitLines(const std::string& text) {
    std::vector<std::string> lines;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size() - 1;
        lines.push_back(text.substr(start, end - start + 1));
        start = end + 1;
    }
    return lines;
}

}  // namespace

Pager::Pager(std::ostream& out, size_t page_lines, KeyReader read_key)
    : out_(out), page_lines_(page_lines == 0 ? 1 : page_lines), read_key_(std::move(read_key)) {}

bool Pager::show(const std::string& text) {
    const std::vector<std::string> lines = splitLines(text);
    size_t next = 0;
    size_t allowed = page_lines_;
    while (next < lines.size()) {
        while (next < lines.size() && allowed > 0) {
            out_ << lines[next++];
            --allowed;
        }
        if (next == lines.size()) break;
        out_ << kPrompt << std::flush;
        int key = read_key_();
        out_ << kErasePrompt;
        switch (key) {
            case ' ':
                allowed = page_lines_;
                break;
            case '\n':
            case '\r':
                allowed = 1;
                break;
            case 'q':
            case 'Q':
            case -1:
            case 3:  // Ctrl-C in raw mode
                out_ << std::flush;
                return false;
            default:
                allowed = page_lines_;
                break;
        }
    }
    if (!lines.empty() && lines.back().back() != '\n') out_ << '\n';
    out_ << std::flush;
    return true;
}

}  // namespace tandem::cli
