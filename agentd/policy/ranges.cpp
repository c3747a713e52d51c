#include "agentd/policy/ranges.hpp"

#include <algorithm>
#include <set>
#include <tuple>

namespace agentd::policy {

uint8_t action_of(EndpointKind kind) {
  switch (kind) {
    case EndpointKind::allow:
      return AGENTD_ACTION_ALLOW;
    case EndpointKind::deny:
      return AGENTD_ACTION_DENY;
    case EndpointKind::inference:
      return AGENTD_ACTION_INFERENCE;
  }
  return AGENTD_ACTION_DENY;
}

void append_ranges(const Endpoint& e, std::vector<OriginRange>& out) {
  const uint8_t action = action_of(e.kind);
  const uint8_t verify = e.verify_mode();
  if (e.ports.empty()) {
    out.push_back({{0, 65535, e.proto_mask, action, verify, 0}, e.id});
    return;
  }
  for (const auto& p : e.ports) out.push_back({{p.lo, p.hi, e.proto_mask, action, verify, 0}, e.id});
}

namespace {

bool same_range(const OriginRange& a, const OriginRange& b) {
  return std::tie(a.range.action, a.range.proto_mask, a.range.verify, a.range.lo, a.range.hi) ==
         std::tie(b.range.action, b.range.proto_mask, b.range.verify, b.range.lo, b.range.hi);
}

void push_unique(std::vector<OriginRange>& unique, const OriginRange& r) {
  if (std::none_of(unique.begin(), unique.end(), [&](const OriginRange& u) { return same_range(u, r); }))
    unique.push_back(r);
}

}  // namespace

void append_unique_ranges(const Endpoint& e, std::vector<OriginRange>& unique) {
  const uint8_t action = action_of(e.kind);
  const uint8_t verify = e.verify_mode();
  if (e.ports.empty()) {
    push_unique(unique, {{0, 65535, e.proto_mask, action, verify, 0}, e.id});
    return;
  }
  for (const auto& p : e.ports) push_unique(unique, {{p.lo, p.hi, e.proto_mask, action, verify, 0}, e.id});
}

std::vector<OriginRange> simplify_ranges(const std::vector<OriginRange>& ranges) {
  std::vector<OriginRange> unique;
  for (const auto& r : ranges) push_unique(unique, r);
  if (unique.size() <= AGENTD_MAX_PORT_RANGES) return unique;
  std::stable_sort(unique.begin(), unique.end(), [](const OriginRange& a, const OriginRange& b) {
    return std::tie(a.range.action, a.range.proto_mask, a.range.verify, a.range.lo) <
           std::tie(b.range.action, b.range.proto_mask, b.range.verify, b.range.lo);
  });
  std::vector<OriginRange> merged;
  for (const auto& r : unique) {
    if (!merged.empty()) {
      auto& last = merged.back().range;
      if (last.action == r.range.action && last.proto_mask == r.range.proto_mask && last.verify == r.range.verify &&
          static_cast<uint32_t>(r.range.lo) <= static_cast<uint32_t>(last.hi) + 1) {
        last.hi = std::max(last.hi, r.range.hi);
        continue;
      }
    }
    merged.push_back(r);
  }
  return merged;
}

Status check_fits_one_value(const PolicySet& policy, const std::vector<OriginRange>& ranges, const AgentName& agent,
                            const std::string& what) {
  if (ranges.size() <= AGENTD_MAX_PORT_RANGES) return ok_status();
  std::set<std::string> sources;
  for (const auto& r : ranges) sources.insert(policy.endpoint(r.origin).pos.str());
  std::string list;
  for (const auto& s : sources) list += (list.empty() ? "" : ", ") + s;
  return make_error("{} combines {} distinct port ranges for {} (at most {}): {}", agent.str(), ranges.size(), what,
                    AGENTD_MAX_PORT_RANGES, list);
}

}  // namespace agentd::policy
