// Operators' approvals in the daemon: denial records become requests,
// operators answer them over the control socket (agentctl watch, approvals
// approve|deny), answers become grants in the kernel's grants map for
// every sandbox they cover, and everything is persisted and audited.
// Glue around the pure parts (approvals/book, approvals/roles) and the
// store; runs on the event loop.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "agentd/api/requests.hpp"
#include "agentd/api/server.hpp"
#include "agentd/approvals/book.hpp"
#include "agentd/approvals/folds.hpp"
#include "agentd/approvals/grant_budget.hpp"
#include "agentd/approvals/identity_cache.hpp"
#include "agentd/approvals/roles.hpp"
#include "agentd/bpf/kernel_maps.hpp"
#include "agentd/daemon/approval_options.hpp"
#include "agentd/daemon/audit_syslog.hpp"
#include "agentd/daemon/denial_log.hpp"
#include "agentd/daemon/policy_applier.hpp"
#include "agentd/events/denial.hpp"
#include "agentd/daemon/sandbox_registry.hpp"
#include "agentd/policy/explain.hpp"
#include "agentd/approvals/control_methods.hpp"
#include "agentd/store/store.hpp"
#include "agentd/store/write_budget.hpp"

namespace agentd::daemon {

class ApprovalService {
 public:
  // Restores requests and grants from the store (the daemon's, which
  // outlives the service), rewrites the live grants into the kernel and
  // removes what expired meanwhile.
  static Result<std::unique_ptr<ApprovalService>> start(const ApprovalOptions& options, store::Store& store,
                                                        bpf::KernelMaps& maps, const PolicyApplier& applier,
                                                        const SandboxRegistry& registry);

  // The control socket's second gate (the first refuses sandboxes): a
  // caller with no role is not served.
  std::optional<std::string> admit(const api::Peer& peer) const;
  approvals::Identity identity(const api::Peer& peer) const;
  // Why `who` may not call `method`, or nothing: the role the control
  // table names, for the tenants it says the call concerns (handlers
  // check each tenant they show or touch again).
  std::optional<std::string> refuse(const approvals::Identity& who, const approvals::ControlMethod& method,
                                    const nlohmann::json& request) const;
  // Whether `who` may read `tenant`'s policy and records.
  bool may_view(const approvals::Identity& who, const std::string& tenant) const {
    return may(who, approvals::Role::viewer, tenant);
  }
  // The live grants of the tenants `who` may view (policy diff reviews them).
  std::vector<approvals::Grant> grants_visible(const approvals::Identity& who) const;
  // Whether `who` may view every tenant (what an error naming any file
  // of the policy dir may show).
  bool views_all(const approvals::Identity& who) const { return !roles_.tenants_for(who, approvals::Role::viewer); }

  // Control methods (approval_api.cpp), dispatched by the daemon's
  // control table (daemon_control.cpp) once the gate let the call in.
  void watch(const approvals::Identity& who, api::Reply reply);
  // Each takes its typed request (api/requests.hpp, read by the control
  // table's handler) and judges what its fields mean.
  Result<nlohmann::json> list_requests(const api::ApprovalsListRequest& request, const approvals::Identity& who) const;
  Result<nlohmann::json> list_folds(const api::ApprovalsFoldsRequest& request, const approvals::Identity& who) const;
  Result<nlohmann::json> answer(const api::ApprovalsAnswerRequest& request, const approvals::Identity& who);
  Result<nlohmann::json> list_grants(const approvals::Identity& who) const;
  Result<nlohmann::json> revoke(const api::GrantsRevokeRequest& request, const approvals::Identity& who);
  Result<nlohmann::json> reopen(const api::ApprovalsReopenRequest& request, const approvals::Identity& who);
  Result<nlohmann::json> add_grant(const api::GrantsAddRequest& request, const approvals::Identity& who);
  Result<nlohmann::json> query_audit(const api::AuditQueryRequest& request, const approvals::Identity& who) const;

