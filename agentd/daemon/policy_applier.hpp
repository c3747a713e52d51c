// Turns policy into kernel state, all or nothing.
//
// Sandboxes with identical effective rules share one *class*: its rules
// are written once, keyed by class id. Applying a policy runs in three
// steps, so that the slow ones can run off the event loop:
//   prepare  (any thread) compiles each class once (any error: nothing is
//            switched, and what it wrote is taken back) and writes the
//            classes that are new. A class whose every sandbox moves to
//            one new class is changed in place, only the entries that
//            differ, in an order that switches each destination once
//            (policy/class_update.hpp): a one-rule change writes one
//            rule's entries, and the trie never holds two copies of a
//            class. Other new classes go under fresh ids that no sandbox
//            uses yet;
//   commit   (the loop) switches each sandbox to its class with one write
//            of its state slot, so a narrowing change takes effect in one
//            step per sandbox, never rule by rule;
//   cleanup  (any thread) removes the classes no sandbox uses any more.
// A class whose rules did not change keeps its id and is not rewritten.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "agentd/bpf/kernel_maps.hpp"
#include "agentd/common/result.hpp"
#include "agentd/daemon/sandbox_registry.hpp"
#include "agentd/policy/compile.hpp"
#include "agentd/policy/model.hpp"
#include "agentd/policy/sandbox_section.hpp"

namespace agentd::daemon {

struct ClassWrite {
  size_t entries = 0;
  double compile_ms = 0;  // policy to flattened entries
  double write_ms = 0;    // entries into the kernel's trie
};

struct ApplyReport {
  size_t classes_written = 0;
  size_t classes_updated = 0;  // changed in place
  size_t entries_changed = 0;  // by those updates: written and removed
  size_t classes_kept = 0;
  size_t entries_written = 0;
  size_t entries_removed = 0;
  size_t sandboxes_switched = 0;
};

// What prepare made: the policy, each agent's class, the classes written.
struct PreparedPolicy {
  std::shared_ptr<const policy::PolicySet> policy;
  std::map<std::string, std::string> key_by_agent;     // agent -> its class key (policy::class_key_for)
  std::map<std::string, std::string> identity_by_key;  // class key -> identity, "" for the empty class
  ApplyReport report;
  ClassWrite largest;

 private:
  friend class PolicyApplier;
  struct Written {
    uint32_t id;
    std::shared_ptr<const policy::CompiledClass> compiled;
  };
  std::map<std::string, Written> written;  // by identity: fresh ids and classes updated in place
  std::map<std::string, uint32_t> reused;  // by identity: classes already in the maps
  // Classes changed in place: their content before, for a rollback.
  struct Updated {
    uint32_t id;
    std::shared_ptr<const policy::CompiledClass> before;
    std::string identity;  // after
  };
  std::vector<Updated> updated;
};

// A class in the maps: its id and what it holds.
struct KnownClass {
  uint32_t id;
  std::shared_ptr<const policy::CompiledClass> compiled;
};

// What cleanup removes: entries of classes below `below` that are not `live`
// (classes made after the commit have ids at or above `below`).
struct CleanupPlan {
  uint32_t below = 0;
  std::set<uint32_t> live;
  // False when no class went out of use: the trie need not be walked.
  bool needed = true;
  // The policy and classes the commit replaced: freed by cleanup, off the
  // loop (a 100,000-rule policy takes tens of ms to free).
  std::shared_ptr<void> retired;
};

class PolicyApplier {
 public:
  explicit PolicyApplier(bpf::KernelMaps& maps) : maps_(maps) {}

  // Class ids found in the maps at start belong to a previous daemon: new
  // ids are chosen above them so nothing live is overwritten, and their
  // content is read back, so that the first apply changes them in place.
  Status reserve_existing_ids();

  // The three steps in a row (at start, before the loop runs).
  Result<ApplyReport> apply(std::shared_ptr<const policy::PolicySet> policy, SandboxRegistry& registry);

