#include "agentd/policy/compile.hpp"

#include <algorithm>
#include <cstring>
#include <string_view>
#include <tuple>

#include <fmt/format.h>

#include "agentd/policy/names.hpp"
#include "agentd/policy/ranges.hpp"

namespace agentd::policy {
namespace {

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

  // Each prefix's entry carries the ranges of every endpoint whose prefix
  // covers it. In (family, address, length) order a prefix comes after
  // every prefix that covers it, and the prefixes still open on a stack
  // are exactly its covering ones: one sort and one sweep, instead of a
  // hash lookup per length in use for every entry (2.5 million lookups
  // at 100,000 random prefixes, most of a reload's compile).
  struct Item {
    uint32_t family;
    std::array<uint8_t, 16> addr;
    uint8_t prefix;
    uint32_t id;
  };
  std::vector<Item> items;
  items.reserve(endpoints.size());
  for (uint32_t id : endpoints) {
    const Endpoint& e = policy.endpoint(id);
    items.push_back({e.key_family(), e.cidr.addr, e.cidr.prefix, id});
  }
  // Stable: the endpoints of one prefix keep their policy order.
  std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    return std::tie(a.family, a.addr, a.prefix) < std::tie(b.family, b.addr, b.prefix);
  });
  // An open prefix: its endpoints, and the distinct ranges of those and
  // of every prefix covering it, in order (a prefix repeated by hundreds
  // of rules is deduplicated once, not once per entry under it).
  struct Group {
    size_t begin, end;  // in items: the endpoints of one prefix
    std::vector<OriginRange> unique;
  };
  auto covers = [&](const Group& outer, const Item& inner) {
    const Item& o = items[outer.begin];
    return o.family == inner.family && o.prefix <= inner.prefix && mask(inner.addr, o.prefix) == o.addr;
  };
  std::vector<Group> open;  // each covers the next
  compiled.entries.reserve(items.size());
  for (size_t begin = 0; begin < items.size();) {
    const Item& item = items[begin];
    size_t end = begin + 1;
    while (end < items.size() && items[end].family == item.family && items[end].addr == item.addr &&
           items[end].prefix == item.prefix)
      ++end;
    while (!open.empty() && !covers(open.back(), item)) open.pop_back();
    // Shortest prefix first, as the kernel's value lists them.
    Group group{begin, end, open.empty() ? std::vector<OriginRange>{} : open.back().unique};
    for (size_t i = begin; i < end; ++i) append_unique_ranges(policy.endpoint(items[i].id), group.unique);
    const std::vector<OriginRange> ranges = simplify_ranges(group.unique);
    open.push_back(std::move(group));
    if (ranges.size() > AGENTD_MAX_PORT_RANGES) {
      const Cidr cidr{item.family & ~uint32_t{AGENTD_FAMILY_INBOUND}, item.addr, item.prefix};
      if (auto fits = check_fits_one_value(policy, ranges, agent, cidr.str()); !fits) return fits.error();
    }
    CompiledEntry entry;
    entry.family = item.family;
    entry.addr = item.addr;
    entry.prefix = item.prefix;
    entry.origins.reserve(ranges.size());
    for (const auto& r : ranges) {
      entry.value.ranges[entry.value.count++] = r.range;
      entry.origins.push_back(r.origin);
    }
    compiled.entries.push_back(std::move(entry));
    begin = end;
  }
  return compiled;
}

}  // namespace agentd::policy
