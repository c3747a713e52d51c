// The daemon: owns the enforcer, the policy, the sandboxes, the denial
// stream and the control socket, all on one sd-event loop.
#pragma once

#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>
#include <string>

#include <nlohmann/json.hpp>

#include "agentd/api/server.hpp"
#include "agentd/bpf/enforcer.hpp"
#include "agentd/bpf/event_reader.hpp"
#include "agentd/bpf/features.hpp"
#include "agentd/bpf/map_writer.hpp"
#include "agentd/daemon/approval_service.hpp"
#include "agentd/common/result.hpp"
#include "agentd/common/sd_event_ptr.hpp"
#include "agentd/daemon/denial_log.hpp"
#include "agentd/daemon/fleet_watch.hpp"
#include "agentd/daemon/prefix_watch.hpp"
#include "agentd/fleet/etcd_writer.hpp"
#include "agentd/fleet/host_reporter.hpp"
#include "agentd/policy/loader.hpp"
#include "agentd/events/denial.hpp"
#include "agentd/daemon/off_loop.hpp"
#include "agentd/daemon/options.hpp"
#include "agentd/daemon/policy_applier.hpp"
#include "agentd/daemon/policy_watcher.hpp"
#include "agentd/daemon/sandbox_lifecycle.hpp"
#include "agentd/daemon/sandbox_registry.hpp"
#include "agentd/metrics/endpoint.hpp"
#include "agentd/metrics/histogram.hpp"
#include "agentd/sandbox/populated_watch.hpp"

namespace agentd::daemon {

class Daemon : private SandboxSide {
 public:
  // Everything that can fail at start fails here, before enforcement
  // changes: invalid policy, a kernel without the features, a busy socket.
  static Result<std::unique_ptr<Daemon>> start(Options options);
  ~Daemon() override;

  // Runs until SIGTERM or SIGINT; returns the exit code.
  int run();

 private:
  explicit Daemon(Options options) : options_(std::move(options)) {}

  Status init();
  Status choose_cgroup_root();
  Status restore_sandboxes();
  // What a sandbox's life cycle (sandbox_lifecycle.hpp) asks of the daemon.
  Status attach_links(const Sandbox& sandbox) override;
  Status detach_links(const Sandbox& sandbox) override;
  // The sandbox's own DNS sockets: UDP on 127.64.<slot> (on failure its
  // queries reach the shared socket, logged), and [::1]:<base + slot> for
  // its queries to IPv6 servers, the port returned (0 on failure: those
  // queries stay refused, logged).
  uint16_t open_dns(uint32_t slot) override;
  void close_dns(uint32_t slot) override;
  Status store_adopted(const std::vector<store::AdoptedRow>& rows) override;
  void announce(const Sandbox& sandbox, const std::string& event, const nlohmann::json& detail) override;
  void sync_grants_of(const Sandbox& sandbox) override;
  // State an older agentd kept in JSON files beside the store, moved into
  // it once (state_import.cpp).
  Status import_state_files();
  // Loads the policy dir and applies it, off the loop; the running policy
  // stays on any error. `reply`, if any, gets what changed once the new
  // policy is in force. Requests during a reload collapse into one more.
  void request_reload(const std::string& why, std::optional<api::Reply> reply);
  void start_reload();
  void finish_reload(const std::string& why, std::vector<api::Reply> replies, Result<PreparedPolicy> prepared,
                     const std::vector<policy::Diagnostic>& errors);
  void diff_policy(const api::Reply& reply, const approvals::Identity& who);
  // The policy source (daemon_fleet.cpp): a policy dir, or etcd with the
  // last applied policy kept under <state-dir>/fleet.
  std::filesystem::path fleet_dir() const;
  policy::LoadResult load_start_policy();
  // What a reload loads: the dir, or the newest policy etcd sent (taken
  // now, on the loop; remembered as the one being tried).
  std::function<policy::LoadResult()> policy_loader();
  Status start_fleet(sd_event* loop);
  void on_fleet_update(FleetWatch::Update update);
  void fleet_applied();                                 // the one being tried is in force
  void fleet_reload_refused(const std::string& error);  // the one being tried is not
  void fleet_refused(int64_t revision, const std::string& error);
  void report_to_fleet();
  nlohmann::json fleet_status() const;
  // The applied policy's source texts, those of the tenants `who` may view.
  nlohmann::json policy_source(const approvals::Identity& who) const;

