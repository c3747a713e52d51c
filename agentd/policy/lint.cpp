#include "agentd/policy/lint.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>

#include "agentd/policy/diff.hpp"
#include "agentd/policy/ports.hpp"
#include "agentd/policy/names.hpp"

namespace agentd::policy {
namespace {

// One endpoint of a tenant's rules with the selector it applies to.
struct Entry {
  const Endpoint* endpoint;
  const Selector* selector;  // null for an inference endpoint (every agent of the tenant)
};

// Whether the glob `wide` matches every name that `narrow` (a glob or a
// name) matches. Exact for "*", the same text and a plain name; a glob
// under another glob is not worked out (no warning is better than a wrong one).
bool part_covers(const std::string& wide, const std::string& narrow) {
  if (wide == "*" || wide == narrow) return true;
  if (narrow.find_first_of("*?[") != std::string::npos) return false;
  return fnmatch(wide.c_str(), narrow.c_str(), 0) == 0;
}

bool selector_covers(const Selector& wide, const Selector& narrow) {
  return wide.tenant == narrow.tenant && part_covers(wide.team_glob, narrow.team_glob) &&
         part_covers(wide.agent_glob, narrow.agent_glob);
}

// Whether the deny's ports (merged) hold every port the allow names; no
// ports is every port.
bool ports_cover(const std::vector<PortRange>& deny, const std::vector<PortRange>& allow) {
  const std::vector<PortRange> all{{0, 65535}};
  const std::vector<PortRange> runs = merge_port_ranges(deny.empty() ? all : deny);
  for (const auto& want : allow.empty() ? all : allow) {
    const bool held =
        std::any_of(runs.begin(), runs.end(), [&](const auto& r) { return r.lo <= want.lo && want.hi <= r.hi; });
    if (!held) return false;
  }
  return true;
}

// Whether `deny` refuses everything `allow` would let through.
bool shadows(const Entry& deny, const Entry& allow) {
  const Endpoint& d = *deny.endpoint;
  const Endpoint& a = *allow.endpoint;
  return (a.proto_mask & ~d.proto_mask) == 0 && ports_cover(d.ports, a.ports) &&
         selector_covers(*deny.selector, *allow.selector);
}

std::string cidr_key(bool inbound, uint32_t family, const std::array<uint8_t, 16>& addr, unsigned prefix) {
  std::string key(reinterpret_cast<const char*>(addr.data()), addr.size());
  key += static_cast<char>(prefix);
  key += static_cast<char>(family);
  key += inbound ? 'i' : 'o';
  return key;
}

// An endpoint as a warning at its own place names it: describe() without
// the place ("rules[0].allow[1] (host api.example.com)").
std::string subject(const Endpoint& e) { return e.describe().substr(e.pos.str().size() + 1); }

class TenantLinter {
 public:
  TenantLinter(const PolicySet& set, const TenantPolicy& tenant, std::vector<Diagnostic>& out) : set_(set), out_(out) {
    for (uint32_t id : tenant.inference) inference_.push_back({&set.endpoint(id), nullptr});
    for (const auto& rule : tenant.rules) {
      for (const auto* ids : {&rule.allow, &rule.inbound_allow})
        for (uint32_t id : *ids) allows_.push_back({&set.endpoint(id), &rule.agents});
      for (const auto* ids : {&rule.deny, &rule.inbound_deny})
        for (uint32_t id : *ids) index_deny({&set.endpoint(id), &rule.agents});
    }
  }

  void run() {
    duplicates();
    for (const auto& allow : allows_) shadowed(allow);
  }

 private:
  void index_deny(const Entry& deny) {
    denies_.push_back(deny);
    const Endpoint& e = *deny.endpoint;
    if (!e.is_host()) {
      cidr_denies_[cidr_key(e.inbound, e.cidr.family, e.cidr.addr, e.cidr.prefix)].push_back(deny);
    } else if (e.host.rfind("*.", 0) == 0) {
      glob_denies_[e.host.substr(2)].push_back(deny);
    } else {
      host_denies_[e.host].push_back(deny);
    }
  }

