// Hostname rules: which names an agent may resolve through agentd's DNS
// proxy, and what the addresses learned from an allowed name may reach.
// Pure: the proxy asks, the kernel never sees names.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agentd/common/result.hpp"
#include "agentd/policy/model.hpp"
#include "agentd_abi.h"

namespace agentd::policy {

// Whether `name` (lowercase, no trailing dot) matches a host pattern:
// "api.github.com" matches itself only; "*.github.com" matches every
// subdomain at any depth (a.github.com, a.b.github.com), never the apex.
bool host_matches(std::string_view pattern, std::string_view name);

struct NameDecision {
  bool allowed = false;
  // The endpoint that decided: the deny that matched, or the first allow
  // (an inference host before any other); empty for the default deny.
  std::optional<uint32_t> endpoint;
  // For an allowed name: the port ranges its addresses get in the kernel,
  // the union of every matching allow (AGENTD_ACTION_ALLOW) and inference
  // host (AGENTD_ACTION_INFERENCE), as in a compiled trie value.
  std::vector<agentd_port_range> ranges;
  // "allowed by acme.yaml:9:9 rules[0].allow[1] (host *.github.com)".
  std::string explanation;
};

// Precedence as for CIDRs: a matching host deny beats every allow; a
// tenant's inference host is allowed whatever a team or agent rule says;
// a name no rule matches is denied. `name` is normalised (lowercase,
// trailing dot dropped) before matching.
NameDecision decide_name(const PolicySet& policy, const AgentName& agent, std::string_view name);

}  // namespace agentd::policy
