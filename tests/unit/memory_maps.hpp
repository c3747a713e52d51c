// The kernel's maps in memory (bpf::KernelMaps), for unit tests of the
// daemon's logic without root: each map a std::map, and a log of every
// write in order, so a test can check what was written before what (new
// classes before a sandbox switches to them, cleanup after).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "agentd/bpf/kernel_maps.hpp"

namespace agentd::testing {

class MemoryMaps final : public bpf::KernelMaps {
 public:
  // A rule entry's place: (class, family, address, prefix).
  using RuleKey = std::tuple<uint32_t, uint32_t, std::array<uint8_t, 16>, uint8_t>;
  // A learned or granted address: (slot, family, address).
  using AddressKey = std::tuple<uint32_t, uint32_t, std::array<uint8_t, 16>>;

  std::map<RuleKey, agentd_rule_value> rules;
  std::map<std::pair<uint32_t, std::string>, agentd_learned_value> names;  // (scope, pattern)
  std::map<uint64_t, uint32_t> cgroups;
  std::map<uint32_t, agentd_sandbox_state> states;
  std::map<AddressKey, agentd_learned_value> learned_entries, grant_entries;
  std::map<uint32_t, uint16_t> dns6_ports;  // by slot (index 0 the base), those not 0
  // "put_class 3", "set_state 1 class 3", "delete_unused 1" ...: every write, in order.
  std::vector<std::string> writes;
  // Fail the nth write from now (1: the next one), as a full map would:
  // the write changes nothing and returns an error.
  int fail_write_in = 0;

  // The entries of one class, as the trie holds them.
  size_t entries_of(uint32_t class_id) const;
  // The index in `writes` of the first entry starting with `prefix`, or -1.
  long first_write(const std::string& prefix) const;

  Status put_class(uint32_t class_id, const std::vector<policy::CompiledEntry>& entries) override;
  Status update_class(uint32_t class_id, const policy::ClassUpdate& update) override;
  Result<size_t> delete_unused_classes(const std::set<uint32_t>& keep, uint32_t below) override;
  Status put_names(uint32_t class_id, const std::vector<policy::CompiledName>& list) override;
  Status put_name_grant(uint32_t slot, const std::string& name, uint64_t expires_ns) override;
  Result<std::vector<agentd_name_key>> granted_names() const override;
  Status delete_name(const agentd_name_key& key) override;
  Result<std::map<uint32_t, policy::CompiledClass>> read_classes() const override;
  Result<std::set<uint32_t>> classes_in_rules() const override;
  Status set_cgroup_slot(uint64_t cgroup_id, uint32_t slot) override;
  Status delete_cgroup(uint64_t cgroup_id) override;
  Result<std::vector<std::pair<uint64_t, uint32_t>>> cgroup_slots() const override;
  Status set_state(uint32_t slot, const agentd_sandbox_state& state) override;
  Result<agentd_sandbox_state> state(uint32_t slot) const override;
  Result<std::vector<agentd_sandbox_state>> all_states(uint32_t slots) const override;
  Status put_learned(const agentd_learned_key& key, const agentd_learned_value& value) override;
  Status delete_learned(const agentd_learned_key& key) override;
  Result<std::vector<std::pair<agentd_learned_key, agentd_learned_value>>> learned() const override;
  Status put_grant(const agentd_learned_key& key, const agentd_learned_value& value) override;
  Status delete_grant(const agentd_learned_key& key) override;
  Result<std::vector<std::pair<agentd_learned_key, agentd_learned_value>>> grants() const override;
  Status set_dns_config(bool enabled, uint16_t proxy_port) override;
  Status set_dns6_port(uint32_t index, uint16_t port) override;
  Result<agentd_counters> counters(uint32_t slot) const override;
  Result<std::vector<agentd_counters>> all_counters(uint32_t slots) const override;
  Result<std::vector<agentd_record_counts>> all_record_counts(uint32_t slots) const override;
  Result<agentd_record_counts> record_counts(uint32_t slot) const override;
  Result<agentd_name_counts> name_counts(uint32_t slot) const override;
  Result<agentd_traffic> traffic(uint32_t slot) const override;
  Status reset_counters(uint32_t slot) override;
  Status forget_rate_limits(uint32_t slot) override;
  Status forget_rate_limits(const std::function<bool(uint32_t slot)>& which) override;
  Status put_dns_netns(uint64_t cookie, uint32_t slot) override;
  Status delete_dns_netns(uint64_t cookie, uint32_t slot) override;
  Result<uint64_t> stat(agentd_stat which) const override;
  Result<size_t> sync_host_addresses(uint64_t netns_cookie, const std::vector<agentd_hostaddr_key>& keys) override;

 private:
  // Logs a write; false (and the caller returns an error) when it is the
  // one set to fail.
  bool write(const std::string& what);
};

}  // namespace agentd::testing