  // Once per (place, cause): a preset entry expands into many endpoints.
  void warn(const Endpoint& at, const Endpoint& cause, std::string message) {
    if (warned_.emplace(at.pos.str(), cause.pos.str()).second) out_.push_back({at.pos, std::move(message)});
  }

  void duplicates() {
    std::unordered_map<std::string, const Endpoint*> first;
    auto check = [&](const Entry& entry) {
      const Endpoint& e = *entry.endpoint;
      const std::string selector = entry.selector ? entry.selector->text : e.tenant + "/*/*";
      // verify is part of what a host allow does, though no part of the line.
      const std::string key = fmt::format("{}|{}", canonical_line(set_, e, selector), e.verify_mode());
      auto [it, inserted] = first.emplace(key, &e);
      if (inserted) return;
      warn(e, *it->second,
           fmt::format("{} repeats {}: the same destination for the same agents; remove one", subject(e),
                       it->second->describe()));
    };
    for (const auto& entry : inference_) check(entry);
    for (const auto& entry : allows_) check(entry);
    for (const auto& entry : denies_) check(entry);
  }

  // The first deny in `denies` that shadows `allow`, if any.
  static const Entry* shadowing(const std::vector<Entry>& denies, const Entry& allow) {
    for (const auto& deny : denies)
      if (shadows(deny, allow)) return &deny;
    return nullptr;
  }

  // The deny that shadows `allow`, and how it covers the destination.
  std::pair<const Entry*, const char*> find_shadow(const Entry& allow) const {
    const Endpoint& a = *allow.endpoint;
    if (!a.is_host()) {
      // Every deny whose network holds this one: one lookup per prefix length.
      for (unsigned prefix = 0; prefix <= a.cidr.prefix; ++prefix) {
        auto found = cidr_denies_.find(cidr_key(a.inbound, a.cidr.family, masked_address(a.cidr.addr, prefix), prefix));
        if (found == cidr_denies_.end()) continue;
        if (const Entry* deny = shadowing(found->second, allow)) return {deny, "the same or a wider range is denied"};
      }
      return {nullptr, ""};
    }
    if (auto found = host_denies_.find(a.host); found != host_denies_.end())
      if (const Entry* deny = shadowing(found->second, allow)) return {deny, "the same host is denied"};
    // "*.github.com" covers "api.github.com", "a.b.github.com" and
    // "*.api.github.com": look up every suffix after a dot.
    for (size_t dot = a.host.find('.'); dot != std::string::npos; dot = a.host.find('.', dot + 1)) {
      auto found = glob_denies_.find(a.host.substr(dot + 1));
      if (found == glob_denies_.end()) continue;
      if (const Entry* deny = shadowing(found->second, allow)) return {deny, "the deny glob covers the host"};
    }
    return {nullptr, ""};
  }

  void shadowed(const Entry& allow) {
    auto [deny, how] = find_shadow(allow);
    if (!deny) return;
    const Endpoint& a = *allow.endpoint;
    warn(a, *deny->endpoint,
         fmt::format("{} is shadowed by {}: {}, on all its ports and protocols and for all its agents (a deny "
                     "beats every allow)",
                     subject(a), deny->endpoint->describe(), how));
  }

  const PolicySet& set_;
  std::vector<Diagnostic>& out_;
  std::vector<Entry> inference_, allows_, denies_;
  std::unordered_map<std::string, std::vector<Entry>> cidr_denies_, host_denies_, glob_denies_;
  std::set<std::pair<std::string, std::string>> warned_;
};

}  // namespace

std::vector<Diagnostic> lint_policy(const PolicySet& policy) {
  std::vector<Diagnostic> out;
  for (const auto& tenant : policy.tenants()) TenantLinter(policy, tenant, out).run();
  std::stable_sort(out.begin(), out.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.pos.file, a.pos.line, a.pos.column) < std::tie(b.pos.file, b.pos.line, b.pos.column);
  });
  return out;
}

}  // namespace agentd::policy
