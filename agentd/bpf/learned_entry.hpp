// Learned addresses (agentd_learned) and operator grants (agentd_grants)
// share one kernel layout: (slot, family, address) -> (expiry, port rules).
// The daemon keeps both keyed by a tuple; these convert between the two
// views, so the layout is spelled out in one place. Pure: no map access.
#pragma once

#include <array>
#include <cstdint>
#include <tuple>
#include <vector>

#include "agentd_abi.h"

namespace agentd::bpf {

// slot, family (AGENTD_FAMILY_*), address (IPv4 in the first 4 bytes).
using LearnedKey = std::tuple<uint32_t, uint32_t, std::array<uint8_t, 16>>;

agentd_learned_key make_learned_key(const LearnedKey& key);
LearnedKey learned_key_of(const agentd_learned_key& key);

// The kernel takes at most AGENTD_MAX_PORT_RANGES ranges: any beyond are
// left out (callers that can have more say so where they build the list).
agentd_rule_value make_rule_value(const std::vector<agentd_port_range>& ranges);
// The ranges of a value read back; a count past the array is clamped, so a
// damaged entry cannot make us read beyond it.
std::vector<agentd_port_range> ranges_of(const agentd_rule_value& value);

agentd_learned_value make_learned_value(uint64_t expires_ns, const agentd_rule_value& rules);

}  // namespace agentd::bpf