  // Every denial, kernel or DNS: audited; the undecided ones become
  // requests.
  void on_denial(const events::Denial& record);
  void on_policy(const std::string& decision, const std::string& trigger, const nlohmann::json& detail);
  // A sandbox made, adopted or retired: kept in the audit trail, so a
  // retired sandbox's life stays on record after its slot is reused.
  void on_sandbox(const std::string& sandbox, const std::string& decision, const nlohmann::json& detail);
  // After a new policy is applied, in this order: grants it denies are
  // revoked, then requests it allows are settled (a revoked grant must not
  // settle anything). `trigger` names the reload in the audit trail.
  struct AfterReload {
    size_t revoked = 0, settled = 0;
  };
  AfterReload after_reload(const std::string& trigger) {
    const size_t revoked = revoke_denied_by_policy();
    return {revoked, settle_pending(trigger)};
  }
  // After a reload: a grant the new policy denies outright, for every
  // sandbox it covers, is revoked (the kernel's deny already wins; this
  // keeps the store and `grants list` honest). Returns how many went.
  size_t revoke_denied_by_policy();
  // After a reload or a new grant: pending requests that the policy or a
  // live grant now allows are approved by agentd (audited, and watchers
  // told), so nobody is asked about what is already open. `trigger` says
  // what changed. Returns how many were settled.
  size_t settle_pending(const std::string& trigger);
  // The host's own addresses: a request for one is judged against the
  // loopback rules, as the hooks judge the connection.
  void set_host_addresses(std::vector<policy::Cidr> addresses) { host_addresses_ = std::move(addresses); }
  // Sandboxes appeared or went, or grants changed: the kernel's grants map
  // made to match the live grants.
  void sync_grants();
  // Whether the book holds a grant for `agent` (its own, its team's or its
  // tenant's): a sandbox of an agent no grant in the book names has no
  // grant entries in the kernel.
  bool any_grant_covers(const policy::AgentName& agent) const { return !book_.grants_covering(agent).empty(); }
  // Once a second: requests and grants whose time is up.
  void tick();
  // Denial records of one drain go into the store in one transaction.
  void begin_batch();
  void end_batch();

  // A live name grant covering `agent` for `name` (normalised): how the
  // DNS proxy's decision reads it ("granted by grant 4 (...)") and when it
  // ends on the kernel's clock.
  struct NameGrant {
    std::string explanation;
    uint64_t until_ns = 0;  // CLOCK_MONOTONIC; AGENTD_NEVER_EXPIRES when permanent
    // The ports of every live grant of the name, merged; empty: every port.
    std::vector<policy::PortRange> ports;
    bool opens(uint16_t port) const;
  };
  std::optional<NameGrant> name_grant(const policy::AgentName& agent, std::string_view name) const;
  // Called when a name grant is made or ends: what was learned through
  // the name is judged again (its ports widen or shrink, or it goes).
  void on_name_grants_changed(std::function<void()> callback) { name_grants_changed_ = std::move(callback); }

  // The fleet (README, "Fleet"; approval_fleet.cpp): team and tenant
  // grants made here are published, and every host's are mirrored here.
  struct FleetLink {
    std::string host;                                             // this host's name in the fleet
    std::function<void(const approvals::Grant&)> publish;         // writes its record to etcd
    std::function<void(const approvals::FleetOrigin&)> withdraw;  // deletes its key from etcd
    // A pending request offered to every operator of the fleet (watch
    // --fleet), and taken back once it is no longer pending.
    std::function<void(const approvals::Request&)> offer;
    std::function<void(uint64_t request_id)> take_back;
  };
  // Before the first sync; the grants restored from the store that were
  // published from here are judged by that sync (etcd lacking one: it was
  // revoked elsewhere while agentd was away, or never got there).
  void join_fleet(FleetLink link);
  // Every grant etcd holds now (each with its origin; refused keys left
  // out): what is new is mirrored (judged as a grant made here would be:
  // the policy's denies and the tenant's budget), what left etcd ends.
  struct FleetSync {
    size_t adopted = 0, ended = 0;
  };
  FleetSync sync_fleet_grants(const std::vector<approvals::Grant>& fleet);
  nlohmann::json fleet_status() const;  // null when this host is not in a fleet
  // An answer an operator gave through etcd (watch --fleet). Whoever may
  // write <prefix>/answers/ in etcd answers for every tenant (README,
  // "Fleet"): the roles file is not consulted; `by` is what the operator's
  // agentctl said of them, recorded as such.
  Result<nlohmann::json> answer_from_fleet(const api::ApprovalsAnswerRequest& request, const std::string& by);
  // Keys under the grants prefix that are not a grant (grant_record.hpp).
  void fleet_records_refused(std::vector<std::string> errors);

  // "allowed by grant 3 (...)", for policy explain when the rules say nothing.
  std::optional<std::string> explain(const policy::AgentName& agent, const policy::Destination& dest) const;
  nlohmann::json status() const;

 private:
  ApprovalService(approvals::Roles roles, store::Store& store, bpf::KernelMaps& maps, const PolicyApplier& applier,
                  const SandboxRegistry& registry)
      : roles_(std::move(roles)), store_(&store), maps_(maps), applier_(applier), registry_(registry) {}

