// TEMPORARY until the hostname rules land (branch issue-5-policy): lets the
// proxy be exercised. Removed in the merge.
#include "agentd/policy/names.hpp"

namespace agentd::policy {

bool host_matches(std::string_view pattern, std::string_view name) { return pattern == name; }

NameDecision decide_name(const PolicySet&, const AgentName&, std::string_view name) {
  NameDecision d;
  d.allowed = name.find("denied") == std::string_view::npos && name.size() > 5 && name.substr(name.size() - 5) == ".test";
  if (d.allowed) d.ranges.push_back({1, 65535, AGENTD_PROTO_ANY, AGENTD_ACTION_ALLOW, 0});
  d.explanation = d.allowed ? "allowed by stub" : "no host rule";
  return d;
}

}  // namespace agentd::policy
