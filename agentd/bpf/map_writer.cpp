#include "agentd/bpf/map_writer.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <string>
#include <tuple>

namespace agentd::bpf {
namespace {

// One entry of a per-CPU map, read on every possible CPU and summed.
template <typename T, typename Add>
Result<T> sum_per_cpu(int fd, uint32_t key, const char* what, Add add) {
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return make_error("counting possible CPUs: {}", cpus);
  std::vector<T> per_cpu(static_cast<size_t>(cpus));
  if (bpf_map_lookup_elem(fd, &key, per_cpu.data()) != 0) return system_error("reading {} {}", what, key);
  T total{};
  for (const auto& c : per_cpu) add(total, c);
  return total;
}

void add_counters(agentd_counters& total, const agentd_counters& c) {
  total.allowed += c.allowed;
  total.denied += c.denied;
  total.suppressed += c.suppressed;
}

void add_record_counts(agentd_record_counts& total, const agentd_record_counts& c) {
  total.recorded += c.recorded;
  total.held += c.held;
  total.dropped += c.dropped;
}

// Slots 0..slots-1 of an array map in as few syscalls as the kernel allows
// (a batch of every slot), each slot's `copies` values (a per-CPU array's
// CPUs, or 1) given to `add`: status sums every sandbox's counts, and the
// reload's switch compares every sandbox's state; one lookup per slot was a
// syscall each, 5 ms a thousand sandboxes.
template <typename T, typename Add>
Result<std::vector<T>> read_slots(int fd, uint32_t slots, int copies, const char* what, Add add) {
  static_assert(sizeof(T) % 8 == 0, "per-CPU values are laid out 8-byte aligned");
  std::vector<T> totals(slots);
  std::vector<uint32_t> keys(slots);
  std::vector<T> values(static_cast<size_t>(slots) * static_cast<size_t>(copies));
  uint32_t next = 0, done = 0;
  while (done < slots) {
    uint32_t count = slots - done;
    LIBBPF_OPTS(bpf_map_batch_opts, opts);
    const int rc = bpf_map_lookup_batch(fd, done == 0 ? nullptr : &next, &next, keys.data() + done,
                                        values.data() + static_cast<size_t>(done) * copies, &count, &opts);
    if (rc != 0 && errno != ENOENT) {
      // No batch here: one lookup per slot.
      for (uint32_t slot = done; slot < slots; ++slot) {
        if (bpf_map_lookup_elem(fd, &slot, values.data()) != 0) return system_error("reading {} {}", what, slot);
        for (int copy = 0; copy < copies; ++copy) add(totals[slot], values[static_cast<size_t>(copy)]);
      }
      return totals;
    }
    for (uint32_t i = done; i < done + count; ++i)
      for (int copy = 0; copy < copies; ++copy)
        add(totals[keys[i] < slots ? keys[i] : i], values[static_cast<size_t>(i) * copies + copy]);
    done += count;
    if (rc != 0 || count == 0) break;  // ENOENT: the array's end
  }
  return totals;
}

// The same of a per-CPU array, each slot summed over the CPUs.
template <typename T, typename Add>
Result<std::vector<T>> sum_per_cpu_slots(int fd, uint32_t slots, const char* what, Add add) {
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return make_error("counting possible CPUs: {}", cpus);
  return read_slots<T>(fd, slots, cpus, what, add);
}

}  // namespace

agentd_rule_key make_rule_key(uint32_t class_id, const policy::CompiledEntry& entry) {
  agentd_rule_key key{};
  key.prefixlen = AGENTD_KEY_FIXED_BITS + entry.prefix;
  key.class_id = class_id;
  key.family = entry.family;
  std::memcpy(key.addr, entry.addr.data(), sizeof(key.addr));
  return key;
}

Status MapWriter::put_class(uint32_t class_id, const std::vector<policy::CompiledEntry>& entries) {
  std::vector<const policy::CompiledEntry*> all;
  all.reserve(entries.size());
  for (const auto& entry : entries) all.push_back(&entry);
  return put_rule_entries(class_id, all);
}

Status MapWriter::put_rule_entries(uint32_t class_id, const std::vector<const policy::CompiledEntry*>& entries) {
  if (entries.empty()) return ok_status();
  std::vector<agentd_rule_key> keys;
  std::vector<agentd_rule_value> values;
  keys.reserve(entries.size());
  values.reserve(entries.size());
  for (const auto* entry : entries) {
    keys.push_back(make_rule_key(class_id, *entry));
    values.push_back(entry->value);
  }
  // One syscall for the lot (the trie has no batch op of its own on every
  // kernel; the generic one works): ~3x faster than one update per entry.
  // The generic batch writes in the order given, which update_class needs.
  uint32_t count = static_cast<uint32_t>(keys.size());
  LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = BPF_ANY);
  if (bpf_map_update_batch(fds_.rules, keys.data(), values.data(), &count, &opts) == 0) return ok_status();
  // A map type without batch commands answers with the kernel's own
  // ENOTSUPP (524, not in libc's headers; ENOTSUP is EOPNOTSUPP on Linux).
  constexpr int kKernelEnotsupp = 524;
  if (errno != EINVAL && errno != EOPNOTSUPP && errno != kKernelEnotsupp)
    return system_error("writing {} rule entries of class {}", keys.size(), class_id);
  for (size_t i = 0; i < keys.size(); ++i) {  // again from the start: count is not to be trusted here
    if (bpf_map_update_elem(fds_.rules, &keys[i], &values[i], BPF_ANY) != 0)
      return system_error("writing rule entry {} of class {}", i, class_id);
  }
  return ok_status();
}

