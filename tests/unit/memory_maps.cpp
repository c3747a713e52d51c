#include "memory_maps.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

namespace agentd::testing {
namespace {

MemoryMaps::AddressKey address_key(const agentd_learned_key& k) {
  std::array<uint8_t, 16> addr{};
  std::memcpy(addr.data(), k.addr, addr.size());
  return {k.slot, k.family, addr};
}

agentd_learned_key learned_key(const MemoryMaps::AddressKey& k) {
  agentd_learned_key key{};
  key.slot = std::get<0>(k);
  key.family = std::get<1>(k);
  std::memcpy(key.addr, std::get<2>(k).data(), sizeof(key.addr));
  return key;
}

std::vector<std::pair<agentd_learned_key, agentd_learned_value>> listed(
    const std::map<MemoryMaps::AddressKey, agentd_learned_value>& entries) {
  std::vector<std::pair<agentd_learned_key, agentd_learned_value>> out;
  out.reserve(entries.size());
  for (const auto& [k, v] : entries) out.emplace_back(learned_key(k), v);
  return out;
}

MemoryMaps::RuleKey rule_key(uint32_t class_id, const policy::CompiledEntry& e) {
  return {class_id, e.family, e.addr, e.prefix};
}

}  // namespace

bool MemoryMaps::write(const std::string& what) {
  if (fail_write_in > 0 && --fail_write_in == 0) {
    writes.push_back("failed " + what);
    return false;
  }
  writes.push_back(what);
  return true;
}

size_t MemoryMaps::entries_of(uint32_t class_id) const {
  return static_cast<size_t>(
      std::count_if(rules.begin(), rules.end(), [&](const auto& r) { return std::get<0>(r.first) == class_id; }));
}

long MemoryMaps::first_write(const std::string& prefix) const {
  for (size_t i = 0; i < writes.size(); ++i)
    if (writes[i].rfind(prefix, 0) == 0) return static_cast<long>(i);
  return -1;
}

Status MemoryMaps::put_class(uint32_t class_id, const std::vector<policy::CompiledEntry>& entries) {
  // Entry by entry, as the kernel's trie fills: a failure leaves those before it.
  for (const auto& e : entries) {
    if (!write(fmt::format("put_entry {}", class_id))) return make_error("the rules trie is full (class {})", class_id);
    rules[rule_key(class_id, e)] = e.value;
  }
  writes.push_back(fmt::format("put_class {}", class_id));
  return ok_status();
}

Status MemoryMaps::update_class(uint32_t class_id, const policy::ClassUpdate& update) {
  for (const auto* e : update.put_entries) {
    if (!write(fmt::format("put_entry {}", class_id))) return make_error("the rules trie is full (class {})", class_id);
    rules[rule_key(class_id, *e)] = e->value;
  }
  for (const auto* n : update.put_names) {
    if (!write(fmt::format("put_name {}", class_id))) return make_error("the names trie is full (class {})", class_id);
    names[{class_id, n->pattern}] = agentd_learned_value{AGENTD_NEVER_EXPIRES, n->value};
  }
  for (const auto* e : update.delete_entries) {
    writes.push_back(fmt::format("delete_entry {}", class_id));
    rules.erase(rule_key(class_id, *e));
  }
  for (const auto* n : update.delete_names) {
    writes.push_back(fmt::format("delete_name {}", class_id));
    names.erase({class_id, n->pattern});
  }
  writes.push_back(fmt::format("update_class {}", class_id));
  return ok_status();
}

Result<size_t> MemoryMaps::delete_unused_classes(const std::set<uint32_t>& keep, uint32_t below) {
  size_t removed = 0;
  auto unused = [&](uint32_t id) { return id < below && !keep.contains(id); };
  for (auto it = rules.begin(); it != rules.end();) {
    if (unused(std::get<0>(it->first))) {
      it = rules.erase(it);
      ++removed;
    } else {
      ++it;
    }
  }
  for (auto it = names.begin(); it != names.end();) {
    const uint32_t scope = it->first.first;
    if (!(scope & AGENTD_NAME_GRANT_SCOPE) && unused(scope)) {
      it = names.erase(it);
      ++removed;
    } else {
      ++it;
    }
  }
  writes.push_back(fmt::format("delete_unused below {}", below));
  return removed;
}

Status MemoryMaps::put_names(uint32_t class_id, const std::vector<policy::CompiledName>& list) {
  for (const auto& n : list) {
    if (!write(fmt::format("put_name {}", class_id))) return make_error("the names trie is full (class {})", class_id);
    names[{class_id, n.pattern}] = agentd_learned_value{AGENTD_NEVER_EXPIRES, n.value};
  }
  return ok_status();
}

Status MemoryMaps::put_name_grant(uint32_t slot, const std::string& name, uint64_t expires_ns) {
  if (!write(fmt::format("put_name_grant {}", slot))) return make_error("the names trie is full");
  names[{AGENTD_NAME_GRANT_SCOPE | slot, name}] = agentd_learned_value{expires_ns, {}};
  return ok_status();
}

Result<std::vector<agentd_name_key>> MemoryMaps::granted_names() const {
  std::vector<agentd_name_key> out;
  for (const auto& [k, v] : names)
    if (k.first & AGENTD_NAME_GRANT_SCOPE) out.push_back(policy::make_name_key(k.first, k.second));
  return out;
}

Status MemoryMaps::delete_name(const agentd_name_key& key) {
  writes.push_back(fmt::format("delete_name {}", key.scope));
  names.erase({key.scope, policy::pattern_of_name_key(key)});
  return ok_status();
}

Result<std::map<uint32_t, policy::CompiledClass>> MemoryMaps::read_classes() const {
  std::map<uint32_t, policy::CompiledClass> classes;
  for (const auto& [k, value] : rules) {
    policy::CompiledEntry entry;
    entry.family = std::get<1>(k);
    entry.addr = std::get<2>(k);
    entry.prefix = std::get<3>(k);
    entry.value = value;
    classes[std::get<0>(k)].entries.push_back(entry);  // std::map order: family, address, prefix
  }
  for (const auto& [k, v] : names)
    if (!(k.first & AGENTD_NAME_GRANT_SCOPE)) classes[k.first].names.push_back({k.second, v.rules, {}});
  return classes;
}

Result<std::set<uint32_t>> MemoryMaps::classes_in_rules() const {
  std::set<uint32_t> out;
  for (const auto& [k, v] : rules) out.insert(std::get<0>(k));
  for (const auto& [k, v] : names)
    if (!(k.first & AGENTD_NAME_GRANT_SCOPE)) out.insert(k.first);
  return out;
}

Status MemoryMaps::set_cgroup_slot(uint64_t cgroup_id, uint32_t slot) {
  if (!write(fmt::format("set_cgroup {} slot {}", cgroup_id, slot))) return make_error("the cgroup map is full");
  cgroups[cgroup_id] = slot;
  return ok_status();
}

Status MemoryMaps::delete_cgroup(uint64_t cgroup_id) {
  if (!write(fmt::format("delete_cgroup {}", cgroup_id))) return make_error("deleting cgroup {}", cgroup_id);
  cgroups.erase(cgroup_id);
  return ok_status();
}

Result<std::vector<std::pair<uint64_t, uint32_t>>> MemoryMaps::cgroup_slots() const {
  return std::vector<std::pair<uint64_t, uint32_t>>(cgroups.begin(), cgroups.end());
}

Status MemoryMaps::set_state(uint32_t slot, const agentd_sandbox_state& state) {
  if (!write(fmt::format("set_state {} class {}", slot, state.class_id))) return make_error("writing state {}", slot);
  states[slot] = state;
  return ok_status();
}

Result<agentd_sandbox_state> MemoryMaps::state(uint32_t slot) const {
  auto it = states.find(slot);
  return it == states.end() ? agentd_sandbox_state{} : it->second;
}

Result<std::vector<agentd_sandbox_state>> MemoryMaps::all_states(uint32_t slots) const {
  std::vector<agentd_sandbox_state> all(slots);
  for (const auto& [slot, state] : states)
    if (slot < slots) all[slot] = state;
  return all;
}

Status MemoryMaps::put_learned(const agentd_learned_key& key, const agentd_learned_value& value) {
  if (!write(fmt::format("put_learned {}", key.slot))) return make_error("the learned map is full");
  learned_entries[address_key(key)] = value;
  return ok_status();
}

Status MemoryMaps::delete_learned(const agentd_learned_key& key) {
  writes.push_back(fmt::format("delete_learned {}", key.slot));
  learned_entries.erase(address_key(key));
  return ok_status();
}

Result<std::vector<std::pair<agentd_learned_key, agentd_learned_value>>> MemoryMaps::learned() const {
  return listed(learned_entries);
}

Status MemoryMaps::put_grant(const agentd_learned_key& key, const agentd_learned_value& value) {
  if (!write(fmt::format("put_grant {}", key.slot))) return make_error("the grants map is full");
  grant_entries[address_key(key)] = value;
  return ok_status();
}

Status MemoryMaps::delete_grant(const agentd_learned_key& key) {
  writes.push_back(fmt::format("delete_grant {}", key.slot));
  grant_entries.erase(address_key(key));
  return ok_status();
}

Result<std::vector<std::pair<agentd_learned_key, agentd_learned_value>>> MemoryMaps::grants() const {
  return listed(grant_entries);
}

Status MemoryMaps::set_dns6_port(uint32_t index, uint16_t port) {
  if (!write(fmt::format("set_dns6_port {} {}", index, port))) return make_error("writing dns6 port {}", index);
  if (port == 0)
    dns6_ports.erase(index);  // an array map: 0 is no port
  else
    dns6_ports[index] = port;
  return ok_status();
}

// What the daemon's logic does not read back: accepted; zero when read.
Status MemoryMaps::set_dns_config(bool, uint16_t) { return ok_status(); }
Result<agentd_counters> MemoryMaps::counters(uint32_t) const { return agentd_counters{}; }
Result<std::vector<agentd_counters>> MemoryMaps::all_counters(uint32_t slots) const {
  return std::vector<agentd_counters>(slots);
}
Result<std::vector<agentd_record_counts>> MemoryMaps::all_record_counts(uint32_t slots) const {
  return std::vector<agentd_record_counts>(slots);
}
Result<agentd_record_counts> MemoryMaps::record_counts(uint32_t) const { return agentd_record_counts{}; }
Result<agentd_name_counts> MemoryMaps::name_counts(uint32_t) const { return agentd_name_counts{}; }
Result<agentd_traffic> MemoryMaps::traffic(uint32_t) const { return agentd_traffic{}; }
Status MemoryMaps::reset_counters(uint32_t slot) {
  if (!write(fmt::format("reset_counters {}", slot))) return make_error("resetting counters {}", slot);
  return ok_status();
}
Status MemoryMaps::forget_rate_limits(uint32_t) { return ok_status(); }
Status MemoryMaps::forget_rate_limits(const std::function<bool(uint32_t)>&) { return ok_status(); }
Status MemoryMaps::put_dns_netns(uint64_t, uint32_t) { return ok_status(); }
Status MemoryMaps::delete_dns_netns(uint64_t, uint32_t) { return ok_status(); }
Result<uint64_t> MemoryMaps::stat(agentd_stat) const { return uint64_t{0}; }
Result<size_t> MemoryMaps::sync_host_addresses(uint64_t, const std::vector<agentd_hostaddr_key>&) { return size_t{0}; }

}  // namespace agentd::testing
