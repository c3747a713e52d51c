// One sandbox life cycle: the ordered steps that bring a sandbox into the
// kernel's maps (made for `agentctl run`, adopted, or restored at start)
// and take it out again (retired), each step with its undo, written once.
//
// In, in this order (a restored sandbox the kernel still maps keeps its
// slot, generation and entries, and only gets its links back):
//   1. the slot's new generation, inactive: from here the previous
//      holder's sockets count nowhere;
//   2. the slot's counters zeroed (not undone: a free slot's are nobody's);
//   3. the DNS proxy's sockets for the slot, and its IPv6 port (made and
//      adopted; a restored one is served once the proxy runs);
//   4. the state active with its class (made and adopted; a restored one
//      gets its class when the policy is applied);
//   5. the cgroup -> slot entry: the moment the kernel sees the sandbox,
//      its state and class are already in force;
//   6. an adopted cgroup outside the sandbox root: its own links (before
//      the enforcer's commit they are deferred to it);
//   7. an adopted one: its row in the store;
// then the registry, and the audit and grant notifications, which cannot
// fail. A failed step undoes those before it, in reverse: the maps are as
// before, except that once step 5 was written a socket may carry the new
// generation, so the slot keeps it (retired) and its next sandbox gets one
// more.
//
// Out, the reverse: the cgroup -> slot entry, then the state retired
// (either failing leaves the sandbox whole); then, no longer undone, the
// links, the registry, the DNS side (learned addresses, namespaces,
// sockets, IPv6 port), the rate limits, grants, the store row, the audit.
// The links go after the map entries, not before them: a cgroup outside the
// root keeps its programs while the sandbox could still be restored.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "agentd/bpf/kernel_maps.hpp"
#include "agentd/common/result.hpp"
#include "agentd/daemon/sandbox_registry.hpp"
#include "agentd/store/store.hpp"

namespace agentd::daemon {

// Steps run in order, each with its undo; when one fails, or when dropped
// before commit (an exception), those done are undone in reverse.
class Steps {
 public:
  Steps() = default;
  Steps(const Steps&) = delete;
  Steps& operator=(const Steps&) = delete;
  ~Steps() { rollback(); }

  // Runs `step`; on failure undoes the steps before it and returns the error.
  // `what` names it in the log should its undo fail.
  Status run(std::string what, const std::function<Status()>& step, std::function<Status()> undo = {});
  // What was done stays.
  void commit() { undo_.clear(); }
  void rollback();

 private:
  std::vector<std::pair<std::string, std::function<Status()>>> undo_;
};

// What besides the maps a sandbox's life touches: the daemon's enforcer,
// DNS proxy, store and approvals (a fake in unit tests).
class SandboxSide {
 public:
  virtual ~SandboxSide() = default;
  // The programs on an adopted cgroup outside the sandbox root
  // (Enforcer::attach_extra_cgroup, deferred until its commit).
  virtual Status attach_links(const Sandbox& sandbox) = 0;
  virtual Status detach_links(const Sandbox& sandbox) = 0;
  // The DNS proxy's sockets for a slot; the port that serves its queries
  // to IPv6 servers (0: none, they are refused). Logs what it could not open.
  virtual uint16_t open_dns(uint32_t slot) = 0;
  // What the DNS side holds for a slot: learned addresses, the network
  // namespaces served (out of the kernel's map), the proxy's sockets.
  virtual void close_dns(uint32_t slot) = 0;
  // The adopted sandboxes' rows, replaced in one transaction.
  virtual Status store_adopted(const std::vector<store::AdoptedRow>& rows) = 0;
  // A sandbox "created", "adopted" or "retired": the audit trail.
  virtual void announce(const Sandbox& sandbox, const std::string& event, const nlohmann::json& detail) = 0;
  // The kernel's grant entries follow the registry: `sandbox` came or
  // went. When no grant covers its agent there is nothing to write or
  // remove (its slot holds no entries, and no tenant's share changes), and
  // nothing is done: a full sync reads the whole grant map, on every
  // sandbox made.
  virtual void sync_grants_of(const Sandbox& sandbox) = 0;
};

class SandboxLifecycle {
 public:
  SandboxLifecycle(bpf::KernelMaps& maps, SandboxRegistry& registry, SandboxSide& side,
                   std::filesystem::path cgroup_root)
      : maps_(maps), registry_(registry), side_(side), cgroup_root_(std::move(cgroup_root)) {}

  // A new sandbox (`agentctl run`'s, its cgroup made, or an adopted one):
  // agent, cgroup, cgroup_id, a free slot, class, refusal flags, adopted and
  // times filled in; it gets the slot's next generation. Returns it as the
  // registry now holds it; on an error nothing of it is left.
  Result<Sandbox> create(Sandbox sandbox);

  // A free slot for an agent (the daemon's claim_slot).
  using ClaimSlot = std::function<Result<uint32_t>(const std::string& agent)>;
  // At start: the sandboxes found (cgroup tree and the store's adopted
  // rows, their cgroup ids read). One the kernel still maps keeps its
  // slot, generation and class, so its live sockets keep their sandbox;
  // another gets a fresh slot, inactive until the policy is applied. What
  // the kernel maps and was not found is cleared.
  Status restore(std::vector<Sandbox> found, const ClaimSlot& claim);

  // Out of the kernel's maps and the registry (a run sandbox's cgroup is
  // the caller's to remove first). On an error the sandbox stays whole.
  Status retire(uint32_t slot, const std::string& why);

  // The proxy's sockets for a slot, and its IPv6 port in the kernel (at
  // start, once the proxy runs, for the restored sandboxes).
  Status serve_dns(uint32_t slot);

 private:
  bool outside_root(const Sandbox& sandbox) const;
  // The registry's adopted sandboxes, with `adding` if any.
  std::vector<store::AdoptedRow> adopted_rows(const Sandbox* adding = nullptr) const;
  // Steps 1 to 6 for a slot the sandbox did not hold (`serve`: 3 and 4).
  Status bring_in(Steps& steps, Sandbox& sandbox, bool serve, bool& published);

  bpf::KernelMaps& maps_;
  SandboxRegistry& registry_;
  SandboxSide& side_;
  std::filesystem::path cgroup_root_;
};

}  // namespace agentd::daemon
