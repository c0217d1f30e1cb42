// policyOf: a policy from rule texts, for the pipeline's tests.
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "policy/policy.h"
#include "policy/rule.h"

namespace tandem::test {

/// The policy of `texts` (one rule each, in order) over the zones "outside"
/// and "inside"; fails the running test on any rule or compile error.
inline std::shared_ptr<const Policy> policyOf(const std::vector<std::string>& texts) {
    std::vector<Rule> rules;
    for (const std::string& t : texts) {
        RuleError err;
        auto r = parseRule(t, &err);
        REQUIRE_MESSAGE(r, t << ": " << err.message);
        rules.push_back(*r);
    }
    std::string error;
    auto p = Policy::compile(rules, {"outside", "inside"}, &error);
    REQUIRE_MESSAGE(p, error);
    return p;
}

}  // namespace tandem::test