Status MapWriter::update_class(uint32_t class_id, const policy::ClassUpdate& update) {
  // Puts before deletes, each list in the order planned (class_update.hpp).
  if (auto st = put_rule_entries(class_id, update.put_entries); !st) return st;
  for (const auto* name : update.put_names)
    if (auto st = put_names(class_id, {*name}); !st) return st;
  for (const auto* entry : update.delete_entries) {
    const agentd_rule_key key = make_rule_key(class_id, *entry);
    if (bpf_map_delete_elem(fds_.rules, &key) != 0 && errno != ENOENT)
      return system_error("removing a rule entry of class {}", class_id);
  }
  for (const auto* name : update.delete_names)
    if (auto st = delete_name(policy::make_name_key(class_id, name->pattern)); !st) return st;
  return ok_status();
}

Status MapWriter::put_names(uint32_t class_id, const std::vector<policy::CompiledName>& names) {
  for (const auto& name : names) {
    const agentd_name_key key = policy::make_name_key(class_id, name.pattern);
    agentd_learned_value value{};
    value.expires_ns = AGENTD_NEVER_EXPIRES;
    value.rules = name.value;
    if (bpf_map_update_elem(fds_.names, &key, &value, BPF_ANY) != 0)
      return system_error("writing the name {} of class {}", name.pattern, class_id);
  }
  return ok_status();
}

Status MapWriter::put_name_grant(uint32_t slot, const std::string& name, uint64_t expires_ns) {
  const agentd_name_key key = policy::make_name_key(AGENTD_NAME_GRANT_SCOPE | slot, name);
  agentd_learned_value value{};
  value.expires_ns = expires_ns;
  value.rules.count = 1;
  value.rules.ranges[0] = {1, 65535, AGENTD_PROTO_ANY, AGENTD_ACTION_ALLOW, AGENTD_VERIFY_NAME, 0};
  if (bpf_map_update_elem(fds_.names, &key, &value, BPF_ANY) != 0)
    return system_error("writing the granted name {} of slot {}", name, slot);
  return ok_status();
}

