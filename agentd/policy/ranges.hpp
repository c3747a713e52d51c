// Port ranges flattened into one rule value, as the kernel judges them
// (bpf/verdict.h): shared by the CIDR compiler and the host rules, so a
// learned address gets exactly what a trie entry would.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "agentd/common/result.hpp"
#include "agentd/policy/model.hpp"
#include "agentd_abi.h"

namespace agentd::policy {

struct OriginRange {
  agentd_port_range range;
  uint32_t origin;  // the endpoint that made it
};

uint8_t action_of(EndpointKind kind);

// An endpoint's ranges with its action: one per port range, or one for
// every port.
void append_ranges(const Endpoint& endpoint, std::vector<OriginRange>& out);

// Appends `endpoint`'s ranges to `unique`, each only if no identical one
// is there already (the first keeps its origin): what simplify_ranges
// does first, done as ranges arrive, so that a list shared by many
// entries is deduplicated once.
void append_unique_ranges(const Endpoint& endpoint, std::vector<OriginRange>& unique);

// Identical ranges once; then, if still more than AGENTD_MAX_PORT_RANGES,
// ranges of the same action and protocols that touch or overlap become one.
// The result may still be too long: check with fits_one_value.
std::vector<OriginRange> simplify_ranges(const std::vector<OriginRange>& ranges);

// Ok when `ranges` fit one rule value; else the error names `agent`, what
// they are for ("198.51.100.0/24", "host api.github.com") and every source.
Status check_fits_one_value(const PolicySet& policy, const std::vector<OriginRange>& ranges, const AgentName& agent,
                            const std::string& what);

}  // namespace agentd::policy
