#include "agentd/policy/compile.hpp"

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <string_view>
#include <tuple>
#include <unordered_map>

#include <fmt/format.h>

#include "agentd/policy/names.hpp"
#include "agentd/policy/ranges.hpp"

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

// The rules of a tenant that apply to an agent and hold an endpoint: what
// an agent's class is made of, besides the tenant's inference endpoints.
std::vector<const Rule*> rules_that_shape(const TenantPolicy& tenant, const AgentName& agent) {
  std::vector<const Rule*> rules;
  for (const Rule& rule : tenant.rules) {
    if (!rule.agents.matches(agent)) continue;
    if (rule.allow.empty() && rule.deny.empty() && rule.inbound_allow.empty() && rule.inbound_deny.empty()) continue;
    rules.push_back(&rule);
  }
  return rules;
}

}  // namespace

std::string pattern_of_name_key(const agentd_name_key& key) {
  const size_t n = std::min<size_t>(key.prefixlen > 32 ? (key.prefixlen - 32) / 8 : 0, AGENTD_NAME_MAX);
  const bool exact = n > 0 && key.name[n - 1] == 0;
  std::string pattern(reinterpret_cast<const char*>(key.name), exact ? n - 1 : n);
  std::reverse(pattern.begin(), pattern.end());
  return exact ? pattern : "*" + pattern;  // a wildcard's ".github.com" is "*.github.com"
}

std::string class_key_for(const PolicySet& policy, const AgentName& agent) {
  const TenantPolicy* tenant = policy.find(agent.tenant);
  if (!tenant) return "";
  std::string key = agent.tenant + "|";
  for (const Rule* rule : rules_that_shape(*tenant, agent)) key += fmt::format("{},", rule - tenant->rules.data());
  return key;
}

agentd_name_key make_name_key(uint32_t scope, std::string_view pattern) {
  agentd_name_key key{};
  key.scope = scope;
  const bool wildcard = pattern.size() >= 2 && pattern[0] == '*' && pattern[1] == '.';
  std::string_view stored = wildcard ? pattern.substr(1) : pattern;  // ".github.com" for "*.github.com"
  size_t n = 0;
  for (auto it = stored.rbegin(); it != stored.rend() && n < AGENTD_NAME_MAX; ++it)
    key.name[n++] = static_cast<uint8_t>(*it);
  if (!wildcard && n < AGENTD_NAME_MAX) key.name[n++] = 0;  // an exact name ends here
  key.prefixlen = 32 + 8 * static_cast<uint32_t>(n);
  return key;
}

Result<CompiledClass> compile_for_agent(const PolicySet& policy, const AgentName& agent) {
  CompiledClass compiled;
  const TenantPolicy* tenant = policy.find(agent.tenant);
  if (!tenant) return compiled;

  // Host endpoints make no address entries: the kernel learns their
  // addresses from the DNS proxy, per sandbox. Their ranges must fit a
  // value like a CIDR's do, and their names go into the class's names.
  const HostRules hosts(policy, agent);
  if (auto fits = hosts.check(); !fits) return fits.error();
  for (auto& pattern : hosts.patterns()) {
    // The kernel refuses a name of AGENTD_NAME_MAX bytes or more (with its
    // NUL) whatever the trie says: a pattern that long matches none it takes.
    if (pattern.pattern.size() >= AGENTD_NAME_MAX) continue;
    CompiledName name;
    name.pattern = std::move(pattern.pattern);
    for (const auto& r : pattern.ranges) {
      name.value.ranges[name.value.count++] = r.range;  // check() made sure they fit
      name.origins.push_back(r.origin);
    }
    compiled.names.push_back(std::move(name));
  }
  std::vector<uint32_t> endpoints;
  auto take = [&](const std::vector<uint32_t>& ids) {
    bool any = false;
    for (uint32_t id : ids) {
      any = true;
      if (!policy.endpoint(id).is_host()) endpoints.push_back(id);
    }
    return any;
  };
  take(tenant->inference);
  for (const Rule* rule : rules_that_shape(*tenant, agent))
    for (const auto* ids : {&rule->allow, &rule->deny, &rule->inbound_allow, &rule->inbound_deny}) take(*ids);
  compiled.key = class_key_for(policy, agent);

  // Endpoints by prefix, and which prefix lengths occur per family: an
  // entry's covering prefixes are found with one hash lookup per length in
  // use, not per possible length.
  std::unordered_map<PrefixKey, std::vector<uint32_t>, PrefixKeyHash> by_prefix;
  std::map<uint32_t, std::set<uint8_t>> lengths;
  for (uint32_t id : endpoints) {
    const Endpoint& e = policy.endpoint(id);
    by_prefix[{e.key_family(), e.cidr.prefix, e.cidr.addr}].push_back(id);
    lengths[e.key_family()].insert(e.cidr.prefix);
  }

  compiled.entries.reserve(by_prefix.size());
  for (const auto& [key, ids] : by_prefix) {
    std::vector<OriginRange> ranges;
    for (uint8_t length : lengths[key.family]) {
      if (length > key.prefix) break;
      auto covering = by_prefix.find({key.family, length, mask(key.addr, length)});
      if (covering == by_prefix.end()) continue;
      for (uint32_t id : covering->second) append_ranges(policy.endpoint(id), ranges);
    }
    ranges = simplify_ranges(ranges);
    if (auto fits = check_fits_one_value(
            policy, ranges, agent, Cidr{key.family & ~uint32_t{AGENTD_FAMILY_INBOUND}, key.addr, key.prefix}.str());
        !fits)
      return fits.error();
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
