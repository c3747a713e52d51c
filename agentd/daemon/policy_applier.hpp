// Turns policy into kernel state, all or nothing.
//
// Sandboxes with identical effective rules share one *class*: its rules
// are written once, keyed by class id. Applying a policy compiles every
// sandbox first (any error: nothing is written), writes the classes that
// are new, switches each sandbox to its class with one write of its state
// slot (so a narrowing change takes effect in one step per sandbox, never
// rule by rule), and only then removes the classes no sandbox uses.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "agentd/bpf/map_writer.hpp"
#include "agentd/common/result.hpp"
#include "agentd/daemon/sandbox_registry.hpp"
#include "agentd/policy/compile.hpp"
#include "agentd/policy/model.hpp"

namespace agentd::daemon {

struct ClassWrite {
  size_t entries = 0;
  double compile_ms = 0;  // policy to flattened entries
  double write_ms = 0;    // entries into the kernel's trie
};

struct ApplyReport {
  size_t classes_written = 0;
  size_t classes_kept = 0;
  size_t entries_written = 0;
  size_t entries_removed = 0;
  size_t sandboxes_switched = 0;
};

class PolicyApplier {
 public:
  explicit PolicyApplier(bpf::MapWriter& maps) : maps_(maps) {}

  // Class ids found in the maps at start belong to a previous daemon: new
  // ids are chosen above them so nothing live is overwritten.
  Status reserve_existing_ids();

  Result<ApplyReport> apply(std::shared_ptr<const policy::PolicySet> policy, SandboxRegistry& registry);

  // The class for one sandbox under the current policy, written if new.
  Result<uint32_t> class_for(const policy::AgentName& agent);

  // The compiled rules behind a class id (for explaining denials).
  const policy::CompiledClass* compiled(uint32_t class_id) const;
  const policy::PolicySet* policy() const { return policy_.get(); }
  // The largest class written so far: what `agentctl status` shows of load times.
  const ClassWrite& largest_write() const { return largest_write_; }
  std::shared_ptr<const policy::PolicySet> policy_ptr() const { return policy_; }

 private:
  struct ClassRecord {
    uint32_t id;
    policy::CompiledClass compiled;
  };

  // The same key with other content (an edited rule) is another class.
  static std::string identity_of(const policy::CompiledClass& compiled);
  Result<uint32_t> ensure_class(std::map<std::string, ClassRecord>& table, policy::CompiledClass compiled,
                                double compile_ms, ApplyReport& report);
  uint32_t allocate_id();

  bpf::MapWriter& maps_;
  std::shared_ptr<const policy::PolicySet> policy_;
  std::map<std::string, ClassRecord> classes_;  // by identity
  uint32_t next_id_ = 1;
  ClassWrite largest_write_;
};

}  // namespace agentd::daemon