namespace {

// Every key of an LPM trie, collected first: deleting while walking a
// trie restarts the walk.
template <typename Key>
Result<std::vector<Key>> trie_keys(int fd, const char* what) {
  std::vector<Key> keys;
  Key key{}, next{};
  const void* previous = nullptr;
  while (bpf_map_get_next_key(fd, previous, &next) == 0) {
    keys.push_back(next);
    key = next;
    previous = &key;
  }
  if (errno != ENOENT) return system_error("listing {}", what);
  return keys;
}

}  // namespace

Result<std::vector<agentd_name_key>> MapWriter::granted_names() const {
  auto keys = trie_keys<agentd_name_key>(fds_.names, "names");
  if (!keys) return keys.error();
  std::erase_if(*keys, [](const agentd_name_key& k) { return !(k.scope & AGENTD_NAME_GRANT_SCOPE); });
  return keys;
}

Status MapWriter::delete_name(const agentd_name_key& key) {
  if (bpf_map_delete_elem(fds_.names, &key) != 0 && errno != ENOENT)
    return system_error("removing a name of scope {:#x}", key.scope);
  return ok_status();
}

Result<std::map<uint32_t, policy::CompiledClass>> MapWriter::read_classes() const {
  std::map<uint32_t, policy::CompiledClass> classes;
  auto rules = trie_keys<agentd_rule_key>(fds_.rules, "rule entries");
  if (!rules) return rules.error();
  for (const auto& k : *rules) {
    policy::CompiledEntry entry;
    // A lookup with an entry's own key and length finds that entry.
    if (bpf_map_lookup_elem(fds_.rules, &k, &entry.value) != 0)
      return system_error("reading a rule entry of class {}", k.class_id);
    entry.family = k.family;
    std::memcpy(entry.addr.data(), k.addr, entry.addr.size());
    entry.prefix = static_cast<uint8_t>(k.prefixlen - AGENTD_KEY_FIXED_BITS);
    classes[k.class_id].entries.push_back(std::move(entry));
  }
  auto names = trie_keys<agentd_name_key>(fds_.names, "names");
  if (!names) return names.error();
  for (const auto& k : *names) {
    if (k.scope & AGENTD_NAME_GRANT_SCOPE) continue;
    agentd_learned_value value{};
    if (bpf_map_lookup_elem(fds_.names, &k, &value) != 0) return system_error("reading a name of class {}", k.scope);
    classes[k.scope].names.push_back({policy::pattern_of_name_key(k), value.rules, {}});
  }
  for (auto& [id, compiled] : classes)
    std::sort(compiled.entries.begin(), compiled.entries.end(), [](const auto& a, const auto& b) {
      return std::tie(a.family, a.addr, a.prefix) < std::tie(b.family, b.addr, b.prefix);
    });
  return classes;
}

Result<std::set<uint32_t>> MapWriter::classes_in_rules() const {
  std::set<uint32_t> classes;
  auto rules = trie_keys<agentd_rule_key>(fds_.rules, "rule entries");
  if (!rules) return rules.error();
  for (const auto& k : *rules) classes.insert(k.class_id);
  auto names = trie_keys<agentd_name_key>(fds_.names, "names");
  if (!names) return names.error();
  for (const auto& k : *names)
    if (!(k.scope & AGENTD_NAME_GRANT_SCOPE)) classes.insert(k.scope);
  return classes;
}

Result<size_t> MapWriter::delete_unused_classes(const std::set<uint32_t>& keep, uint32_t below) {
  auto doomed = [&](uint32_t id) { return id < below && !keep.contains(id); };
  size_t removed = 0;
  auto rules = trie_keys<agentd_rule_key>(fds_.rules, "rule entries");
  if (!rules) return rules.error();
  for (const auto& k : *rules) {
    if (!doomed(k.class_id)) continue;
    if (bpf_map_delete_elem(fds_.rules, &k) != 0 && errno != ENOENT)
      return system_error("removing a rule entry of class {}", k.class_id);
    ++removed;
  }
  auto names = trie_keys<agentd_name_key>(fds_.names, "names");
  if (!names) return names.error();
  for (const auto& k : *names) {
    if ((k.scope & AGENTD_NAME_GRANT_SCOPE) || !doomed(k.scope)) continue;
    if (auto st = delete_name(k); !st) return st.error();
    ++removed;
  }
  return removed;
}

