// The unit tests' main: doctest's, and one more rule. ctest runs each test
// case alone (`--test-case=NAME`, registered by doctest_discover_tests); a
// name the registration mangles (a ';' splits it as a CMake list) selects
// no test case, and doctest reports success for a run that tested nothing.
// Such a run fails here instead, so every registered test runs its case.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>

namespace {

int g_cases_run = 0;

// Counts the test cases that start.
struct CaseCounter : doctest::IReporter {
    explicit CaseCounter(const doctest::ContextOptions&) {}
    void report_query(const doctest::QueryData&) override {}
    void test_run_start() override {}
    void test_run_end(const doctest::TestRunStats&) override {}
    void test_case_start(const doctest::TestCaseData&) override { ++g_cases_run; }
    void test_case_reenter(const doctest::TestCaseData&) override {}
    void test_case_end(const doctest::CurrentTestCaseStats&) override {}
    void test_case_exception(const doctest::TestCaseException&) override {}
    void subcase_start(const doctest::SubcaseSignature&) override {}
    void subcase_end() override {}
    void log_assert(const doctest::AssertData&) override {}
    void log_message(const doctest::MessageData&) override {}
    void test_case_skipped(const doctest::TestCaseData&) override {}
};

REGISTER_LISTENER("case_counter", 1, CaseCounter);

}  // namespace

int main(int argc, char** argv) {
    doctest::Context context(argc, argv);
    const int rc = context.run();
    if (context.shouldExit()) return rc;  // --help, --list-test-cases, ...
    bool selected = false;
    for (int i = 1; i < argc; ++i) {
        selected |=
            std::strncmp(argv[i], "--test-case=", 12) == 0 || std::strncmp(argv[i], "-tc=", 4) == 0;
    }
    if (selected && g_cases_run == 0) {
        std::fprintf(stderr, "no test case matched the name given: nothing was tested\n");
        return 1;
    }
    return rc;
}
