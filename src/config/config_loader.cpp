// Config loading, stage by stage: INI text → sections and entries (with
// lines) → keyword handlers per section → required keys → cross-field checks
// → policy rules. Every stage reports into one Diagnostics; the Config is
// handed out only if none reported an error.
#include <sys/stat.h>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "config/config.h"
#include "config/config_validator.h"
#include "config/ini_reader.h"
#include "config/load_context.h"
#include "config/policy_loader.h"
#include "config/section_keywords.h"
#include "config/value_parsers.h"

namespace tandem {
namespace config_detail {
namespace {

void reportUnknownSection(LoadContext& c, const SectionState& s) {
    std::string_view name = s.name;
    std::string_view base = name.substr(0, name.find('.'));
    for (const auto& kind : sectionKinds()) {
        if (kind.name != base) continue;
        if (kind.suffix.empty()) {
            c.error(s.line,
                    "[" + s.name + "]: section [" + std::string(kind.name) + "] takes no suffix");
        } else {
            c.error(s.line, "[" + s.name + "]: expected [" + std::string(kind.name) + "." +
                                std::string(kind.suffix) + "]");
        }
        return;
    }
    std::vector<std::string> names;
    for (const auto& kind : sectionKinds()) names.emplace_back(kind.name);
    std::string hint = closestName(base, names);
    c.error(s.line, "unknown section [" + s.name + "]" +
                        (hint.empty() ? "" : " (did you mean [" + hint + "]?)") +
                        "; expected one of: " + sectionKindNames());
}

void openSections(LoadContext& c, const IniDocument& doc) {
    c.sections.resize(doc.sections.size());
    for (size_t i = 0; i < doc.sections.size(); ++i) {
        SectionState& s = c.sections[i];
        s.name = doc.sections[i].name;
        s.line = doc.sections[i].line;
        if (!doc.sections[i].well_formed) continue;
        bool duplicate = false;
        for (size_t j = 0; j < i && !duplicate; ++j) {
            if (c.sections[j].name == s.name && doc.sections[j].well_formed) {
                c.error(s.line, "duplicate section [" + s.name + "] (first at line " +
                                    std::to_string(c.sections[j].line) +
                                    "); put all its keys in one place");
                duplicate = true;
            }
        }
        if (duplicate) continue;
        std::string_view suffix;
        const SectionKind* kind = findSectionKind(s.name, &suffix);
        if (kind == nullptr) {
            reportUnknownSection(c, s);
            continue;
        }
        c.current = int(i);
        size_t errors_before = c.diag.errorCount();
        if (kind->open(c, suffix)) {
            s.kind = kind;
        } else if (kind->name == "port" && c.diag.errorCount() > errors_before) {
            c.zones_complete = false;
        }
    }
}

void handleEntries(LoadContext& c, const IniDocument& doc) {
    for (const IniEntry& e : doc.entries) {
        if (e.section < 0) {
            c.error(e.line, "key '" + e.key +
                                "' is outside any section; put it under the [section] it "
                                "belongs to");
            continue;
        }
        c.current = e.section;
        SectionState& s = c.section();
        if (s.kind == nullptr) continue;  // the section's problem is already reported
        const Keyword* kw = findKeyword(*s.kind, e.key);
        if (kw == nullptr) {
            auto names = keywordNames(*s.kind);
            std::string hint = closestName(e.key, names);
            c.error(e.line, "unknown key '" + e.key + "' in [" + s.name + "]" +
                                (hint.empty() ? "" : " (did you mean '" + hint + "'?)") +
                                "; expected one of: " + joinWords(names));
            continue;
        }
        auto [it, first] = s.keys.emplace(e.key, e.line);
        if (!first && kw->use != KeyUse::repeatable) {
            c.error(e.line, "duplicate key '" + e.key + "' in [" + s.name +
                                "]: already set at line " + std::to_string(it->second) +
                                "; keep one");
            continue;
        }
        if (!kw->handle(c, e)) {
            c.rejected.insert(s.name + "." + e.key);
            if (s.kind->name == "port") c.zones_complete = false;
        }
    }
}

void checkRequiredKeys(LoadContext& c) {
    for (const SectionState& s : c.sections) {
        if (s.kind == nullptr) continue;
        for (const Keyword& kw : s.kind->keywords) {
            if (kw.use == KeyUse::required && s.keys.find(kw.name) == s.keys.end()) {
                c.error(s.line, "[" + s.name + "] " + std::string(kw.name) + " is required");
                if (s.kind->name == "port") c.zones_complete = false;
            }
        }
    }
    if (c.findSection("node") == nullptr) {
        c.error(0, "missing section [node] (its id is required: this node's id, 1..16)");
    }
}

ConfigLoadResult load(const std::string& text, const std::string& name,
                      const std::string& base_dir) {
    LoadContext c;
    c.file = name;
    c.base_dir = base_dir;
    c.cfg.path = name;

    IniDocument doc = readIni(text, name, c.diag);
    openSections(c, doc);
    handleEntries(c, doc);
    c.current = -1;
    checkRequiredKeys(c);
    validateConfig(c);
    loadPolicy(c);
    loadNat(c);

    ConfigLoadResult result;
    result.errors = c.diag.errors();
    result.warnings = c.diag.warnings();
    if (result.errors.empty()) result.config = std::move(c.cfg);
    return result;
}

ConfigLoadResult failure(const std::string& file, unsigned line, std::string message) {
    ConfigLoadResult result;
    result.errors.push_back(ConfigError{file, line, std::move(message)});
    return result;
}

std::string directoryOf(const std::string& path) {
    size_t slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

}  // namespace
}  // namespace config_detail

ConfigLoadResult loadConfigText(const std::string& text, const std::string& name,
                                const std::string& base_dir) {
    try {
        return config_detail::load(text, name, base_dir);
    } catch (const std::exception& e) {
        return config_detail::failure(name, 0, std::string("internal error: ") + e.what());
    }
}

ConfigLoadResult loadConfigFile(const std::string& path) {
    try {
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0) {
            return config_detail::failure(path, 0,
                                          std::string("cannot read: ") + std::strerror(errno));
        }
        if (S_ISDIR(st.st_mode)) return config_detail::failure(path, 0, "is a directory");
        std::ifstream in(path);
        if (!in) {
            return config_detail::failure(path, 0,
                                          std::string("cannot read: ") + std::strerror(errno));
        }
        std::stringstream text;
        text << in.rdbuf();
        return config_detail::load(text.str(), path, config_detail::directoryOf(path));
    } catch (const std::exception& e) {
        return config_detail::failure(path, 0, std::string("internal error: ") + e.what());
    }
}

}  // namespace tandem