namespace {

// The learned and the grants map share their layout: exact addresses per slot.
Status put_exact(int fd, const agentd_learned_key& key, const agentd_learned_value& value, const char* what) {
  if (bpf_map_update_elem(fd, &key, &value, BPF_ANY) != 0)
    return system_error("writing a{} address for slot {}", what, key.slot);
  return ok_status();
}

Status delete_exact(int fd, const agentd_learned_key& key, const char* what) {
  if (bpf_map_delete_elem(fd, &key) != 0 && errno != ENOENT)
    return system_error("removing a{} address of slot {}", what, key.slot);
  return ok_status();
}

Result<std::vector<std::pair<agentd_learned_key, agentd_learned_value>>> list_exact(int fd, const char* what) {
  std::vector<std::pair<agentd_learned_key, agentd_learned_value>> entries;
  agentd_learned_key key{}, next{};
  const void* previous = nullptr;
  while (bpf_map_get_next_key(fd, previous, &next) == 0) {
    agentd_learned_value value{};
    if (bpf_map_lookup_elem(fd, &next, &value) == 0) entries.emplace_back(next, value);
    key = next;
    previous = &key;
  }
  if (errno != ENOENT) return system_error("listing{} addresses", what);
  return entries;
}

}  // namespace

Status MapWriter::put_learned(const agentd_learned_key& key, const agentd_learned_value& value) {
  return put_exact(fds_.learned, key, value, " learned");
}

Status MapWriter::delete_learned(const agentd_learned_key& key) { return delete_exact(fds_.learned, key, " learned"); }

Result<std::vector<std::pair<agentd_learned_key, agentd_learned_value>>> MapWriter::learned() const {
  return list_exact(fds_.learned, " learned");
}

Status MapWriter::put_grant(const agentd_learned_key& key, const agentd_learned_value& value) {
  return put_exact(fds_.grants, key, value, " granted");
}

Status MapWriter::delete_grant(const agentd_learned_key& key) { return delete_exact(fds_.grants, key, " granted"); }

Result<std::vector<std::pair<agentd_learned_key, agentd_learned_value>>> MapWriter::grants() const {
  return list_exact(fds_.grants, " granted");
}

Status MapWriter::set_dns_config(bool enabled, uint16_t proxy_port) {
  const uint32_t zero = 0;
  const agentd_dns_config config{enabled ? 1u : 0u, proxy_port};
  if (bpf_map_update_elem(fds_.dnscfg, &zero, &config, BPF_ANY) != 0) return system_error("writing the DNS settings");
  return ok_status();
}

Status MapWriter::set_dns6_port(uint32_t index, uint16_t port) {
  const agentd_dns6_port value{port};
  if (bpf_map_update_elem(fds_.dns6, &index, &value, BPF_ANY) != 0)
    return system_error("writing the IPv6 DNS port of slot {}", index);
  return ok_status();
}

Status MapWriter::set_cgroup_slot(uint64_t cgroup_id, uint32_t slot) {
  if (bpf_map_update_elem(fds_.cgroups, &cgroup_id, &slot, BPF_ANY) != 0)
    return system_error("registering cgroup {} as sandbox slot {}", cgroup_id, slot);
  return ok_status();
}

Status MapWriter::delete_cgroup(uint64_t cgroup_id) {
  if (bpf_map_delete_elem(fds_.cgroups, &cgroup_id) != 0 && errno != ENOENT)
    return system_error("removing cgroup {}", cgroup_id);
  return ok_status();
}

