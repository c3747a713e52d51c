// What applying a policy would change, rule by rule: every destination of
// every rule as one canonical line, compared as sets per tenant.
#pragma once

#include <string>
#include <vector>

#include "agentd/policy/model.hpp"

namespace agentd::policy {

struct PolicyChange {
  bool added;  // false: removed
  std::string tenant;
  std::string line;      // "acme/eng/coder-*: allow 198.51.100.0/24 ports 80,443 tcp"
  std::string location;  // where it is written (the new file for additions, the old for removals)
};

// One endpoint as the canonical text the diff compares.
std::string canonical_line(const PolicySet& set, const Endpoint& endpoint, const std::string& selector);

std::vector<PolicyChange> diff_policies(const PolicySet& before, const PolicySet& after);

}  // namespace agentd::policy
