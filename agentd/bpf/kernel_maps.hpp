// The kernel's maps as the daemon sees them: every read and write of the
// pinned maps goes through this interface. MapWriter (map_writer.hpp) is
// the real one, on the kernel's maps; tests/unit/memory_maps.hpp keeps
// them in memory, so the daemon's logic (PolicyApplier, DnsLearning, the
// approvals' grant sync) is unit-tested without root.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "agentd/bpf/host_address_keys.hpp"
#include "agentd/common/result.hpp"
#include "agentd/policy/class_update.hpp"
#include "agentd/policy/compile.hpp"
#include "agentd_abi.h"

namespace agentd::bpf {

class KernelMaps {
 public:
  virtual ~KernelMaps() = default;

  // Writes every entry of a class (batched where the kernel can).
  virtual Status put_class(uint32_t class_id, const std::vector<policy::CompiledEntry>& entries) = 0;
  // Takes a class's entries and names from one content to another in
  // place, in the order the update was planned in.
  virtual Status update_class(uint32_t class_id, const policy::ClassUpdate& update) = 0;
  // Removes every rule entry of a class below `below` that is not in
  // `keep`: after a switch, and what a previous daemon left behind. Classes
  // made since are not touched (this runs off the loop while new
  // sandboxes may appear).
  virtual Result<size_t> delete_unused_classes(const std::set<uint32_t>& keep, uint32_t below) = 0;
  // A class's names (the names trie): what its verified connections may carry.
  virtual Status put_names(uint32_t class_id, const std::vector<policy::CompiledName>& names) = 0;
  // An operator's name grant for one sandbox, until `expires_ns` (CLOCK_MONOTONIC).
  virtual Status put_name_grant(uint32_t slot, const std::string& name, uint64_t expires_ns) = 0;
  // The granted names in the trie (scope AGENTD_NAME_GRANT_SCOPE | slot).
  virtual Result<std::vector<agentd_name_key>> granted_names() const = 0;
  virtual Status delete_name(const agentd_name_key& key) = 0;
  // What the tries hold per class (names of grant scopes left out), as a
  // compiled class without origins: what a previous daemon wrote.
  virtual Result<std::map<uint32_t, policy::CompiledClass>> read_classes() const = 0;
  // The classes that have entries in the rules or the names trie.
  virtual Result<std::set<uint32_t>> classes_in_rules() const = 0;

  virtual Status set_cgroup_slot(uint64_t cgroup_id, uint32_t slot) = 0;
  virtual Status delete_cgroup(uint64_t cgroup_id) = 0;
  virtual Result<std::vector<std::pair<uint64_t, uint32_t>>> cgroup_slots() const = 0;

  virtual Status set_state(uint32_t slot, const agentd_sandbox_state& state) = 0;
  virtual Result<agentd_sandbox_state> state(uint32_t slot) const = 0;
  // Slots 0..slots-1 at once (batched): what a reload's switch compares.
  virtual Result<std::vector<agentd_sandbox_state>> all_states(uint32_t slots) const = 0;

  // Addresses learned through DNS.
  virtual Status put_learned(const agentd_learned_key& key, const agentd_learned_value& value) = 0;
  virtual Status delete_learned(const agentd_learned_key& key) = 0;
  virtual Result<std::vector<std::pair<agentd_learned_key, agentd_learned_value>>> learned() const = 0;
  // Addresses operators granted (same layout as learned ones).
  virtual Status put_grant(const agentd_learned_key& key, const agentd_learned_value& value) = 0;
  virtual Status delete_grant(const agentd_learned_key& key) = 0;
  virtual Result<std::vector<std::pair<agentd_learned_key, agentd_learned_value>>> grants() const = 0;
  // Where the hooks send DNS; disabled: DNS is judged like other traffic.
  virtual Status set_dns_config(bool enabled, uint16_t proxy_port) = 0;
  // IPv6 DNS: index 0 the base port on ::1 (0: off), a slot the port that
  // serves it (0: none, its IPv6 queries are refused).
  virtual Status set_dns6_port(uint32_t index, uint16_t port) = 0;

  // Summed over CPUs.
  virtual Result<agentd_counters> counters(uint32_t slot) const = 0;
  // Slots 0..slots-1 at once (batched): what status sums over every sandbox.
  virtual Result<std::vector<agentd_counters>> all_counters(uint32_t slots) const = 0;
  virtual Result<std::vector<agentd_record_counts>> all_record_counts(uint32_t slots) const = 0;
  // What became of a slot's denials past the stream limit (summed over CPUs).
  virtual Result<agentd_record_counts> record_counts(uint32_t slot) const = 0;
  // What the name checks did with a slot's connections (summed over CPUs).
  virtual Result<agentd_name_counts> name_counts(uint32_t slot) const = 0;
  // Bytes and packets a slot's sockets sent and received, by class.
  virtual Result<agentd_traffic> traffic(uint32_t slot) const = 0;
  virtual Status reset_counters(uint32_t slot) = 0;
  // The records' rate-limit state of a slot, forgotten: a retired
  // sandbox's repeats never hold back the next one's records.
  virtual Status forget_rate_limits(uint32_t slot) = 0;
  virtual Status forget_rate_limits(const std::function<bool(uint32_t slot)>& which) = 0;
  // Where the DNS proxy listens for a sandbox besides agentd's own
  // network namespace (a container's): bpf/dns.bpf.h, proxy_serves.
  virtual Status put_dns_netns(uint64_t cookie, uint32_t slot) = 0;
  virtual Status delete_dns_netns(uint64_t cookie, uint32_t slot) = 0;
  virtual Result<uint64_t> stat(agentd_stat which) const = 0;
  // Makes the host addresses listed for one network namespace exactly
  // `keys` (host_address_keys); returns how many entries changed.
  virtual Result<size_t> sync_host_addresses(uint64_t netns_cookie, const std::vector<agentd_hostaddr_key>& keys) = 0;
};

}  // namespace agentd::bpf
