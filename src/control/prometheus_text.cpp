#include "control/prometheus_text.h"

#include <cmath>
#include <cstdio>

namespace tandem {

std::string PrometheusText::sanitizeName(std::string_view name) {
    std::string out;
    out.reserve(name.size() + 1);
    for (char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '_' || c == ':';
        out += ok ? c : '_';
    }
    if (out.empty() || (out[0] >= '0' && out[0] <= '9')) out.insert(out.begin(), '_');
    return out;
}

namespace {

// Backslash and newline always; double quotes inside label values only.
std::string escape(std::string_view text, bool quotes) {
    std::string out;
    for (char c : text) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '\n')
            out += "\\n";
        else if (c == '"' && quotes)
            out += "\\\"";
        else
            out += c;
    }
    return out;
}

}  // namespace

std::string PrometheusText::escapeLabelValue(std::string_view value) {
    return escape(value, true);
}

std::string PrometheusText::escapeHelp(std::string_view help) {
    return escape(help, false);
}

PrometheusText::Family& PrometheusText::get(std::string_view name, MetricType type) {
    std::string clean = sanitizeName(name);
    auto it = index_.find(clean);
    if (it != index_.end()) return families_[it->second];
    index_.emplace(clean, families_.size());
    families_.push_back({std::move(clean), type, {}, {}});
    return families_.back();
}

void PrometheusText::family(std::string_view name, MetricType type, std::string_view help) {
    Family& f = get(name, type);
    if (f.help.empty()) f.help = escapeHelp(help);
}

void PrometheusText::add(std::string_view name, MetricType type, const MetricLabels& labels,
                         const std::string& value) {
    Family& f = get(name, type);
    std::string line;
    if (!labels.empty()) {
        line += '{';
        for (size_t i = 0; i < labels.size(); ++i) {
            if (i) line += ',';
            line +=
                sanitizeName(labels[i].first) + "=\"" + escapeLabelValue(labels[i].second) + '"';
        }
        line += '}';
    }
    line += ' ';
    line += value;
    f.samples.push_back(std::move(line));
}

void PrometheusText::sample(std::string_view name, MetricType type, const MetricLabels& labels,
                            uint64_t value) {
    add(name, type, labels, std::to_string(value));
}

void PrometheusText::sample(std::string_view name, MetricType type, const MetricLabels& labels,
                            double value) {
    std::string v;
    if (std::isnan(value)) {
        v = "NaN";
    } else if (std::isinf(value)) {
        v = value > 0 ? "+Inf" : "-Inf";
    } else {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.17g", value);
        v = buf;
    }
    add(name, type, labels, v);
}

std::string PrometheusText::render() const {
    std::string out;
    for (const Family& f : families_) {
        if (f.samples.empty()) continue;
        if (!f.help.empty()) out += "# HELP " + f.name + ' ' + f.help + '\n';
        out += "# TYPE " + f.name + (f.type == MetricType::counter ? " counter\n" : " gauge\n");
        for (const auto& s : f.samples) out += f.name + s + '\n';
    }
    return out;
}

}  // namespace tandem