  // The control socket's requests (daemon_control.cpp): the gate, then the
  // handler the control table names (approvals/control_methods.hpp).
  void handle(const nlohmann::json& request, const api::Peer& peer, api::Reply reply);
  struct ControlCall {
    const approvals::ControlMethod& method;
    const nlohmann::json& request;
    const api::Peer& peer;
    const approvals::Identity& who;
    api::Reply& reply;
  };
  using ControlHandler = void (*)(Daemon&, ControlCall&);
  static const std::map<std::string_view, ControlHandler>& control_handlers();
  // Every method of the control table has a handler here, and no other.
  static Status check_control_handlers();
  // True when the request waits for its sandbox's class to compile off
  // the loop (it is handled again once it has).
  bool compile_class_first(const nlohmann::json& request, const api::Peer& peer, const api::Reply& reply);
  // Requests that waited, handled again (compiling on the loop if asked).
  void run_on_loop(std::vector<std::function<void()>> requests, bool compile_on_loop);
  // A reload's prepare is over (committed, refused or unchanged).
  void prepare_done();
  std::optional<api::Refusal> gate(const api::Peer& peer) const;
  nlohmann::json control_status() const;
  // Without --dns-upstream: a changed resolv.conf gives the proxy its new
  // upstream (or none: fail closed). Checked on the maintenance timer.
  void follow_resolv_conf();
  std::string service_status() const;
  void refresh_host_addresses();
  Result<nlohmann::json> ensure_sandbox(const std::string& agent, bool unknown_tenant = false);
  // A new sandbox's tenant has a policy file, or the caller said it may
  // not (a staged roll-out): a typo never makes a sandbox that denies
  // everything and says nothing.
  Status check_tenant_known(const policy::AgentName& agent, bool unknown_tenant) const;
  nlohmann::json with_profile(nlohmann::json sandbox, const policy::AgentName& agent) const;
  Result<nlohmann::json> sandbox_profile(const std::string& agent) const;
  Result<nlohmann::json> adopt_sandbox(const std::string& agent, const std::string& cgroup,
                                       bool unknown_tenant = false);
  // A free slot for the agent (SandboxRegistry::free_slot), said in the
  // log when it passes from another agent, with its uid.
  // `outside_root`: an adopted cgroup outside the sandbox root (it costs
  // agentd a link descriptor per program besides).
  Result<uint32_t> claim_slot(const std::string& agent, bool outside_root = false);
  // Releases a sandbox: a run sandbox's cgroup first (it fails while a
  // process remains, and then nothing is released), then its records are
  // drained, then SandboxLifecycle::retire releases its slot, learned
  // addresses, grants, rate limits, DNS sockets; the audit trail keeps it.
  Status retire_sandbox(uint32_t slot, const std::string& why);
  // On the maintenance timer: the sandboxes sandbox_retirement.hpp retires.
  void retire_idle_sandboxes();
  // DNS from a sandbox's process in another network namespace (a
  // container's), refused by the kernel with a dns_netns record: the
  // proxy's sockets for that sandbox, opened inside it (daemon_netns.cpp).
  void serve_sandbox_netns(uint32_t slot, pid_t hint);
  // The proxy's sockets inside the namespace of one process of the
  // sandbox (checked to be in it); false when not served, logged.
  bool serve_netns_of(const Sandbox& sandbox, pid_t pid);
  // On the maintenance timer: namespaces none of the sandbox's processes
  // is in any more are left.
  void sweep_sandbox_netns();
  // A retiring sandbox's namespaces, out of the kernel's map.
  void forget_sandbox_netns(uint32_t slot);
  // `agentctl sandbox remove`: an adopted sandbox, or an empty run sandbox.
  Result<nlohmann::json> remove_sandbox(const std::string& agent);
  // What `status` details unless asked for more or fewer.
  static constexpr size_t kStatusSandboxes = 100;
  // `listed`: how many sandboxes (by slot) status details, in `sandboxes`
  // and `dns.sandboxes`; the counts and totals always cover them all.
  // Which tenants a caller may see (a viewer of some tenants sees their
  // sandboxes and files only); empty: every tenant (metrics, logs).
  using TenantShown = std::function<bool(const std::string& tenant)>;
  // What `who` may see; empty when that is every tenant.
  TenantShown shown_to(const approvals::Identity& who) const;
  nlohmann::json approvals_status(const TenantShown& shown) const;
  nlohmann::json status(size_t listed = SIZE_MAX, const TenantShown& shown = {}) const;
  nlohmann::json dns_status(size_t listed = SIZE_MAX, const TenantShown& shown = {}) const;
  nlohmann::json sandboxes_json(size_t listed = SIZE_MAX, const TenantShown& shown = {}) const;
  struct RecordTotals {
    uint64_t suppressed = 0, held = 0, dropped = 0;
  };
  RecordTotals record_totals() const;  // over the live sandboxes
  Result<nlohmann::json> explain(const std::string& agent, const std::string& dest, bool inbound,
                                 const std::string& sni) const;

