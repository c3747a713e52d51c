// A tenant's approval settings: the optional `approvals:` section of its
// policy file. What happens to a denial that no rule decided: whether it
// becomes a request for an operator, how long the request waits, how long
// an "allow" lasts by default, how long a "deny" keeps repeats quiet.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "agentd/policy/model.hpp"
#include "agentd/policy/yaml_tree.hpp"

namespace agentd::policy {

struct ApprovalSettings {
  bool prompt = true;                                // mode: prompt | off
  std::chrono::seconds request_expiry{15 * 60};      // unanswered requests expire
  std::chrono::seconds grant_duration{60 * 60};      // an allow without a time (key `a`)
  std::chrono::seconds silence_after_deny{15 * 60};  // repeats of a denied request stay silent
};

// approvals:
//   mode: prompt            # or off: denials are recorded, never asked about
//   request_expiry: 15m
//   grant_duration: 1h
//   silence_after_deny: 15m
// Errors go to `errors` with file:line:column; `settings` keeps the
// defaults for what is missing or wrong.
void read_approval_settings(const YamlNode& node, const std::string& file, std::vector<Diagnostic>& errors,
                            ApprovalSettings& settings);

// The settings of a tenant (the defaults when its file has none).
const ApprovalSettings& approval_settings_of(const TenantPolicy* tenant);

}  // namespace agentd::policy
