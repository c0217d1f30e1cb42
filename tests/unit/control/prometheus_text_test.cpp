#include "control/prometheus_text.h"

#include <doctest/doctest.h>

using namespace tandem;

TEST_CASE("samples are grouped under one HELP and TYPE per family, in declaration order") {
    PrometheusText p;
    p.family("tandem_b_total", MetricType::counter, "Second family.");
    p.family("tandem_a", MetricType::gauge, "First family.");
    p.sample("tandem_a", MetricType::gauge, {{"owner", "1"}}, uint64_t(5));
    p.sample("tandem_b_total", MetricType::counter, {}, uint64_t(7));
    p.sample("tandem_a", MetricType::gauge, {{"owner", "2"}}, uint64_t(0));
    CHECK(p.render() ==
          "# HELP tandem_b_total Second family.\n"
          "# TYPE tandem_b_total counter\n"
          "tandem_b_total 7\n"
          "# HELP tandem_a First family.\n"
          "# TYPE tandem_a gauge\n"
          "tandem_a{owner=\"1\"} 5\n"
          "tandem_a{owner=\"2\"} 0\n");
}

TEST_CASE("a family declared but never sampled is left out") {
    PrometheusText p;
    p.family("tandem_empty", MetricType::gauge, "Nothing.");
    CHECK(p.render().empty());
}

TEST_CASE("label values and help text are escaped - invalid name characters become underscores") {
    PrometheusText p;
    p.family("tandem-x.y", MetricType::gauge, "a \\ b\nc");
    p.sample("tandem-x.y", MetricType::gauge, {{"na-me", "q\"b\\s\nn"}}, uint64_t(1));
    CHECK(p.render() ==
          "# HELP tandem_x_y a \\\\ b\\nc\n"
          "# TYPE tandem_x_y gauge\n"
          "tandem_x_y{na_me=\"q\\\"b\\\\s\\nn\"} 1\n");
    CHECK(PrometheusText::sanitizeName("9lives") == "_9lives");
}

TEST_CASE(
    "floating values keep their precision and special values are spelled as the format wants") {
    PrometheusText p;
    p.sample("tandem_lag_seconds", MetricType::gauge, {}, 0.25);
    p.sample("tandem_lag_seconds", MetricType::gauge, {{"peer", "2"}}, 1.0 / 0.0);
    const std::string out = p.render();
    CHECK(out.find("tandem_lag_seconds 0.25\n") != std::string::npos);
    CHECK(out.find("tandem_lag_seconds{peer=\"2\"} +Inf\n") != std::string::npos);
    CHECK(out.find("# HELP") == std::string::npos);  // no help given: no HELP line
}

TEST_CASE("the largest counter value is printed exactly") {
    PrometheusText p;
    p.sample("tandem_big_total", MetricType::counter, {}, UINT64_MAX);
    CHECK(p.render().find("tandem_big_total 18446744073709551615\n") != std::string::npos);
}
