#include "config/ini_reader.h"

namespace tandem::config_detail {
namespace {

constexpr std::string_view kBlanks = " \t\r\n";

std::string_view trim(std::string_view s) {
    size_t b = s.find_first_not_of(kBlanks);
    if (b == std::string_view::npos) return {};
    size_t e = s.find_last_not_of(kBlanks);
    return s.substr(b, e - b + 1);
}

bool isSectionNameChar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

std::string shorten(std::string_view s) {
    constexpr size_t kMax = 60;
    if (s.size() <= kMax) return std::string(s);
    return std::string(s.substr(0, kMax)) + "...";
}

}  // namespace

IniDocument readIni(std::string_view text, const std::string& file, Diagnostics& diag) {
    IniDocument doc;

    if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
    int section = -1;
    bool section_ok = true;
    unsigned line_no = 0;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        std::string_view line = text.substr(pos, nl == std::string_view::npos ? nl : nl - pos);
        pos = nl == std::string_view::npos ? text.size() : nl + 1;
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);

        std::string_view content = line.substr(0, line.find('#'));
        content = trim(content);
        if (content.empty() || content.front() == ';') {
            // blank or comment
        } else if (content.front() == '[') {
            std::string_view name =
                content.back() == ']' ? trim(content.substr(1, content.size() - 2)) : "";
            bool ok = content.back() == ']' && !name.empty();
            for (char c : name) ok = ok && isSectionNameChar(c);
            ok = ok && name.back() != '.' && name.front() != '.';
            if (content.back() != ']') {
                diag.error(file, line_no,
                           "expected '[section]': missing ']' in '" + shorten(content) + "'");
            } else if (name.empty()) {
                diag.error(file, line_no, "expected a section name between '[' and ']'");
            } else if (!ok) {
                diag.error(file, line_no,
                           "invalid section name '" + shorten(name) +
                               "': expected letters, digits, '.', '-' or '_'");
            }
            doc.sections.push_back({std::string(ok ? name : "?"), line_no, ok});
            section = int(doc.sections.size() - 1);
            section_ok = ok;
        } else if (size_t eq = content.find('='); eq != std::string_view::npos) {
            std::string_view key = trim(content.substr(0, eq));
            if (key.empty()) {
                diag.error(file, line_no,
                           "expected a key name before '=' in '" + shorten(content) + "'");
            } else if (section_ok) {
                // Entries after a malformed header are left out: their
                // section's problem is already reported.
                IniEntry e;
                e.section = section;
                e.key = std::string(key);
                e.value = std::string(trim(content.substr(eq + 1)));
                size_t line_eq = line.find('=');
                std::string_view after = line.substr(line_eq + 1);
                size_t lead = after.find_first_not_of(" \t");
                e.raw_value = lead == std::string_view::npos ? "" : std::string(after.substr(lead));
                e.value_column =
                    unsigned(line_eq + 1 + (lead == std::string_view::npos ? 0 : lead) + 1);
                e.line = line_no;
                doc.entries.push_back(std::move(e));
            }
        } else {
            diag.error(file, line_no,
                       "expected 'key = value', '[section]' or a comment; found '" +
                           shorten(content) + "'");
        }
    }
    return doc;
}

}  // namespace tandem::config_detail