  void on_denial(const agentd_deny_event& event, std::string_view name);
  // Every denial, the kernel's or the DNS proxy's, built once: written to
  // the denial log as its JSON line and handed, typed, to approvals.
  void record_denial(const events::Denial& denial);

  static int on_signal(sd_event_source*, const struct signalfd_siginfo*, void* self);
  static int on_drain_timer(sd_event_source*, uint64_t, void* self);
  static int on_maintenance_timer(sd_event_source*, uint64_t, void* self);
  static int on_approvals_timer(sd_event_source*, uint64_t, void* self);
  Status start_approvals(sd_event* loop);
  Status start_dns(sd_event* loop);
  static int on_ring_readable(sd_event_source*, int, uint32_t, void* self);
  static int on_populated_notice(sd_event_source*, int, uint32_t, void* self);
  // Whether the sandbox's cgroup holds a process; nothing when the cgroup
  // is gone (or is another cgroup now); an error when unreadable.
  Result<std::optional<bool>> sandbox_populated(const Sandbox& sandbox) const;
  void follow_populated(const Sandbox& sandbox);
  void drain_events();

  Options options_;
  std::filesystem::path cgroup2_mount_;
  std::filesystem::path delegated_cgroup_;  // the systemd unit's cgroup, when it was delegated to us
  // Per-sandbox CPU shares (sandbox/cpu_share.hpp): why they are off, or
  // empty while every sandbox got its share.
  std::string cpu_share_off_;
  bpf::KernelFeatures features_;
  std::unique_ptr<bpf::Enforcer> enforcer_;
  std::unique_ptr<bpf::KernelMaps> maps_;  // bpf::MapWriter: the kernel's
  std::unique_ptr<PolicyApplier> applier_;
  SandboxRegistry registry_;
  // The order of a sandbox's writes into the maps and out, and their undo.
  std::unique_ptr<SandboxLifecycle> lifecycle_;
  // Whether each sandbox's cgroup runs a process, from the kernel's
  // notices; before the loop's sources, so destroyed after them. Null when
  // no inotify instance was left: each question then reads the cgroup.
  std::unique_ptr<sandbox::PopulatedWatch> populated_watch_;
  // Approvals, grants, the audit trail, learned names and adopted cgroups;
  // before everything that writes to it, so destroyed after.
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<bpf::EventReader> events_;
  std::unique_ptr<DenialLog> denial_log_;
  SdEventPtr loop_;
  std::vector<SdEventSourcePtr> sources_;
  std::unique_ptr<api::Server> server_;
  std::unique_ptr<PolicyWatcher> watcher_;
  std::unique_ptr<OffLoop> off_loop_;
  // Class keys being compiled off the loop, and the requests waiting on each.
  std::map<std::string, std::vector<std::function<void()>>> compiling_;
  bool compile_on_loop_ = false;  // while the requests of a failed compile run again
  // From a reload's start to its commit (or refusal): new sandboxes wait.
  bool reload_preparing_ = false;
  std::vector<std::function<void()>> after_prepare_;
  std::unique_ptr<DnsLearning> dns_learning_;
  bool upstream_follows_resolv_conf_ = false;
  std::string resolv_conf_seen_;  // file_identity() of it when last read
  std::unique_ptr<ApprovalService> approvals_;
  std::unique_ptr<dns::DnsProxy> dns_proxy_;  // after what it uses: destroyed first
  metrics::ReloadMetrics reload_metrics_;
  std::unique_ptr<metrics::Endpoint> metrics_;  // its thread reads through the loop: stopped first

