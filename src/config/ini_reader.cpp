#include "config/ini_reader.h"

#include <boost/program_options/options_description.hpp>
#include <boost/program_options/parsers.hpp>

#include <sstream>

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

// Program_options names an option "<section>.<key>"; an entry outside any
// section is just "<key>".
std::string optionName(const IniDocument& doc, const IniEntry& e) {
    if (e.section < 0) return e.key;
    return doc.sections[size_t(e.section)].name + "." + e.key;
}

}  // namespace

IniDocument readIni(std::string_view text, const std::string& file, Diagnostics& diag) {
    IniDocument doc;
    std::string forwarded;  // what Program_options gets: one line per input line
    forwarded.reserve(text.size());

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
        std::string out_line;
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
            out_line = "[" + doc.sections.back().name + "]";
        } else if (size_t eq = content.find('='); eq != std::string_view::npos) {
            std::string_view key = trim(content.substr(0, eq));
            if (key.empty()) {
                diag.error(file, line_no,
                           "expected a key name before '=' in '" + shorten(content) + "'");
            } else {
                IniEntry e;
                e.section = section_ok ? section : -2;
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
                out_line = std::string(line);
            }
        } else {
            diag.error(file, line_no,
                       "expected 'key = value', '[section]' or a comment; found '" +
                           shorten(content) + "'");
        }
        forwarded += out_line;
        forwarded += '\n';
    }

    // Hand the well-formed lines to Program_options and take its values.
    std::istringstream in(forwarded);
    boost::program_options::options_description none;
    auto parsed = boost::program_options::parse_config_file(in, none, true);
    std::vector<IniEntry> kept;
    kept.reserve(doc.entries.size());
    for (size_t i = 0; i < doc.entries.size(); ++i) {
        IniEntry& e = doc.entries[i];
        // Entries after a malformed header were passed under the stand-in
        // section "?"; their problem is already reported.
        std::string expected = e.section == -2 ? "?." + e.key : optionName(doc, e);
        if (i >= parsed.options.size() || parsed.options[i].string_key != expected ||
            parsed.options[i].value.size() != 1) {
            diag.error(file, e.line, "internal error: the INI reader lost track of this line");
            continue;
        }
        if (e.section == -2) continue;
        e.value = parsed.options[i].value[0];
        kept.push_back(std::move(e));
    }
    if (parsed.options.size() > doc.entries.size()) {
        diag.error(file, 0, "internal error: the INI reader found more keys than lines");
    }
    doc.entries = std::move(kept);
    return doc;
}

}  // namespace tandem::config_detail
