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
#include <string_view>
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

// A host pattern as the kernel's names trie holds it (names.hpp NamePattern):
// what a verified connection's TLS SNI or HTTP Host is judged by.
struct CompiledName {
  std::string pattern;  // "api.github.com", "*.github.com"
  agentd_rule_value value{};
  std::vector<uint32_t> origins;  // the endpoint behind each range
};

struct CompiledClass {
  // Equal for two agents exactly when the same rules apply to them, so the
  // daemon can share one class between them. "" for an agent whose tenant
  // has no policy: no entries, everything denied.
  std::string key;
  std::vector<CompiledEntry> entries;  // sorted by family, address, prefix
  // Host rules make no address entries (the kernel learns their addresses
  // from the DNS proxy, per sandbox), but their names are what a
  // name-allowed connection's first bytes are checked against.
  std::vector<CompiledName> names;  // sorted by pattern
  bool empty() const { return entries.empty() && names.empty(); }
};

// The names trie's key of a pattern in `scope` (a class id, or
// AGENTD_NAME_GRANT_SCOPE | slot): reversed, an exact name NUL-terminated
// (see agentd_name_key). The pattern must be as the loader keeps it.
agentd_name_key make_name_key(uint32_t scope, std::string_view pattern);
// The pattern a names-trie key was made from (make_name_key's inverse).
std::string pattern_of_name_key(const agentd_name_key& key);

// The class's key without compiling it: the tenant and which of its rules
// apply to the agent. Within one PolicySet, agents of one key compile to
// the same class, so a daemon compiles each key once. "" for an agent
// whose tenant has no policy.
std::string class_key_for(const PolicySet& policy, const AgentName& agent);

Result<CompiledClass> compile_for_agent(const PolicySet& policy, const AgentName& agent);

}  // namespace agentd::policy