Result<std::vector<std::pair<uint64_t, uint32_t>>> MapWriter::cgroup_slots() const {
  std::vector<std::pair<uint64_t, uint32_t>> result;
  uint64_t key = 0, next = 0;
  const void* previous = nullptr;
  while (bpf_map_get_next_key(fds_.cgroups, previous, &next) == 0) {
    uint32_t slot = 0;
    if (bpf_map_lookup_elem(fds_.cgroups, &next, &slot) == 0) result.emplace_back(next, slot);
    key = next;
    previous = &key;
  }
  if (errno != ENOENT) return system_error("listing sandbox cgroups");
  return result;
}

Status MapWriter::set_state(uint32_t slot, const agentd_sandbox_state& state) {
  if (bpf_map_update_elem(fds_.state, &slot, &state, BPF_ANY) != 0)
    return system_error("writing state of sandbox slot {}", slot);
  return ok_status();
}

Result<agentd_sandbox_state> MapWriter::state(uint32_t slot) const {
  agentd_sandbox_state state{};
  if (bpf_map_lookup_elem(fds_.state, &slot, &state) != 0)
    return system_error("reading state of sandbox slot {}", slot);
  return state;
}

Result<std::vector<agentd_sandbox_state>> MapWriter::all_states(uint32_t slots) const {
  return read_slots<agentd_sandbox_state>(
      fds_.state, slots, 1, "state of sandbox slot",
      [](agentd_sandbox_state& slot, const agentd_sandbox_state& read) { slot = read; });
}

Result<agentd_counters> MapWriter::counters(uint32_t slot) const {
  return sum_per_cpu<agentd_counters>(fds_.counts, slot, "counters of sandbox slot", add_counters);
}

Result<std::vector<agentd_counters>> MapWriter::all_counters(uint32_t slots) const {
  return sum_per_cpu_slots<agentd_counters>(fds_.counts, slots, "counters of sandbox slot", add_counters);
}

Result<std::vector<agentd_record_counts>> MapWriter::all_record_counts(uint32_t slots) const {
  return sum_per_cpu_slots<agentd_record_counts>(fds_.records, slots, "record counts of sandbox slot",
                                                 add_record_counts);
}

Result<agentd_name_counts> MapWriter::name_counts(uint32_t slot) const {
  return sum_per_cpu<agentd_name_counts>(fds_.namecnt, slot, "name verification counts of slot",
                                         [](agentd_name_counts& t, const agentd_name_counts& c) {
                                           t.verified += c.verified;
                                           t.refused += c.refused;
                                           t.unverifiable += c.unverifiable;
                                         });
}

Result<agentd_record_counts> MapWriter::record_counts(uint32_t slot) const {
  return sum_per_cpu<agentd_record_counts>(fds_.records, slot, "record counts of sandbox slot", add_record_counts);
}

// A slot given to a new sandbox starts with zero counts and a full record
// budget: nothing of the previous holder's is charged to it.
Status MapWriter::reset_counters(uint32_t slot) {
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return make_error("counting possible CPUs: {}", cpus);
  std::vector<agentd_counters> zero(static_cast<size_t>(cpus));
  if (bpf_map_update_elem(fds_.counts, &slot, zero.data(), BPF_ANY) != 0)
    return system_error("resetting counters of sandbox slot {}", slot);
  std::vector<agentd_record_counts> zero_records(static_cast<size_t>(cpus));
  if (bpf_map_update_elem(fds_.records, &slot, zero_records.data(), BPF_ANY) != 0)
    return system_error("resetting record counts of sandbox slot {}", slot);
  std::vector<agentd_name_counts> zero_names(static_cast<size_t>(cpus));
  if (bpf_map_update_elem(fds_.namecnt, &slot, zero_names.data(), BPF_ANY) != 0)
    return system_error("resetting name verification counts of sandbox slot {}", slot);
  const agentd_record_budget full{};
  if (bpf_map_update_elem(fds_.budget, &slot, &full, BPF_ANY) != 0)
    return system_error("resetting the record budget of sandbox slot {}", slot);
  const agentd_traffic none{};
  if (bpf_map_update_elem(fds_.traffic, &slot, &none, BPF_ANY) != 0)
    return system_error("resetting the traffic counts of sandbox slot {}", slot);
  return ok_status();
}

