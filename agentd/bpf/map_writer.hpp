// Typed access to the pinned maps: rules of policy classes, the cgroup ->
// slot index, sandbox state, counters. The only code that writes them;
// what each method does is said where it is declared, kernel_maps.hpp.
#pragma once

#include "agentd/bpf/enforcer.hpp"
#include "agentd/bpf/kernel_maps.hpp"

namespace agentd::bpf {

class MapWriter final : public KernelMaps {
 public:
  explicit MapWriter(const MapFds& fds) : fds_(fds) {}

  Status put_class(uint32_t class_id, const std::vector<policy::CompiledEntry>& entries) override;
  Status update_class(uint32_t class_id, const policy::ClassUpdate& update) override;
  Result<size_t> delete_unused_classes(const std::set<uint32_t>& keep, uint32_t below) override;
  Status put_names(uint32_t class_id, const std::vector<policy::CompiledName>& names) override;
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
  Status put_rule_entries(uint32_t class_id, const std::vector<const policy::CompiledEntry*>& entries);
  MapFds fds_;
};

agentd_rule_key make_rule_key(uint32_t class_id, const policy::CompiledEntry& entry);

}  // namespace agentd::bpf
