// The rule parser on any text: it never fails other than with an error
// whose column lies within the text (or one past it), and every rule it
// accepts formats to text that parses back to the same rule.
#include "fuzz_input.h"
#include "policy/rule.h"

using namespace tandem;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    RuleError error;
    const std::optional<Rule> rule = parseRule(text, &error);
    if (!rule) {
        FUZZ_CHECK(!error.message.empty());
        FUZZ_CHECK(error.column >= 1 && error.column <= size + 1);
        return 0;
    }
    const std::string canonical = formatRule(*rule);
    RuleError again_error;
    const std::optional<Rule> again = parseRule(canonical, &again_error);
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(*again == *rule);
    FUZZ_CHECK(formatRule(*again) == canonical);
    return 0;
}
