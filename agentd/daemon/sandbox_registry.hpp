// Which sandboxes exist: agent name, cgroup, the slot its kernel state sits
// in, the class it enforces. Pure bookkeeping; the daemon keeps the maps in
// step with it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

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
};

class SandboxRegistry {
 public:
  const Sandbox* find_agent(const std::string& agent) const;
  const Sandbox* find_slot(uint32_t slot) const;
  Sandbox* find_slot(uint32_t slot);
  const Sandbox* find_cgroup_id(uint64_t cgroup_id) const;

  // The lowest free slot (0 is never a sandbox), or an error when full.
  Result<uint32_t> free_slot() const;
  void put(Sandbox sandbox);
  void erase(uint32_t slot);

  const std::map<uint32_t, Sandbox>& all() const { return by_slot_; }
  std::map<uint32_t, Sandbox>& all() { return by_slot_; }

 private:
  std::map<uint32_t, Sandbox> by_slot_;
};

nlohmann::json sandbox_to_json(const Sandbox& sandbox);

}  // namespace agentd::daemon
