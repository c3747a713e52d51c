#include "agentd/policy/compile.hpp"

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <string_view>
#include <tuple>
#include <unordered_map>

#include <fmt/format.h>

namespace agentd::policy {
namespace {

// A prefix as a hashable key: family, length, masked address.
struct PrefixKey {
  uint32_t family;
  uint8_t prefix;
  std::array<uint8_t, 16> addr;
  bool operator==(const PrefixKey&) const = default;
};

struct PrefixKeyHash {
  size_t operator()(const PrefixKey& k) const {
    std::string_view bytes(reinterpret_cast<const char*>(k.addr.data()), k.addr.size());
    return std::hash<std::string_view>{}(bytes) ^ (static_cast<size_t>(k.prefix) << 1) ^ k.family;
  }
};

std::array<uint8_t, 16> mask(const std::array<uint8_t, 16>& addr, unsigned prefix) {
  std::array<uint8_t, 16> out{};
  for (unsigned i = 0; i < 16 && prefix > 8 * i; ++i)
    out[i] = prefix >= 8 * (i + 1) ? addr[i] : static_cast<uint8_t>(addr[i] & (0xff << (8 - (prefix - 8 * i))));
  return out;
}

uint8_t action_of(EndpointKind kind) {
  switch (kind) {
    case EndpointKind::allow: return AGENTD_ACTION_ALLOW;
    case EndpointKind::deny: return AGENTD_ACTION_DENY;
    case EndpointKind::inference: return AGENTD_ACTION_INFERENCE;
  }
  return AGENTD_ACTION_DENY;
}

struct Range {
  agentd_port_range range;
  uint32_t origin;
};

void append_ranges(const Endpoint& e, std::vector<Range>& out) {
  const uint8_t action = action_of(e.kind);
  if (e.ports.empty()) {
    out.push_back({{0, 65535, e.proto_mask, action, 0}, e.id});
    return;
  }
  for (const auto& p : e.ports) out.push_back({{p.lo, p.hi, e.proto_mask, action, 0}, e.id});
}

// Identical ranges once; then, if still too many, ranges of the same action
// and protocols that touch or overlap become one.
std::vector<Range> simplify(std::vector<Range> ranges) {
  auto same = [](const Range& a, const Range& b) {
    return std::tie(a.range.action, a.range.proto_mask, a.range.lo, a.range.hi) ==
           std::tie(b.range.action, b.range.proto_mask, b.range.lo, b.range.hi);
  };
  std::vector<Range> unique;
  for (const auto& r : ranges)
    if (std::none_of(unique.begin(), unique.end(), [&](const Range& u) { return same(u, r); })) unique.push_back(r);
  if (unique.size() <= AGENTD_MAX_PORT_RANGES) return unique;
  std::stable_sort(unique.begin(), unique.end(), [](const Range& a, const Range& b) {
    return std::tie(a.range.action, a.range.proto_mask, a.range.lo) <
           std::tie(b.range.action, b.range.proto_mask, b.range.lo);
  });
  std::vector<Range> merged;
  for (const auto& r : unique) {
    if (!merged.empty()) {
      auto& last = merged.back().range;
      if (last.action == r.range.action && last.proto_mask == r.range.proto_mask &&
          static_cast<uint32_t>(r.range.lo) <= static_cast<uint32_t>(last.hi) + 1) {
        last.hi = std::max(last.hi, r.range.hi);
        continue;
      }
    }
    merged.push_back(r);
  }
  return merged;
}

}  // namespace

Result<CompiledClass> compile_for_agent(const PolicySet& policy, const AgentName& agent) {
  CompiledClass compiled;
  const TenantPolicy* tenant = policy.find(agent.tenant);
  if (!tenant) return compiled;

  std::vector<uint32_t> endpoints(tenant->inference);
  compiled.key = agent.tenant + "|";
  for (size_t i = 0; i < tenant->rules.size(); ++i) {
    const Rule& rule = tenant->rules[i];
    if (!rule.agents.matches(agent)) continue;
    compiled.key += fmt::format("{},", i);
    endpoints.insert(endpoints.end(), rule.allow.begin(), rule.allow.end());
    endpoints.insert(endpoints.end(), rule.deny.begin(), rule.deny.end());
  }

  // Endpoints by prefix, and which prefix lengths occur per family: an
  // entry's covering prefixes are found with one hash lookup per length in
  // use, not per possible length.
  std::unordered_map<PrefixKey, std::vector<uint32_t>, PrefixKeyHash> by_prefix;
  std::map<uint32_t, std::set<uint8_t>> lengths;
  for (uint32_t id : endpoints) {
    const Endpoint& e = policy.endpoint(id);
    by_prefix[{e.cidr.family, e.cidr.prefix, e.cidr.addr}].push_back(id);
    lengths[e.cidr.family].insert(e.cidr.prefix);
  }

  compiled.entries.reserve(by_prefix.size());
  for (const auto& [key, ids] : by_prefix) {
    std::vector<Range> ranges;
    for (uint8_t length : lengths[key.family]) {
      if (length > key.prefix) break;
      auto covering = by_prefix.find({key.family, length, mask(key.addr, length)});
      if (covering == by_prefix.end()) continue;
      for (uint32_t id : covering->second) append_ranges(policy.endpoint(id), ranges);
    }
    ranges = simplify(std::move(ranges));
    if (ranges.size() > AGENTD_MAX_PORT_RANGES) {
      std::set<std::string> sources;
      for (const auto& r : ranges) sources.insert(policy.endpoint(r.origin).pos.str());
      std::string list;
      for (const auto& s : sources) list += (list.empty() ? "" : ", ") + s;
      Cidr cidr{key.family, key.addr, key.prefix};
      return make_error("{} combines {} distinct port ranges for {} (at most {}): {}", agent.str(), ranges.size(),
                        cidr.str(), AGENTD_MAX_PORT_RANGES, list);
    }
    CompiledEntry entry;
    entry.family = key.family;
    entry.addr = key.addr;
    entry.prefix = key.prefix;
    for (const auto& r : ranges) {
      entry.value.ranges[entry.value.count++] = r.range;
      entry.origins.push_back(r.origin);
    }
    compiled.entries.push_back(std::move(entry));
  }
  std::sort(compiled.entries.begin(), compiled.entries.end(), [](const CompiledEntry& a, const CompiledEntry& b) {
    return std::tie(a.family, a.addr, a.prefix) < std::tie(b.family, b.addr, b.prefix);
  });
  return compiled;
}

}  // namespace agentd::policy
