// PrometheusText: builds a page in the Prometheus text exposition format,
// version 0.0.4 (what `GET /metrics` returns).
//
//   # HELP tandem_dataplane_dropped_total Frames dropped, by reason.
//   # TYPE tandem_dataplane_dropped_total counter
//   tandem_dataplane_dropped_total{reason="policy"} 3
//
// Samples may be added in any order; render() groups them by metric family
// (one HELP and TYPE line each, samples in the order added), as the format
// requires. Names are made valid ([a-zA-Z_:][a-zA-Z0-9_:]*, anything else
// becomes '_'); label values and help text are escaped.
//
// Thread-safety: a plain value; build and render on one thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace tandem {

enum class MetricType : uint8_t { counter, gauge };

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class PrometheusText {
  public:
    /// The content type a scraper expects for render()'s output.
    static constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

    /// Declares family `name` (type, help). A later call for the same name
    /// keeps the first declaration. sample() declares implicitly with empty help.
    void family(std::string_view name, MetricType type, std::string_view help);

    /// Adds one sample of family `name` (declared as `type` if it is new).
    void sample(std::string_view name, MetricType type, const MetricLabels& labels, uint64_t value);
    void sample(std::string_view name, MetricType type, const MetricLabels& labels, double value);

    /// The whole page: families in the order first declared.
    std::string render() const;

    /// `name` with every character a metric or label name may not hold
    /// replaced by '_' (and a leading digit prefixed with '_').
    static std::string sanitizeName(std::string_view name);
    /// Label value escaping: backslash, double quote and newline.
    static std::string escapeLabelValue(std::string_view value);
    /// HELP text escaping: backslash and newline.
    static std::string escapeHelp(std::string_view help);

  private:
    struct Family {
        std::string name;
        MetricType type;
        std::string help;
        std::vector<std::string> samples;  // rendered lines without the name
    };
    Family& get(std::string_view name, MetricType type);
    void add(std::string_view name, MetricType type, const MetricLabels& labels,
             const std::string& value);

    std::vector<Family> families_;
    std::unordered_map<std::string, size_t> index_;
};

}  // namespace tandem
