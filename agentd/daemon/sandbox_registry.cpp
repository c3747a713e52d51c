#include "agentd/daemon/sandbox_registry.hpp"

#include <algorithm>
#include <optional>

namespace agentd::daemon {

const Sandbox* SandboxRegistry::find_agent(const std::string& agent) const {
  auto it = slots_by_agent_.find(agent);
  return it == slots_by_agent_.end() || it->second.empty() ? nullptr : find_slot(*it->second.begin());
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

SandboxRegistry::SandboxRegistry(uint32_t max_slots)
    : max_slots_(std::min<uint32_t>(max_slots, AGENTD_MAX_SANDBOXES - 1)),
      generations_(max_slots_ + 1, 0),
      taken_(max_slots_ + 1, false) {}

Result<uint32_t> SandboxRegistry::free_slot(const std::string& agent) const {
  std::optional<uint32_t> own, never_used, oldest;
  uint64_t own_order = 0, oldest_order = UINT64_MAX;
  for (uint32_t slot = 1; slot <= max_slots_; ++slot) {
    if (taken_[slot] || reserved_.contains(slot)) continue;
    auto freed = freed_.find(slot);
    if (freed != freed_.end() && !agent.empty() && freed->second.agent == agent && freed->second.order >= own_order) {
      own = slot;
      own_order = freed->second.order;
    }
    if (generations_[slot] == 0) {
      if (!never_used) never_used = slot;
      continue;
    }
    // Freed before this agentd started: older than anything it freed.
    const uint64_t order = freed == freed_.end() ? 0 : freed->second.order;
    if (order < oldest_order) {
      oldest = slot;
      oldest_order = order;
    }
  }
  if (own) return *own;
  if (never_used) return *never_used;
  if (oldest) return *oldest;
  return make_error("no free sandbox slot: all {} are in use", max_slots_);
}

void SandboxRegistry::put(Sandbox sandbox) {
  const uint32_t slot = sandbox.slot;
  if (slot <= max_slots_) {
    generations_[slot] = sandbox.generation;
    taken_[slot] = true;
  }
  freed_.erase(slot);
  unindex(slot);
  slots_by_agent_[sandbox.agent.str()].insert(slot);
  by_slot_[slot] = std::move(sandbox);
}

void SandboxRegistry::erase(uint32_t slot) {
  auto it = by_slot_.find(slot);
  if (it == by_slot_.end()) return;
  freed_[slot] = Freed{it->second.agent.str(), ++retirements_};
  unindex(slot);
  if (slot <= max_slots_) taken_[slot] = false;
  by_slot_.erase(it);
}

void SandboxRegistry::unindex(uint32_t slot) {
  auto held = by_slot_.find(slot);
  if (held == by_slot_.end()) return;
  auto it = slots_by_agent_.find(held->second.agent.str());
  if (it == slots_by_agent_.end()) return;
  it->second.erase(slot);
  if (it->second.empty()) slots_by_agent_.erase(it);
}

void SandboxRegistry::set_generation(uint32_t slot, uint16_t generation) {
  if (slot <= max_slots_) generations_[slot] = generation;
}

uint16_t SandboxRegistry::generation(uint32_t slot) const { return slot <= max_slots_ ? generations_[slot] : 0; }

std::string SandboxRegistry::previous_agent(uint32_t slot) const {
  auto it = freed_.find(slot);
  return it == freed_.end() ? "" : it->second.agent;
}

agentd_sandbox_state active_state(const Sandbox& sandbox) {
  return {sandbox.class_id,
          AGENTD_SANDBOX_ACTIVE | sandbox.refusal_flags | (uint32_t{sandbox.generation} << AGENTD_SANDBOX_GEN_SHIFT)};
}

agentd_sandbox_state retired_state(const Sandbox& sandbox) {
  return {AGENTD_CLASS_EMPTY, uint32_t{sandbox.generation} << AGENTD_SANDBOX_GEN_SHIFT};
}

uint16_t generation_of(const agentd_sandbox_state& state) {
  return static_cast<uint16_t>(state.flags >> AGENTD_SANDBOX_GEN_SHIFT);
}

uint16_t next_generation(uint16_t previous) { return previous == UINT16_MAX ? 1 : static_cast<uint16_t>(previous + 1); }

nlohmann::json sandbox_to_json(const Sandbox& sandbox) {
  nlohmann::json j = {
      {"agent", sandbox.agent.str()},
      {"cgroup", sandbox.cgroup.string()},
      {"cgroup_id", sandbox.cgroup_id},
      {"slot", sandbox.slot},
      {"generation", sandbox.generation},
      {"class_id", sandbox.class_id},
      {"adopted", sandbox.adopted},
      // How its denied connects and sends fail (its tenant's refuse_with).
      {"refuse_with", (sandbox.refusal_flags & AGENTD_SANDBOX_REFUSE_CONNREFUSED) ? "econnrefused" : "eperm"}};
  if (sandbox.created_at != std::chrono::system_clock::time_point{})
    j["created_at"] = std::chrono::duration_cast<std::chrono::seconds>(sandbox.created_at.time_since_epoch()).count();
  return j;
}

}  // namespace agentd::daemon
