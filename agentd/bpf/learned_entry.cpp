#include "agentd/bpf/learned_entry.hpp"

#include <algorithm>
#include <cstring>

namespace agentd::bpf {

agentd_learned_key make_learned_key(const LearnedKey& key) {
  agentd_learned_key k{};
  k.slot = std::get<0>(key);
  k.family = std::get<1>(key);
  std::memcpy(k.addr, std::get<2>(key).data(), sizeof(k.addr));
  return k;
}

LearnedKey learned_key_of(const agentd_learned_key& key) {
  LearnedKey k{key.slot, key.family, {}};
  std::memcpy(std::get<2>(k).data(), key.addr, sizeof(key.addr));
  return k;
}

agentd_rule_value make_rule_value(const std::vector<agentd_port_range>& ranges) {
  agentd_rule_value value{};
  value.count = static_cast<uint32_t>(std::min<size_t>(ranges.size(), AGENTD_MAX_PORT_RANGES));
  std::copy_n(ranges.begin(), value.count, value.ranges);
  return value;
}

std::vector<agentd_port_range> ranges_of(const agentd_rule_value& value) {
  return {value.ranges, value.ranges + std::min<uint32_t>(value.count, AGENTD_MAX_PORT_RANGES)};
}

agentd_learned_value make_learned_value(uint64_t expires_ns, const agentd_rule_value& rules) {
  agentd_learned_value value{};
  value.expires_ns = expires_ns;
  value.rules = rules;
  return value;
}

}  // namespace agentd::bpf
