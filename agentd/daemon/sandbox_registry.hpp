// Which sandboxes exist: agent name, cgroup, the slot its kernel state sits
// in, the class it enforces. Pure bookkeeping; the daemon keeps the maps in
// step with it.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "agentd/common/result.hpp"
#include "agentd/policy/model.hpp"
#include "agentd_abi.h"

namespace agentd::daemon {

struct Sandbox {
  policy::AgentName agent;
  std::filesystem::path cgroup;
  uint64_t cgroup_id = 0;
  uint32_t slot = AGENTD_SLOT_UNKNOWN;
  uint32_t class_id = AGENTD_CLASS_EMPTY;
  bool adopted = false;  // an existing cgroup taken over, not made by agentd
  // AGENTD_SANDBOX_REFUSE_* from its tenant's policy (refuse_with).
  uint32_t refusal_flags = 0;
  // The slot's generation while this sandbox holds it (agentd_abi.h,
  // AGENTD_SANDBOX_GEN_SHIFT): its sockets carry it.
  uint16_t generation = 0;
  std::chrono::system_clock::time_point created_at{};
  // When `agentctl run` last asked for it: an empty sandbox is not retired
  // while a command it was handed to may still be on its way in.
  std::chrono::steady_clock::time_point handed_out{};
};

// The kernel's state of a sandbox that enforces class_id.
agentd_sandbox_state active_state(const Sandbox& sandbox);
// A slot no sandbox holds: everything denied, the last generation kept so
// the next sandbox's is one more.
agentd_sandbox_state retired_state(const Sandbox& sandbox);
uint16_t generation_of(const agentd_sandbox_state& state);
// The generation a slot's next sandbox gets: never 0, which sockets made
// before generations existed carry.
uint16_t next_generation(uint16_t previous);

class SandboxRegistry {
 public:
  explicit SandboxRegistry(uint32_t max_slots = AGENTD_MAX_SANDBOXES - 1);

  const Sandbox* find_agent(const std::string& agent) const;
  const Sandbox* find_slot(uint32_t slot) const;
  Sandbox* find_slot(uint32_t slot);
  const Sandbox* find_cgroup_id(uint64_t cgroup_id) const;

  // A free slot for `agent` (0 is never a sandbox), or an error when all
  // are taken. A slot's uid (sandbox_uids.hpp) goes with it, and files a
  // uid left behind stay its own, so a slot passes to another agent as
  // late as can be: the free slot this agent held last, else one never
  // used (generation 0), else the one retired longest ago.
  Result<uint32_t> free_slot(const std::string& agent = "") const;
  void put(Sandbox sandbox);  // and the slot's generation is the sandbox's
  void erase(uint32_t slot);  // remembered: who held it, and when it was freed

  // The last generation each slot had, from the kernel at start.
  void set_generation(uint32_t slot, uint16_t generation);
  uint16_t generation(uint32_t slot) const;
  // Who held a free slot last, if this agentd saw it: "" when unknown.
  std::string previous_agent(uint32_t slot) const;
  uint32_t max_slots() const { return max_slots_; }
  // Slots free_slot must not hand out (at a restart: those the kernel
  // still maps to a sandbox not restored yet).
  void reserve(std::set<uint32_t> slots) { reserved_ = std::move(slots); }

  const std::map<uint32_t, Sandbox>& all() const { return by_slot_; }
  // For changes in place (class, state); a sandbox's agent and slot stay
  // as put() was given them: the index by agent holds them.
  std::map<uint32_t, Sandbox>& all() { return by_slot_; }

 private:
  std::map<uint32_t, Sandbox> by_slot_;
  // By agent name, the slots held (one, but for a registry that was handed
  // two of an agent): find_agent, asked on every sandbox.ensure, looked
  // at every sandbox, and was a fifth of making one at 3,000.
  std::unordered_map<std::string, std::set<uint32_t>> slots_by_agent_;
  void unindex(uint32_t slot);  // the slot's current sandbox leaves slots_by_agent_
  uint32_t max_slots_;
  std::vector<uint16_t> generations_;  // by slot
  std::vector<bool> taken_;            // by slot: in by_slot_ (free_slot asks each slot)
  struct Freed {
    std::string agent;
    uint64_t order = 0;  // the how-manieth retirement
  };
  std::map<uint32_t, Freed> freed_;  // by slot, since this agentd started
  uint64_t retirements_ = 0;
  std::set<uint32_t> reserved_;
};

nlohmann::json sandbox_to_json(const Sandbox& sandbox);

}  // namespace agentd::daemon
