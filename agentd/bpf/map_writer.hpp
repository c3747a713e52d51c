// Typed access to the pinned maps: rules of policy classes, the cgroup ->
// slot index, sandbox state, counters. The only code that writes them.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "agentd/bpf/enforcer.hpp"
#include "agentd/bpf/host_address_keys.hpp"
#include "agentd/common/result.hpp"
#include "agentd/policy/class_update.hpp"
#include "agentd/policy/compile.hpp"
#include "agentd_abi.h"

namespace agentd::bpf {

class MapWriter {
 public:
  explicit MapWriter(const MapFds& fds) : fds_(fds) {}

  // Writes every entry of a class (batched where the kernel can).
  Status put_class(uint32_t class_id, const std::vector<policy::CompiledEntry>& entries);
  // Takes a class's entries and names from one content to another in
  // place, in the order the update was planned in.
  Status update_class(uint32_t class_id, const policy::ClassUpdate& update);
  // Removes every rule entry of a class below `below` that is not in
  // `keep`: after a switch, and what a previous daemon left behind. Classes
  // made since are not touched (this runs off the loop while new
  // sandboxes may appear).
  Result<size_t> delete_unused_classes(const std::set<uint32_t>& keep, uint32_t below);
  // A class's names (the names trie): what its verified connections may carry.
  Status put_names(uint32_t class_id, const std::vector<policy::CompiledName>& names);
  // An operator's name grant for one sandbox, until `expires_ns` (CLOCK_MONOTONIC).
  Status put_name_grant(uint32_t slot, const std::string& name, uint64_t expires_ns);
  // The granted names in the trie (scope AGENTD_NAME_GRANT_SCOPE | slot).
  Result<std::vector<agentd_name_key>> granted_names() const;
  Status delete_name(const agentd_name_key& key);
  // What the tries hold per class (names of grant scopes left out), as a
  // compiled class without origins: what a previous daemon wrote.
  Result<std::map<uint32_t, policy::CompiledClass>> read_classes() const;
  // The classes that have entries in the rules or the names trie.
  Result<std::set<uint32_t>> classes_in_rules() const;

  Status set_cgroup_slot(uint64_t cgroup_id, uint32_t slot);
  Status delete_cgroup(uint64_t cgroup_id);
  Result<std::vector<std::pair<uint64_t, uint32_t>>> cgroup_slots() const;

  Status set_state(uint32_t slot, const agentd_sandbox_state& state);
  Result<agentd_sandbox_state> state(uint32_t slot) const;

  // Addresses learned through DNS.
  Status put_learned(const agentd_learned_key& key, const agentd_learned_value& value);
  Status delete_learned(const agentd_learned_key& key);
  Result<std::vector<std::pair<agentd_learned_key, agentd_learned_value>>> learned() const;
  // Addresses operators granted (same layout as learned ones).
  Status put_grant(const agentd_learned_key& key, const agentd_learned_value& value);
  Status delete_grant(const agentd_learned_key& key);
  Result<std::vector<std::pair<agentd_learned_key, agentd_learned_value>>> grants() const;
  // Where the hooks send DNS; disabled: DNS is judged like other traffic.
  Status set_dns_config(bool enabled, uint16_t proxy_port);
  // IPv6 DNS: index 0 the base port on ::1 (0: off), a slot the port that
  // serves it (0: none, its IPv6 queries are refused).
  Status set_dns6_port(uint32_t index, uint16_t port);

  // Summed over CPUs.
  Result<agentd_counters> counters(uint32_t slot) const;
  // Slots 0..slots-1 at once (batched): what status sums over every sandbox.
  Result<std::vector<agentd_counters>> all_counters(uint32_t slots) const;
  Result<std::vector<agentd_record_counts>> all_record_counts(uint32_t slots) const;
  // What became of a slot's denials past the stream limit (summed over CPUs).
  Result<agentd_record_counts> record_counts(uint32_t slot) const;
  // What the name checks did with a slot's connections (summed over CPUs).
  Result<agentd_name_counts> name_counts(uint32_t slot) const;
  // Bytes and packets a slot's sockets sent and received, by class.
  Result<agentd_traffic> traffic(uint32_t slot) const;
  Status reset_counters(uint32_t slot);
  // The records' rate-limit state of a slot, forgotten: a retired
  // sandbox's repeats never hold back the next one's records.
  Status forget_rate_limits(uint32_t slot);
  Status forget_rate_limits(const std::function<bool(uint32_t slot)>& which);
  // Where the DNS proxy listens for a sandbox besides agentd's own
  // network namespace (a container's): bpf/dns.bpf.h, proxy_serves.
  Status put_dns_netns(uint64_t cookie, uint32_t slot);
  Status delete_dns_netns(uint64_t cookie, uint32_t slot);
  Result<uint64_t> stat(agentd_stat which) const;
  // Makes the host addresses listed for one network namespace exactly
  // `keys` (host_address_keys); returns how many entries changed.
  Result<size_t> sync_host_addresses(uint64_t netns_cookie, const std::vector<agentd_hostaddr_key>& keys);

 private:
  Status put_rule_entries(uint32_t class_id, const std::vector<const policy::CompiledEntry*>& entries);
  MapFds fds_;
};

agentd_rule_key make_rule_key(uint32_t class_id, const policy::CompiledEntry& entry);

}  // namespace agentd::bpf