  const policy::ApprovalSettings& settings_for(const std::string& sandbox) const;
  // Why `target` is allowed now (a rule of the running policy, a live
  // grant), or "" while nothing allows it.
  // `besides`: a grant not to count (the one a reopen takes back).
  std::string allowed_now(const approvals::Target& target, std::optional<uint64_t> besides = std::nullopt) const;
  std::vector<policy::Cidr> host_addresses_;  // judged as loopback, as the hooks do
  void audit(const store::AuditEvent& event);
  void siem(const nlohmann::json& ocsf);
  void broadcast(const nlohmann::json& event, const std::string& tenant);
  void persist(const approvals::Request& request);
  // A grant made (`actor`: who answered, or the fleet host it came from).
  void audit_grant_made(const approvals::Grant& grant, approvals::Time when, const std::string& actor);
  // `leaves_fleet`: a grant of the fleet's is withdrawn from etcd too
  // (every host ends it), unless the fleet itself ended it.
  void grant_ended(const approvals::Grant& grant, const std::string& why, const std::string& actor,
                   bool leaves_fleet = true);
  // A grant just made here by an answer: the fleet's when its scope is.
  void claim_for_fleet(approvals::Grant& grant);
  // Why a grant of another host's is not mirrored here, or "".
  std::string fleet_refusal(const approvals::Grant& grant) const;
  bool own(const approvals::Grant& grant) const { return fleet_ && grant.origin && grant.origin->host == fleet_->host; }
  std::optional<FleetLink> fleet_;
  std::set<uint64_t> fleet_offered_;  // requests whose key is in etcd (or on its way)
  void offer_to_fleet(const approvals::Request& request);
  // answer() once the caller's role is checked.
  Result<nlohmann::json> answer_checked(const api::ApprovalsAnswerRequest& request, const approvals::Identity& who);
  std::set<uint64_t> fleet_seen_;                     // own grants etcd has held
  std::set<uint64_t> fleet_restored_;                 // own grants from the store, not judged by a sync yet
  std::set<std::string> fleet_withdrawn_;             // origins withdrawn here whose key etcd still holds
  std::map<std::string, std::string> fleet_refused_;  // origin -> why it is not mirrored (said once)
  std::vector<std::string> fleet_bad_records_;
  uint64_t fleet_adopted_ = 0, fleet_ended_ = 0;
  std::function<void()> name_grants_changed_;

  void tell_folds(approvals::Time now);
  // Why a name grant `candidate` would not fit beside the tenant's other
  // grants of the name (their ports together past one kernel value), or "".
  std::string name_ports_overflow(const approvals::Grant& candidate) const;
  bool may(const approvals::Identity& who, approvals::Role role, const std::string& tenant) const {
    return roles_.role_for(who, tenant) >= role;
  }

  struct Watcher {
    api::Reply reply;
    approvals::Identity who;
  };

  approvals::Roles roles_;
  // Asked for every control connection, before any limit: the user
  // database is consulted once a minute per caller, not per connection.
  mutable approvals::IdentityCache identities_;
  approvals::Book book_;
  approvals::RequestCaps caps_;
  approvals::Folds folds_;  // past the caps: one entry per sandbox
  approvals::GrantBudget grant_budget_;
  std::vector<approvals::GrantSandbox> grant_sandboxes() const;
  store::WriteBudget denial_rows_;
  store::Store* store_;  // the daemon's, which outlives this
  std::unique_ptr<DenialLog> siem_;
  std::unique_ptr<AuditSyslog> siem_syslog_;
  bpf::KernelMaps& maps_;
  const PolicyApplier& applier_;
  const SandboxRegistry& registry_;
  std::vector<Watcher> watchers_;
  bool batching_ = false;  // in a drain: its records share one transaction
  std::optional<store::Transaction> batch_;
  std::chrono::steady_clock::time_point last_prune_{};
  bool prune_more_ = false;  // the retention sweep goes on at the next tick
  uint64_t swept_ = 0;       // rows the running sweep removed
  size_t kernel_entries_ = 0;
  // The last sync: entries each tenant holds, and those its limit left out.
  std::map<std::string, size_t> entries_by_tenant_;
  size_t entries_over_limit_ = 0;
  // Kernel writes of grants (address and name) that failed, since start;
  // approvals refused for the tenant's grant limit.
  uint64_t grant_write_failures_ = 0, grants_refused_over_limit_ = 0;
  uint64_t requests_created_ = 0, store_errors_ = 0, requests_folded_ = 0;
  uint64_t requests_settled_ = 0, requests_already_allowed_ = 0;
};

}  // namespace agentd::daemon
