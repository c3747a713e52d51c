#include "agentd/policy/diff.hpp"

#include <algorithm>
#include <map>
#include <tuple>

#include <fmt/format.h>

namespace agentd::policy {
namespace {

const char* kind_name(EndpointKind kind) {
  switch (kind) {
    case EndpointKind::allow:
      return "allow";
    case EndpointKind::deny:
      return "deny";
    case EndpointKind::inference:
      return "inference";
  }
  return "?";
}

// Where an endpoint is written: its place, and the preset's when it came from one.
std::string location_of(const Endpoint& e) {
  if (!e.preset) return e.pos.str();
  return fmt::format("{} preset {} at {}", e.pos.str(), e.preset->name, e.preset->pos.str());
}

// canonical line -> where it is written; a multimap keeps duplicates apart.
std::multimap<std::string, std::string> lines_of(const PolicySet& set, const TenantPolicy& tenant) {
  std::multimap<std::string, std::string> lines;
  // How its denials fail is part of what a change does to the agents.
  if (tenant.refuse_with == RefuseWith::econnrefused)
    lines.emplace(tenant.tenant + "/*/*: refuse_with econnrefused", tenant.file);
  for (uint32_t id : tenant.inference) {
    const Endpoint& e = set.endpoint(id);
    lines.emplace(canonical_line(set, e, tenant.tenant + "/*/*"), location_of(e));
  }
  for (const auto& rule : tenant.rules) {
    for (const auto* ids : {&rule.allow, &rule.deny, &rule.inbound_allow, &rule.inbound_deny})
      for (uint32_t id : *ids) {
        const Endpoint& e = set.endpoint(id);
        lines.emplace(canonical_line(set, e, rule.agents.text), location_of(e));
      }
  }
  return lines;
}

}  // namespace

std::string canonical_line(const PolicySet&, const Endpoint& e, const std::string& selector) {
  // Sorted: [443, 80] and [80, 443] are the same rule.
  auto sorted = e.ports;
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return std::tie(a.lo, a.hi) < std::tie(b.lo, b.hi); });
  std::string ports;
  for (const auto& p : sorted)
    ports += (ports.empty() ? "" : ",") + (p.lo == p.hi ? fmt::format("{}", p.lo) : fmt::format("{}-{}", p.lo, p.hi));
  const char* proto = e.proto_mask == AGENTD_PROTO_TCP ? "tcp" : e.proto_mask == AGENTD_PROTO_UDP ? "udp" : "tcp+udp";
  // A CIDR as before ("allow 198.51.100.0/24"), a host named as one
  // ("allow host api.github.com"). Whether a preset said it is no part of
  // the rule: the location says so.
  const std::string target = e.is_host() ? "host " + e.host : e.cidr.str();
  return fmt::format("{}: {}{} {} ports {} {}", selector, e.inbound ? "inbound " : "", kind_name(e.kind), target,
                     ports.empty() ? "all" : ports, proto);
}

std::vector<PolicyChange> diff_policies(const PolicySet& before, const PolicySet& after) {
  std::map<std::string, std::pair<const TenantPolicy*, const TenantPolicy*>> tenants;
  for (const auto& t : before.tenants()) tenants[t.tenant].first = &t;
  for (const auto& t : after.tenants()) tenants[t.tenant].second = &t;
  std::vector<PolicyChange> changes;
  for (const auto& [name, pair] : tenants) {
    auto old_lines = pair.first ? lines_of(before, *pair.first) : std::multimap<std::string, std::string>{};
    auto new_lines = pair.second ? lines_of(after, *pair.second) : std::multimap<std::string, std::string>{};
    // Match equal lines pairwise; what is left is removed or added.
    for (auto it = old_lines.begin(); it != old_lines.end();) {
      auto match = new_lines.find(it->first);
      if (match != new_lines.end()) {
        new_lines.erase(match);
        it = old_lines.erase(it);
      } else {
        ++it;
      }
    }
    for (const auto& [line, where] : old_lines) changes.push_back({false, name, line, where});
    for (const auto& [line, where] : new_lines) changes.push_back({true, name, line, where});
  }
  return changes;
}

}  // namespace agentd::policy