  // The classes in the maps now, by identity: the input of prepare.
  std::map<std::string, KnownClass> known_classes() const;
  // Thread-safe against the loop: reads only its arguments, writes only
  // fresh class ids and the classes it changes in place. `agents` are the
  // sandboxes' agents, `class_of` their class now (by agent).
  Result<PreparedPolicy> prepare(std::shared_ptr<const policy::PolicySet> policy,
                                 const std::vector<policy::AgentName>& agents,
                                 const std::map<std::string, KnownClass>& known,
                                 const std::map<std::string, uint32_t>& class_of = {});
  // Takes back what a prepare wrote (a reload refused after it).
  Status abandon(const PreparedPolicy& prepared);
  // On the loop. Sandboxes that appeared since the prepare are compiled here.
  Result<CleanupPlan> commit(PreparedPolicy prepared, SandboxRegistry& registry);
  // Any thread; returns how many entries went.
  Result<size_t> cleanup(CleanupPlan& plan);

  // The class for one sandbox under the current policy, written if new.
  Result<uint32_t> class_for(const policy::AgentName& agent);

  // A sandbox of a class not met yet compiles it off the loop (at 100,000
  // rules that is 400 ms the control socket and DNS would wait):
  //   known_class   (the loop) the class, when no compile is needed;
  //   compile_class (any thread) compiles it under `policy` and writes it
  //                 under a fresh id;
  //   take_compiled (the loop) makes it the key's class, if `policy` is
  //                 still the running one. Otherwise, or when another
  //                 compile got there first, what was written is returned
  //                 for discard_compiled (any thread) to remove.
  struct CompiledForAgent {
    std::shared_ptr<const policy::PolicySet> policy;
    std::string key;
    std::string identity;  // "" for the empty class (nothing written)
    uint32_t id = AGENTD_CLASS_EMPTY;
    std::shared_ptr<const policy::CompiledClass> compiled;
    ClassWrite write;
  };
  std::optional<uint32_t> known_class(const policy::AgentName& agent) const;
  Result<CompiledForAgent> compile_class(std::shared_ptr<const policy::PolicySet> policy,
                                         const policy::AgentName& agent);
  std::optional<CompiledForAgent> take_compiled(CompiledForAgent compiled);
  Status discard_compiled(const CompiledForAgent& compiled);
  // AGENTD_SANDBOX_REFUSE_* for an agent under the running policy (its
  // tenant's refuse_with).
  uint32_t refusal_flags_for(const policy::AgentName& agent) const;

  // The sandbox profile's TCP ports for an agent under the running policy,
  // walked once per class key (a 1,000,000-rule class takes 20 ms).
  const policy::TcpPorts& tcp_ports_for(const policy::AgentName& agent);

  // The compiled rules behind a class id (for explaining denials).
  const policy::CompiledClass* compiled(uint32_t class_id) const;
  const policy::PolicySet* policy() const { return policy_.get(); }
  // The largest class written so far: what `agentctl status` shows of load times.
  const ClassWrite& largest_write() const { return largest_write_; }
  // What the last commit did.
  const ApplyReport& last_report() const { return last_report_; }
  std::shared_ptr<const policy::PolicySet> policy_ptr() const { return policy_; }

 private:
  struct ClassRecord {
    uint32_t id;
    std::shared_ptr<const policy::CompiledClass> compiled;
  };

  // The same key with other content (an edited rule) is another class.
  static std::string identity_of(const policy::CompiledClass& compiled);
  Status write_class(uint32_t id, const policy::CompiledClass& compiled, double compile_ms, ClassWrite& largest);
  uint32_t allocate_id();

  bpf::KernelMaps& maps_;
  std::shared_ptr<const policy::PolicySet> policy_;
  std::map<std::string, ClassRecord> classes_;  // by identity
  // Under policy_: the class of each key met so far (policy::class_key_for).
  std::unordered_map<std::string, uint32_t> id_by_key_;
  std::unordered_map<std::string, policy::TcpPorts> tcp_ports_by_key_;  // likewise
  std::atomic<uint32_t> next_id_{1};                                    // prepare allocates off the loop
  // A removal failed (any thread): entries may be left that only a walk of
  // the trie finds; the next cleanup walks it.
  std::atomic<bool> orphans_{false};
  ClassWrite largest_write_;
  ApplyReport last_report_;
};

}  // namespace agentd::daemon