Result<agentd_traffic> MapWriter::traffic(uint32_t slot) const {
  agentd_traffic t{};
  if (bpf_map_lookup_elem(fds_.traffic, &slot, &t) != 0) return system_error("reading the traffic of slot {}", slot);
  return t;
}

Status MapWriter::forget_rate_limits(uint32_t slot) {
  return forget_rate_limits([slot](uint32_t s) { return s == slot; });
}

Status MapWriter::forget_rate_limits(const std::function<bool(uint32_t slot)>& which) {
  // Collected first: deleting while walking would restart the walk.
  std::vector<agentd_ratelimit_key> mine;
  agentd_ratelimit_key key{}, next{};
  const void* previous = nullptr;
  while (bpf_map_get_next_key(fds_.ratelim, previous, &next) == 0) {
    if (which(next.slot)) mine.push_back(next);
    key = next;
    previous = &key;
  }
  if (errno != ENOENT) return system_error("listing the sandboxes' rate limits");
  for (const auto& k : mine)
    if (bpf_map_delete_elem(fds_.ratelim, &k) != 0 && errno != ENOENT)
      return system_error("forgetting a rate limit of sandbox slot {}", k.slot);
  return ok_status();
}

Status MapWriter::put_dns_netns(uint64_t cookie, uint32_t slot) {
  const agentd_dnsns_key key{cookie, slot, 0};
  const uint32_t served = 1;
  if (bpf_map_update_elem(fds_.dnsns, &key, &served, BPF_ANY) != 0)
    return system_error("serving DNS for sandbox slot {} in network namespace {}", slot, cookie);
  return ok_status();
}

Status MapWriter::delete_dns_netns(uint64_t cookie, uint32_t slot) {
  const agentd_dnsns_key key{cookie, slot, 0};
  if (bpf_map_delete_elem(fds_.dnsns, &key) != 0 && errno != ENOENT)
    return system_error("forgetting DNS for sandbox slot {} in network namespace {}", slot, cookie);
  return ok_status();
}

Result<size_t> MapWriter::sync_host_addresses(uint64_t netns_cookie, const std::vector<agentd_hostaddr_key>& keys) {
  // New addresses first, then the stale ones: an address that stays is
  // never missing for a moment.
  const std::set<agentd_hostaddr_key, HostAddressKeyLess> wanted(keys.begin(), keys.end());
  size_t changed = 0;
  const uint8_t listed = 1;
  for (const auto& k : wanted) {
    uint8_t present = 0;
    if (bpf_map_lookup_elem(fds_.hostaddr, &k, &present) == 0) continue;
    if (bpf_map_update_elem(fds_.hostaddr, &k, &listed, BPF_ANY) != 0)
      return system_error("listing one of the host's addresses for the hooks");
    ++changed;
  }
  std::vector<agentd_hostaddr_key> stale;
  agentd_hostaddr_key at{}, next{};
  const void* previous = nullptr;
  while (bpf_map_get_next_key(fds_.hostaddr, previous, &next) == 0) {
    if (next.netns_cookie == netns_cookie && !wanted.contains(next)) stale.push_back(next);
    at = next;
    previous = &at;
  }
  for (const auto& k : stale)
    if (bpf_map_delete_elem(fds_.hostaddr, &k) == 0) ++changed;
  return changed;
}

Result<uint64_t> MapWriter::stat(agentd_stat which) const {
  return sum_per_cpu<uint64_t>(fds_.stats, which, "stat", [](uint64_t& total, uint64_t v) { total += v; });
}

}  // namespace agentd::bpf
