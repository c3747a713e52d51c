// Compilation of policy into what the kernel holds: the flattened
// longest-prefix entries of one policy class.
//
// The kernel makes ONE longest-prefix lookup keyed by (class, family,
// address) and then judges the value's port ranges (bpf/verdict.h). So
// each entry carries the ranges of every endpoint whose CIDR covers the
// entry's prefix, itself included: a deny /16 still wins inside a more
// specific allow /24, and an allow /24 still applies inside a deny /32 on
// the ports that deny does not name.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "agentd/common/result.hpp"
#include "agentd/policy/model.hpp"
#include "agentd_abi.h"

namespace agentd::policy {

struct CompiledEntry {
  uint32_t family = AGENTD_FAMILY_IPV4;
  std::array<uint8_t, 16> addr{};
  uint8_t prefix = 0;
  agentd_rule_value value{};
  std::vector<uint32_t> origins;  // the endpoint behind each range, parallel to value.ranges
};

struct CompiledClass {
  // Equal for two agents exactly when the same CIDR rules apply to them, so
  // the daemon can share one class between them (host rules make no
  // entries: see names.hpp). "" for an agent whose tenant has no policy:
  // no entries, everything denied.
  std::string key;
  std::vector<CompiledEntry> entries;  // sorted by family, address, prefix
};

Result<CompiledClass> compile_for_agent(const PolicySet& policy, const AgentName& agent);

}  // namespace agentd::policy
