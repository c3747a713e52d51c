// `agentctl policy validate`'s warnings: rules that are valid but do
// nothing. Pure: reads a validated PolicySet, says where and why.
#pragma once

#include <vector>

#include "agentd/policy/model.hpp"

namespace agentd::policy {

// Every rule that can never take effect, in file:line:column order, each
// at the rule that does nothing and naming the rule that makes it so:
// - an allow shadowed by a deny (an explicit deny beats every allow) of
//   the same or a wider CIDR, or a host deny (a glob or the same name)
//   that covers the allowed host, for every port and protocol the allow
//   names and every agent it selects;
// - a destination written twice for the same agents (the same canonical
//   line, as `policy diff` compares them).
// Linear in the policy's size (hash lookups, no pairwise scan), so a
// 100,000-rule policy lints in about the time it parses.
std::vector<Diagnostic> lint_policy(const PolicySet& policy);

}  // namespace agentd::policy