  // Reloads run one at a time; what is asked meanwhile waits for the next.
  bool reload_running_ = false;
  std::chrono::steady_clock::time_point reload_started_;
  bool reload_queued_ = false;
  std::string queued_trigger_;
  std::vector<api::Reply> queued_replies_;

  std::chrono::system_clock::time_point started_at_;
  std::chrono::system_clock::time_point policy_loaded_at_;
  uint64_t policy_generation_ = 0;
  std::string last_reload_error_;
  std::string last_reload_trigger_ = "start";
  double last_reload_ms_ = 0;
  double last_reload_loop_ms_ = 0;  // of that, on the loop (the switch and what follows)
  uint64_t events_received_ = 0;
  // Served namespaces no process of their sandbox was in at the last
  // sweeps: since when (DnsProxy::Foreign ids).
  std::map<uint64_t, std::chrono::steady_clock::time_point> netns_unused_since_;
  std::map<uint32_t, std::chrono::steady_clock::time_point> netns_walked_at_;  // by slot: its processes last walked

  // --policy-source etcd (daemon_fleet.cpp). Last: the watch's thread calls
  // back into all of the above, so it stops first.
  struct FleetRefusal {
    int64_t revision;
    std::string error;
    std::chrono::system_clock::time_point at;
  };
  std::optional<fleet::KeyLayout> fleet_layout_;
  std::string fleet_host_;
  int64_t fleet_applied_revision_ = 0;
  std::shared_ptr<const fleet::PolicySnapshot> fleet_candidate_;  // the newest etcd sent
  std::shared_ptr<const fleet::PolicySnapshot> fleet_trying_;     // the one the running reload loads
  std::optional<FleetRefusal> fleet_refusal_;
  std::unique_ptr<fleet::HostReporter> fleet_reporter_;
  std::unique_ptr<FleetWatch> fleet_watch_;
  // The fleet's grants (approval_fleet.cpp): written through the writer,
  // followed through the watch.
  Status start_fleet_grants(sd_event* loop);
  void on_fleet_grants(const fleet::RangeAnswer& range);
  nlohmann::json fleet_grants_status() const;
  // Answers operators gave through etcd (watch --fleet), taken once each.
  void on_fleet_answers(const fleet::RangeAnswer& range);
  std::unique_ptr<fleet::EtcdWriter> fleet_writer_;  // grants, requests, taken answers
  std::unique_ptr<PrefixWatch> fleet_grant_watch_;
  std::unique_ptr<PrefixWatch> fleet_answer_watch_;
  std::map<std::string, int64_t> fleet_answers_taken_;  // key -> mod revision, until its delete is seen
  uint64_t fleet_answers_ok_ = 0, fleet_answers_refused_ = 0;
  std::string fleet_last_answer_error_;
  uint64_t loop_failures_ = 0;  // event-loop callbacks that threw (guard.hpp)
};

}  // namespace agentd::daemon
