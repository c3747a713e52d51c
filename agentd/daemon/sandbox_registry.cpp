#include "agentd/daemon/sandbox_registry.hpp"

namespace agentd::daemon {

const Sandbox* SandboxRegistry::find_agent(const std::string& agent) const {
  for (const auto& [slot, sandbox] : by_slot_)
    if (sandbox.agent.str() == agent) return &sandbox;
  return nullptr;
}

const Sandbox* SandboxRegistry::find_slot(uint32_t slot) const {
  auto it = by_slot_.find(slot);
  return it == by_slot_.end() ? nullptr : &it->second;
}

Sandbox* SandboxRegistry::find_slot(uint32_t slot) {
  auto it = by_slot_.find(slot);
  return it == by_slot_.end() ? nullptr : &it->second;
}

const Sandbox* SandboxRegistry::find_cgroup_id(uint64_t cgroup_id) const {
  for (const auto& [slot, sandbox] : by_slot_)
    if (sandbox.cgroup_id == cgroup_id) return &sandbox;
  return nullptr;
}

Result<uint32_t> SandboxRegistry::free_slot() const {
  uint32_t candidate = 1;
  for (const auto& [slot, sandbox] : by_slot_) {
    if (slot != candidate) break;
    ++candidate;
  }
  if (candidate >= AGENTD_MAX_SANDBOXES)
    return make_error("no free sandbox slot: all {} are in use", AGENTD_MAX_SANDBOXES - 1);
  return candidate;
}

void SandboxRegistry::put(Sandbox sandbox) { by_slot_[sandbox.slot] = std::move(sandbox); }

void SandboxRegistry::erase(uint32_t slot) { by_slot_.erase(slot); }

nlohmann::json sandbox_to_json(const Sandbox& sandbox) {
  return {{"agent", sandbox.agent.str()},       {"cgroup", sandbox.cgroup.string()},
          {"cgroup_id", sandbox.cgroup_id},     {"slot", sandbox.slot},
          {"class_id", sandbox.class_id},       {"adopted", sandbox.adopted}};
}

}  // namespace agentd::daemon
