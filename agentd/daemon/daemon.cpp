#include "agentd/daemon/daemon.hpp"

#include <netinet/in.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <set>

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "agentd/api/params.hpp"
#include "agentd/api/protocol.hpp"
#include "agentd/common/guard.hpp"
#include "agentd/common/json_dump.hpp"
#include "agentd/common/safe_text.hpp"
#include "agentd/common/version.hpp"
#include "agentd/daemon/open_files.hpp"
#include "agentd/dns/rebinding.hpp"
#include "agentd/daemon/run_context.hpp"
#include "agentd/daemon/service_manager.hpp"
#include "agentd/events/denial_json.hpp"
#include "agentd/events/denial_record.hpp"
#include "agentd/events/denial_text.hpp"
#include "agentd/events/record_time.hpp"
#include "agentd/approvals/grant_review.hpp"
#include "agentd/bpf/traffic_json.hpp"
#include "agentd/policy/diff.hpp"
#include "agentd/policy/explain.hpp"
#include "agentd/policy/names.hpp"
#include "agentd/policy/loader.hpp"
#include "agentd/policy/sandbox_section.hpp"
#include "agentd/metrics/exposition.hpp"
#include "agentd/metrics/listen_address.hpp"
#include "agentd/sandbox/adopt_check.hpp"
#include "agentd/sandbox/cgroup.hpp"
#include "agentd/sandbox/cgroup_mount.hpp"
#include "agentd/sandbox/cpu_share.hpp"
#include "agentd/sandbox/delegation.hpp"

namespace agentd::daemon {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr uint64_t kDrainIntervalUsec = 100'000;  // how late a denial record may be logged
constexpr uint64_t kMaintenanceUsec = 5'000'000;  // learned addresses: expiry sweep and save

// What tells a rewritten file from the one read before: inode, size and
// modification time ("" when it is missing).
std::string file_identity(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "";
  return fmt::format("{}:{}:{}.{}", st.st_ino, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

std::string join_diagnostics(const std::vector<policy::Diagnostic>& diagnostics) {
  std::string text;
  for (const auto& d : diagnostics) text += (text.empty() ? "" : "\n") + d.str();
  return text;
}

// Monotonic kernel timestamps to wall-clock time.
std::chrono::system_clock::time_point wall_time_of(uint64_t monotonic_ns) {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  const int64_t now_ns = static_cast<int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
  const auto age = std::chrono::nanoseconds(now_ns - static_cast<int64_t>(monotonic_ns));
  return std::chrono::system_clock::now() - std::chrono::duration_cast<std::chrono::system_clock::duration>(age);
}

// Ports the kernel hands out on its own (ip_local_port_range) may be
// taken by any socket when a sandbox needs its own: say so at the start.
void warn_if_ephemeral(uint16_t base) {
  if (base == 0) return;
  std::ifstream range_file("/proc/sys/net/ipv4/ip_local_port_range");
  uint32_t low = 0, high = 0;
  if (!(range_file >> low >> high)) return;
  const uint32_t first = uint32_t{base} + 1, last = uint32_t{base} + AGENTD_MAX_SANDBOXES - 1;
  if (first <= high && low <= last)
    spdlog::warn(
        "the IPv6 DNS ports [::1]:{}-{} overlap the kernel's ephemeral ports {}-{}: a sandbox whose port "
        "is taken cannot ask IPv6 servers; move them with --dns-ipv6-port-base",
        first, last, low, high);
}

// The route walls refuse the options that bind an address the host does
// not own; the host-wide sysctls below would allow it to any socket.
void warn_if_nonlocal_bind() {
  for (const char* sysctl : {"/proc/sys/net/ipv4/ip_nonlocal_bind", "/proc/sys/net/ipv6/ip_nonlocal_bind"}) {
    std::ifstream file(sysctl);
    int value = 0;
    if (file >> value && value != 0)
      spdlog::warn("{} is {}: any sandbox may send from addresses this host does not own (spoofing); set it to 0",
                   sysctl, value);
  }
}

}  // namespace

Result<std::unique_ptr<Daemon>> Daemon::start(Options options) {
  if (auto status = check_control_handlers(); !status) return status.error();
  std::unique_ptr<Daemon> daemon(new Daemon(std::move(options)));
  if (auto status = daemon->init(); !status) return status.error();
  return daemon;
}

Daemon::~Daemon() {
  fleet_watch_.reset();  // its thread hands updates to this daemon
  fleet_grant_watch_.reset();
  fleet_answer_watch_.reset();
  metrics_.reset();  // its thread waits on the loop, which runs no more
  if (dns_learning_) dns_learning_->save(*store_);
  server_.reset();
  sources_.clear();
  if (denial_log_) denial_log_->flush();
}

Status Daemon::init() {
  started_at_ = std::chrono::system_clock::now();
  // Absolute paths: what status reports and what the pins record must not
  // depend on the directory agentd was started from.
  for (fs::path* p : {&options_.policy_dir, &options_.state_dir, &options_.socket_path, &options_.bpffs_dir,
                      &options_.cgroup_root, &options_.events_log})
    if (!p->empty()) *p = fs::absolute(*p).lexically_normal();

  // Policy first: an invalid policy refuses the start before anything in
  // the kernel changes.
  auto loaded = load_start_policy();
  for (const auto& w : loaded.warnings) spdlog::warn("{}", w.str());
  if (!loaded.ok()) return make_error("invalid policy, refusing to start:\n{}", join_diagnostics(loaded.errors));
  auto policy = std::make_shared<const policy::PolicySet>(std::move(*loaded.policy));

  // Before anything in the kernel changes: a second agentd must not adopt
  // the first one's programs and then fail on its socket.
  if (auto free = api::check_socket_free(options_.socket_path); !free) return free.error();

  auto mount = sandbox::find_cgroup2_mount();
  if (!mount) return mount.error();
  cgroup2_mount_ = *mount;
  if (options_.cgroup_root.empty()) {
    if (auto st = choose_cgroup_root(); !st) return st.error();
  }
  if (!sandbox::path_is_within(options_.cgroup_root, cgroup2_mount_))
    return make_error("--cgroup-root {} is not inside the cgroup2 mount {}", options_.cgroup_root.string(),
                      cgroup2_mount_.string());
  std::error_code ec;
  fs::create_directories(options_.cgroup_root, ec);
  if (ec) return make_error("creating cgroup root {}: {}", options_.cgroup_root.string(), ec.message());
  // Whether tenants will share the CPU fairly (the root hands cpu down);
  // each new sandbox tries the levels above it again.
  if (auto st = sandbox::share_cpu_fairly(options_.cgroup_root, "tenant"); !st) {
    cpu_share_off_ = st.error().describe();
    spdlog::warn(
        "sandboxes do not get CPU shares of their own (one that runs many busy processes takes CPU from "
        "the others): {}",
        cpu_share_off_);
  }
  fs::create_directories(options_.state_dir, ec);
  if (ec) return make_error("creating state dir {}: {}", options_.state_dir.string(), ec.message());

  features_ = bpf::probe_kernel_features();
  auto enforcer = bpf::Enforcer::start({options_.bpffs_dir, options_.cgroup_root, options_.record_budget}, features_);
  if (!enforcer) return enforcer.error();
  enforcer_ = std::move(*enforcer);
  maps_ = std::make_unique<bpf::MapWriter>(enforcer_->maps());
  applier_ = std::make_unique<PolicyApplier>(*maps_);
  if (auto status = applier_->reserve_existing_ids(); !status) return status.error();

  // Each slot's last generation, kept in the kernel across restarts: the
  // next sandbox in a slot gets one more, and 0 marks a slot never used.
  auto store = store::Store::open(options_.state_dir / "agentd.db",
                                  {options_.approvals.audit_max_age, options_.approvals.audit_max_bytes});
  if (!store) return store.error();
  store_ = std::move(*store);
  if (auto status = import_state_files(); !status) return status.error();
  registry_ = SandboxRegistry(options_.max_sandboxes);
  lifecycle_ =
      std::make_unique<SandboxLifecycle>(*maps_, registry_, static_cast<SandboxSide&>(*this), options_.cgroup_root);
  for (uint32_t slot = 1; slot <= registry_.max_slots(); ++slot)
    if (auto state = maps_->state(slot)) registry_.set_generation(slot, generation_of(*state));
  if (auto status = restore_sandboxes(); !status) return status.error();
  const auto apply_started = std::chrono::steady_clock::now();
  auto report = applier_->apply(policy, registry_);
  if (!report) return make_error("applying the policy: {}", report.error().describe());
  last_reload_ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - apply_started).count();
  policy_loaded_at_ = std::chrono::system_clock::now();
  policy_generation_ = 1;
  spdlog::info("policy from {}: {} tenants, {} rules; {} classes written, {} sandboxes", options_.policy_dir.string(),
               policy->tenants().size(), policy->rule_count(), report->classes_written, registry_.all().size());
  fleet_applied();  // a first start from etcd keeps what it applied

  auto log = DenialLog::open(options_.events_log);
  if (!log) return log.error();
  denial_log_ = std::move(*log);
  auto reader = bpf::EventReader::open(
      enforcer_->maps().events, [this](const agentd_deny_event& e, std::string_view name) { on_denial(e, name); });
  if (!reader) return reader.error();
  events_ = std::make_unique<bpf::EventReader>(std::move(*reader));

  sd_event* loop = nullptr;
  if (int r = sd_event_new(&loop); r < 0) {
    errno = -r;
    return system_error("creating the event loop");
  }
  loop_.reset(loop);
  if (auto st = enable_watchdog(loop); !st) return st.error();
  auto off_loop = OffLoop::create(loop);
  if (!off_loop) return off_loop.error();
  off_loop_ = std::move(*off_loop);

  sigset_t mask;
  sigemptyset(&mask);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&mask, sig);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) {
    sd_event_source* source = nullptr;
    if (sd_event_add_signal(loop, &source, sig, &Daemon::on_signal, this) < 0)
      return make_error("watching signal {}", sig);
    sources_.emplace_back(source);
  }
  sd_event_source* timer = nullptr;
  if (sd_event_add_time_relative(loop, &timer, CLOCK_MONOTONIC, kDrainIntervalUsec, 0, &Daemon::on_drain_timer, this) <
      0)
    return make_error("arming the denial drain timer");
  sd_event_source_set_enabled(timer, SD_EVENT_ON);
  sources_.emplace_back(timer);
  sd_event_source* ring = nullptr;
  if (sd_event_add_io(loop, &ring, events_->fd(), EPOLLIN, &Daemon::on_ring_readable, this) < 0)
    return make_error("watching the denial ring buffer");
  sources_.emplace_back(ring);
  // Without an inotify instance (fs.inotify.max_user_instances) every
  // question reads the cgroup, as the sweep always did: slower, not wrong.
  if (auto watch = sandbox::PopulatedWatch::open(); watch) {
    populated_watch_ = std::make_unique<sandbox::PopulatedWatch>(std::move(*watch));
    sd_event_source* notices = nullptr;
    if (sd_event_add_io(loop, &notices, populated_watch_->fd(), EPOLLIN, &Daemon::on_populated_notice, this) < 0)
      return make_error("watching the sandboxes' cgroup.events");
    sources_.emplace_back(notices);
  } else {
    spdlog::warn("{}: each sweep reads every sandbox's cgroup.events", watch.error().describe());
  }

  auto server = api::Server::listen(
      loop, options_.socket_path,
      [this](const json& request, const api::Peer& peer, api::Reply reply) { handle(request, peer, std::move(reply)); },
      [this](const api::Peer& peer) { return gate(peer); });
  if (!server) return server.error();
  server_ = std::move(*server);
  if (auto status = start_approvals(loop); !status) return status;
  if (auto status = start_dns(loop); !status) return status;
  if (options_.fleet.enabled) {
    if (auto status = start_fleet(loop); !status) return status;
  } else if (options_.watch_policy) {
    auto watcher = PolicyWatcher::watch(loop, options_.policy_dir, options_.reload_settle_ms * 1000ULL,
                                        [this] { request_reload("policy dir changed", std::nullopt); });
    if (!watcher) return watcher.error();
    watcher_ = std::move(*watcher);
  }
  if (!options_.metrics_listen.empty()) {
    auto where = metrics::parse_listen_address(options_.metrics_listen);
    if (!where) return where.error();
    auto endpoint = metrics::Endpoint::start(
        loop, *where, [this] { return metrics::render(status(), reload_metrics_, options_.metrics_sandboxes); });
    if (!endpoint) return endpoint.error();
    metrics_ = std::move(*endpoint);
    spdlog::info("metrics at {} (GET /metrics)", options_.metrics_listen);
  }
  // The maps hold the sandboxes, the policy, the grants and the DNS
  // configuration: this daemon's programs may take over from a previous
  // one's (at once when nothing was attached; see Enforcer::commit).
  if (auto status = enforcer_->commit(); !status) return status;
  spdlog::info("agentd {} enforcing: cgroup root {}, bpffs {}, socket {}", version(), options_.cgroup_root.string(),
               options_.bpffs_dir.string(), options_.socket_path.string());
  // Only now, with the programs attached and the policy in force, may
  // systemd start what is ordered after us.
  notify_ready(service_status());
  return ok_status();
}

// No --cgroup-root: under systemd with Delegate=yes the unit's cgroup is
// divided into the daemon's leaf and the sandbox root; elsewhere the
// sandboxes live in <cgroup2 mount>/agentd.
Status Daemon::choose_cgroup_root() {
  auto own = sandbox::cgroup_of_pid(::getpid(), cgroup2_mount_);
  if (!own) return own.error();
  if (!sandbox::started_by_systemd(*own, cgroup2_mount_)) {
    options_.cgroup_root = cgroup2_mount_ / "agentd";
    return ok_status();
  }
  const auto layout = sandbox::delegated_layout(*own);
  if (auto st = sandbox::enter_delegated_layout(layout); !st)
    return make_error("dividing the delegated cgroup {} (does the unit say Delegate=yes?): {}",
                      layout.unit_cgroup.string(), st.error().describe());
  spdlog::info("running in the delegated cgroup {}: agentd in {}, sandboxes under {}", layout.unit_cgroup.string(),
               layout.daemon_leaf.string(), layout.sandbox_root.string());
  options_.cgroup_root = layout.sandbox_root;
  delegated_cgroup_ = layout.unit_cgroup;
  return ok_status();
}

Status Daemon::start_dns(sd_event* loop) {
  if (!options_.dns.enabled) {
    spdlog::warn("DNS proxy off (--no-dns): sandboxes' DNS is judged like other traffic; host rules learn nothing");
    if (auto st = maps_->set_dns6_port(0, 0); !st) return st;
    return maps_->set_dns_config(false, 0);
  }
  // Without --dns-upstream the proxy follows resolv.conf; a host whose
  // resolv.conf names no nameserver (yet) is enforced all the same, its
  // allowed names failing closed until one appears.
  std::string no_upstream;
  upstream_follows_resolv_conf_ = options_.dns.upstream.empty();
  if (upstream_follows_resolv_conf_) {
    resolv_conf_seen_ = file_identity(options_.dns.resolv_conf);
    auto upstream = dns::upstream_from_resolv_conf(options_.dns.resolv_conf);
    if (upstream) {
      options_.dns.upstream = *upstream;
    } else {
      no_upstream = upstream.error().describe();
      spdlog::warn("DNS proxy without an upstream resolver: {}; allowed names get SERVFAIL until {} names one",
                   no_upstream, options_.dns.resolv_conf);
    }
  }
  auto upstream = options_.dns.upstream.empty()
                      ? Result<std::pair<sockaddr_storage, socklen_t>>(std::make_pair(sockaddr_storage{}, socklen_t{0}))
                      : dns::parse_upstream(options_.dns.upstream);
  if (!upstream) return make_error("--dns-upstream: {}", upstream.error().describe());
  auto protected_ranges = options_.dns.protected_ranges.empty()
                              ? Result<dns::ProtectedRanges>(dns::ProtectedRanges::defaults())
                              : dns::ProtectedRanges::parse(options_.dns.protected_ranges);
  if (!protected_ranges) return make_error("--dns-protected: {}", protected_ranges.error().describe());
  dns_learning_ =
      std::make_unique<DnsLearning>(options_.dns, std::move(*protected_ranges), *maps_, *applier_, registry_,
                                    [this](const events::Denial& denial) { record_denial(denial); });
  if (approvals_) {
    dns_learning_->set_name_grants(
        [this](const policy::AgentName& agent, std::string_view name) -> std::optional<DnsLearning::GrantedName> {
          auto granted = approvals_->name_grant(agent, name);
          if (!granted) return std::nullopt;
          return DnsLearning::GrantedName{granted->explanation, granted->until_ns, granted->ports};
        });
    approvals_->on_name_grants_changed([this] { dns_learning_->revalidate(); });
  }
  if (!no_upstream.empty()) dns_learning_->set_upstream("", no_upstream);
  dns_learning_->adopt(*store_);
  // What the previous daemon learned is judged by today's policy and
  // grants (one may have ended while agentd was away); a slot no sandbox
  // holds now keeps nothing for the next one.
  dns_learning_->forget_departed();
  dns_learning_->revalidate();
  dns::ProxySettings settings;
  settings.port = options_.dns.port;
  settings.ipv6_port_base = options_.dns.ipv6_port_base;
  settings.limits = options_.dns.limits;
  settings.upstream = upstream->first;
  settings.upstream_len = upstream->second;
  auto proxy = dns::DnsProxy::start(loop, settings, *dns_learning_);
  if (!proxy) return proxy.error();
  dns_proxy_ = std::move(*proxy);
  if (auto st = maps_->set_dns6_port(0, options_.dns.ipv6_port_base); !st) return st;
  warn_if_ephemeral(options_.dns.ipv6_port_base);
  warn_if_nonlocal_bind();
  for (const auto& [slot, sandbox] : registry_.all())
    if (auto st = lifecycle_->serve_dns(slot); !st) return st;
  // Only now do the hooks send DNS here: the proxy is listening.
  if (auto st = maps_->set_dns_config(true, options_.dns.port); !st) return st;
  // Containers adopted before a restart run in namespaces of their own,
  // which the previous daemon served: served again before their next
  // query, not after its refusal.
  for (const auto& [slot, sandbox] : registry_.all())
    if (sandbox.adopted) serve_sandbox_netns(slot, 0);
  sd_event_source* timer = nullptr;
  if (sd_event_add_time_relative(loop, &timer, CLOCK_MONOTONIC, kMaintenanceUsec, 0, &Daemon::on_maintenance_timer,
                                 this) < 0)
    return make_error("arming the maintenance timer");
  sd_event_source_set_enabled(timer, SD_EVENT_ON);
  sources_.emplace_back(timer);
  spdlog::info("DNS proxy on 127.64.0.0/16 port {}, upstream {}", options_.dns.port,
               no_upstream.empty() ? dns::address_str(upstream->first) : "none yet");
  return ok_status();
}

uint16_t Daemon::open_dns(uint32_t slot) {
  if (dns_proxy_)
    if (auto st = dns_proxy_->serve_ipv4(slot); !st)
      spdlog::warn("slot {}: its DNS shares the proxy's wildcard socket or listener with every sandbox: {}", slot,
                   st.error().describe());
  if (!dns_proxy_ || options_.dns.ipv6_port_base == 0) return 0;
  auto port = dns_proxy_->serve_ipv6(slot);
  if (!port) {
    spdlog::warn("slot {}: queries to IPv6 DNS servers will be refused: {}", slot, port.error().describe());
    return 0;
  }
  return *port;
}

void Daemon::follow_resolv_conf() {
  if (!upstream_follows_resolv_conf_ || !dns_proxy_) return;
  const std::string seen = file_identity(options_.dns.resolv_conf);
  if (seen == resolv_conf_seen_) return;
  resolv_conf_seen_ = seen;
  auto text = dns::upstream_from_resolv_conf(options_.dns.resolv_conf);
  auto upstream = text ? dns::parse_upstream(*text) : Result<std::pair<sockaddr_storage, socklen_t>>(text.error());
  if (!upstream) {
    if (dns_learning_->upstream().empty()) return;
    // Fail closed, as at start: no upstream rather than a stale one.
    spdlog::warn("{} changed and names no usable nameserver ({}): allowed names get SERVFAIL until it does",
                 options_.dns.resolv_conf, upstream.error().describe());
    dns_learning_->set_upstream("", upstream.error().describe());
    dns_proxy_->set_upstream(sockaddr_storage{}, 0);
    notify_status(service_status());
    return;
  }
  if (*text == dns_learning_->upstream()) return;
  spdlog::info("{} changed: the DNS proxy now forwards to {}", options_.dns.resolv_conf,
               dns::address_str(upstream->first));
  dns_proxy_->set_upstream(upstream->first, upstream->second);
  dns_learning_->set_upstream(*text);
  notify_status(service_status());
}

// The host's addresses change (DHCP, a new interface): the hooks judge
// each one as loopback, and approvals see them as the kernel does.
void Daemon::refresh_host_addresses() {
  const uint64_t cookie = enforcer_->netns_cookie();
  auto addresses = dns::host_addresses();
  auto changed = maps_->sync_host_addresses(cookie, bpf::host_address_keys(cookie, addresses));
  if (!changed)
    spdlog::warn("the host's addresses are not up to date for the hooks: {}", changed.error().describe());
  else if (*changed)
    spdlog::info("the host's addresses changed: {} entries updated for the hooks", *changed);
  approvals_->set_host_addresses(std::move(addresses));
}

// The one line `systemctl status` shows: what is enforced, and what an
// operator must fix (a refused reload, no upstream resolver for names).
std::string Daemon::service_status() const {
  std::string line = fmt::format("enforcing policy generation {}", policy_generation_);
  if (!last_reload_error_.empty()) line += fmt::format("; last reload refused: {}", last_reload_error_);
  if (dns_learning_ && dns_learning_->upstream().empty() && !dns_learning_->no_upstream_why().empty())
    line +=
        fmt::format("; DNS: no upstream resolver, allowed names get SERVFAIL ({})", dns_learning_->no_upstream_why());
  return line;
}

int Daemon::on_maintenance_timer(sd_event_source* source, uint64_t, void* self) {
  auto* daemon = static_cast<Daemon*>(self);
  guarded("the learned addresses' sweep", daemon->loop_failures_, [&] {
    daemon->follow_resolv_conf();
    daemon->dns_learning_->collect_garbage();
    daemon->dns_learning_->save(*daemon->store_);
  });
  guarded("the host's addresses", daemon->loop_failures_, [&] { daemon->refresh_host_addresses(); });
  guarded("retiring idle sandboxes", daemon->loop_failures_, [&] { daemon->retire_idle_sandboxes(); });
  guarded("leaving unused network namespaces", daemon->loop_failures_, [&] { daemon->sweep_sandbox_netns(); });
  guarded("the fleet report", daemon->loop_failures_, [&] { daemon->report_to_fleet(); });  // sandboxes come and go
  sd_event_source_set_time_relative(source, kMaintenanceUsec);
  sd_event_source_set_enabled(source, SD_EVENT_ON);
  return 0;
}

// When a restored sandbox began, as near as the cgroup tells: its
// directory's change time.
static std::chrono::system_clock::time_point cgroup_birth(const fs::path& cgroup) {
  struct stat st {};
  if (::stat(cgroup.c_str(), &st) != 0) return std::chrono::system_clock::now();
  return std::chrono::system_clock::time_point{std::chrono::seconds{st.st_ctim.tv_sec}};
}

// Rebuilds the registry from what outlived the previous daemon: the cgroup
// tree (sandboxes agentd made), the adopted list in the state dir, and the
// cgroup -> slot map in the kernel, whose slots are kept so live sockets
// keep their sandbox (SandboxLifecycle::restore).
Status Daemon::restore_sandboxes() {
  std::vector<Sandbox> found;
  std::error_code ec;
  for (const auto& tenant : fs::directory_iterator(options_.cgroup_root, ec)) {
    if (!tenant.is_directory() || !policy::is_valid_name(tenant.path().filename().string())) continue;
    for (const auto& team : fs::directory_iterator(tenant.path(), ec)) {
      if (!team.is_directory() || !policy::is_valid_name(team.path().filename().string())) continue;
      for (const auto& agent : fs::directory_iterator(team.path(), ec)) {
        if (!agent.is_directory() || !policy::is_valid_name(agent.path().filename().string())) continue;
        Sandbox s;
        s.agent = {tenant.path().filename().string(), team.path().filename().string(),
                   agent.path().filename().string()};
        s.cgroup = agent.path();
        found.push_back(std::move(s));
      }
    }
  }
  auto adopted = store_->adopted();
  if (!adopted) return make_error("reading the adopted sandboxes: {}", adopted.error().describe());
  for (const auto& row : *adopted) {
    auto agent = policy::parse_agent_name(row.agent);
    if (!agent) {
      spdlog::warn("adopted sandbox at {}: {}: not an agent name; left alone", terminal_text(row.cgroup),
                   terminal_text(row.agent));
      continue;
    }
    Sandbox s;
    s.agent = *agent;
    s.cgroup = row.cgroup;
    s.adopted = true;
    found.push_back(std::move(s));
  }

  std::vector<Sandbox> present;
  for (auto& s : found) {
    auto id = sandbox::cgroup_id_of(s.cgroup);
    if (!id) {
      spdlog::warn("sandbox {} at {} is gone: {}", s.agent.str(), s.cgroup.string(), id.error().describe());
      continue;
    }
    s.cgroup_id = *id;
    s.created_at = cgroup_birth(s.cgroup);
    s.handed_out = std::chrono::steady_clock::now();  // a command may be on its way in
    present.push_back(std::move(s));
  }
  return lifecycle_->restore(std::move(present), [this](const std::string& agent) { return claim_slot(agent); });
}

Status Daemon::attach_links(const Sandbox& sandbox) {
  return enforcer_->attach_extra_cgroup(sandbox.cgroup, sandbox.cgroup_id);
}

Status Daemon::detach_links(const Sandbox& sandbox) { return enforcer_->detach_extra_cgroup(sandbox.cgroup_id); }

void Daemon::close_dns(uint32_t slot) {
  if (dns_learning_) dns_learning_->forget_slot(slot);
  forget_sandbox_netns(slot);  // before the proxy forgets which it serves
  if (dns_proxy_) dns_proxy_->stop_serving(slot);
}

Status Daemon::store_adopted(const std::vector<store::AdoptedRow>& rows) {
  return store_->replace_adopted(rows);  // one transaction: the old list or the new
}

void Daemon::announce(const Sandbox& sandbox, const std::string& event, const nlohmann::json& detail) {
  if (approvals_) approvals_->on_sandbox(sandbox.agent.str(), event, detail);
}

void Daemon::sync_grants_of(const Sandbox& sandbox) {
  if (approvals_ && approvals_->any_grant_covers(sandbox.agent)) approvals_->sync_grants();
}

void Daemon::request_reload(const std::string& why, std::optional<api::Reply> reply) {
  reload_queued_ = true;
  queued_trigger_ = why;
  if (reply) queued_replies_.push_back(*reply);
  if (!reload_running_) start_reload();
}

void Daemon::start_reload() {
  reload_running_ = true;
  reload_preparing_ = true;
  reload_started_ = std::chrono::steady_clock::now();
  reload_queued_ = false;
  std::string why = std::move(queued_trigger_);
  std::vector<api::Reply> replies = std::move(queued_replies_);
  queued_replies_.clear();
  // What the worker may read: copies, taken on the loop.
  std::vector<policy::AgentName> agents;
  std::map<std::string, uint32_t> class_of;
  for (const auto& [slot, sandbox] : registry_.all()) {
    agents.push_back(sandbox.agent);
    class_of[sandbox.agent.str()] = sandbox.class_id;
  }
  auto known = applier_->known_classes();
  const std::string running_digest = applier_->policy() ? applier_->policy()->source_digest() : "";

  struct Outcome {
    // What is left when the work threw (logged by OffLoop): a refusal.
    Result<PreparedPolicy> prepared = make_error("loading or compiling the policy failed; agentd's log says why");
    std::vector<policy::Diagnostic> errors;
    bool unchanged = false;
  };
  auto outcome = std::make_shared<Outcome>();
  off_loop_->run(
      [this, outcome, agents = std::move(agents), known = std::move(known), class_of = std::move(class_of),
       running_digest, load = policy_loader()] {
        auto loaded = load();
        for (const auto& w : loaded.warnings) spdlog::warn("{}", w.str());
        if (!loaded.ok()) {
          outcome->errors = std::move(loaded.errors);
          return;
        }
        if (loaded.policy->source_digest() == running_digest) {
          outcome->unchanged = true;  // an editor's touch, an apply with nothing new
          return;
        }
        outcome->prepared = applier_->prepare(std::make_shared<const policy::PolicySet>(std::move(*loaded.policy)),
                                              agents, known, class_of);
      },
      [this, outcome, why, replies = std::move(replies)]() mutable {
        if (outcome->unchanged) {
          prepare_done();
          last_reload_error_.clear();
          fleet_applied();  // a push of the same files
          for (auto& r : replies) r.send(api::ok_response({{"generation", policy_generation_}, {"changed", false}}));
          reload_running_ = false;
          if (reload_queued_) start_reload();
          return;
        }
        // A reload that threw half-way must not leave reload_running_ set:
        // every later reload would wait for it forever.
        const std::vector<api::Reply> waiting = replies;
        if (!guarded("finishing a policy reload", loop_failures_,
                     [&] { finish_reload(why, std::move(replies), std::move(outcome->prepared), outcome->errors); })) {
          last_reload_error_ = "the reload failed inside agentd; its log says why";
          fleet_reload_refused(last_reload_error_);
          for (const auto& r : waiting) r.send(api::error_response(last_reload_error_));  // no-op for those answered
          if (reload_preparing_) prepare_done();
          reload_running_ = false;
          if (reload_queued_) start_reload();
        }
      });
}

void Daemon::finish_reload(const std::string& why, std::vector<api::Reply> replies, Result<PreparedPolicy> prepared,
                           const std::vector<policy::Diagnostic>& errors) {
  auto refuse = [&](const std::string& error) {
    prepare_done();  // what prepare wrote is taken back: the running policy holds
    ++reload_metrics_.refused;
    last_reload_error_ = error;
    spdlog::error("policy reload ({}) refused, the running policy stays:\n{}", why, error);
    approvals_->on_policy("refused", why, {{"error", error}});
    fleet_reload_refused(error);
    notify_status(service_status());
    for (auto& r : replies) r.send(api::error_response("policy refused, the running policy stays:\n" + error));
    reload_running_ = false;
    if (reload_queued_) start_reload();
  };
  if (!errors.empty()) return refuse(join_diagnostics(errors));
  if (!prepared) return refuse(prepared.error().describe());
  // What the reload holds the loop for (control requests and DNS wait):
  // the switch and what follows it, not the load and compile before.
  const auto on_loop_started = std::chrono::steady_clock::now();
  auto plan = applier_->commit(std::move(*prepared), registry_);
  if (!plan) return refuse(plan.error().describe());
  prepare_done();

  const ApplyReport& report = applier_->last_report();
  last_reload_error_.clear();
  last_reload_trigger_ = why;
  last_reload_ms_ =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - reload_started_).count();
  ++reload_metrics_.applied;
  reload_metrics_.duration.observe(last_reload_ms_ / 1000.0);
  policy_loaded_at_ = std::chrono::system_clock::now();
  ++policy_generation_;
  spdlog::info(
      "policy reloaded ({}): generation {} in {:.1f} ms: {} classes written ({} entries), {} changed in "
      "place ({} entries), {} kept, {} sandboxes switched",
      why, policy_generation_, last_reload_ms_, report.classes_written, report.entries_written, report.classes_updated,
      report.entries_changed, report.classes_kept, report.sandboxes_switched);
  const json answer = {{"generation", policy_generation_},
                       {"changed", true},
                       {"ms", last_reload_ms_},
                       {"classes_written", report.classes_written},
                       {"classes_kept", report.classes_kept},
                       {"entries_written", report.entries_written},
                       {"classes_updated", report.classes_updated},
                       {"entries_changed", report.entries_changed},
                       {"sandboxes_switched", report.sandboxes_switched}};
  for (auto& r : replies) r.send(api::ok_response(answer));
  approvals_->on_policy("loaded", why, answer);
  fleet_applied();
  const auto committed = std::chrono::steady_clock::now();
  if (dns_learning_) dns_learning_->revalidate();
  const auto revalidated = std::chrono::steady_clock::now();
  if (approvals_) approvals_->after_reload(fmt::format("policy generation {} ({})", policy_generation_, why));
  notify_status(service_status());
  const auto ms_between = [](auto from, auto to) {
    return std::chrono::duration<double, std::milli>(to - from).count();
  };
  last_reload_loop_ms_ = ms_between(on_loop_started, std::chrono::steady_clock::now());
  spdlog::debug(
      "policy generation {} held the loop {:.1f} ms: switch {:.1f}, learned addresses {:.1f}, approvals {:.1f}",
      policy_generation_, last_reload_loop_ms_, ms_between(on_loop_started, committed),
      ms_between(committed, revalidated), ms_between(revalidated, std::chrono::steady_clock::now()));

  // The old classes go last, off the loop; the next reload waits for it.
  auto removed = std::make_shared<Result<size_t>>(make_error("not run"));
  off_loop_->run([this, removed, plan = std::move(*plan)]() mutable { *removed = applier_->cleanup(plan); },
                 [this, removed] {
                   if (*removed)
                     spdlog::debug("{} rule entries of unused classes removed", **removed);
                   else
                     spdlog::error("removing unused classes: {}", removed->error().describe());
                   reload_running_ = false;
                   if (reload_queued_) start_reload();
                 });
}

void Daemon::diff_policy(const api::Reply& reply, const approvals::Identity& who) {
  auto running = applier_->policy_ptr();
  auto answer = std::make_shared<json>();
  // The standing grants `who` may see, and the sandboxes they cover: what
  // the candidate would revoke on apply, or make redundant.
  auto grants = approvals_ ? approvals_->grants_visible(who) : std::vector<approvals::Grant>{};
  std::vector<policy::AgentName> agents;
  for (const auto& [slot, s] : registry_.all()) agents.push_back(s.agent);
  off_loop_->run(
      [answer, running, dir = options_.policy_dir, grants = std::move(grants), agents = std::move(agents)] {
        auto loaded = policy::load_policy_dir(dir);
        if (!loaded.ok()) {
          *answer = api::error_response("the policy dir does not validate:\n" + join_diagnostics(loaded.errors));
          return;
        }
        json changes = json::array();
        if (running) {
          for (const auto& c : policy::diff_policies(*running, *loaded.policy))
            changes.push_back(
                {{"change", c.added ? "+" : "-"}, {"tenant", c.tenant}, {"rule", c.line}, {"at", c.location}});
        }
        *answer = api::ok_response({{"running_digest", running ? running->source_digest() : ""},
                                    {"dir_digest", loaded.policy->source_digest()},
                                    {"changes", changes},
                                    {"grants", approvals::review_grants_json(*loaded.policy, grants, agents)}});
      },
      [this, answer, reply, who] {
        // A viewer of some tenants sees those tenants' changes only, and
        // no other tenant's file in the errors of a dir that does not validate.
        if (approvals_ && !answer->value("ok", false) && !approvals_->views_all(who))
          *answer = api::error_response(
              "the policy dir does not validate; its errors name files of tenants your role does not cover "
              "(agentctl policy validate on the dir, by an operator of every tenant, shows them)");
        if (approvals_ && answer->contains("result") && (*answer)["result"].contains("changes")) {
          json kept = json::array();
          for (auto& c : (*answer)["result"]["changes"])
            if (approvals_->may_view(who, c.value("tenant", ""))) kept.push_back(std::move(c));
          (*answer)["result"]["changes"] = std::move(kept);
        }
        reply.send(*answer);
      });
}

json Daemon::policy_source(const approvals::Identity& who) const {
  auto running = applier_->policy_ptr();
  json files = json::array(), presets = json::array(), tenants = json::array();
  bool scoped = false;
  if (running && running->sources()) {
    // A viewer of some tenants sees those tenants' files; presets are shared.
    std::set<std::string> shown;
    for (const auto& t : running->tenants()) {
      if (!approvals_->may_view(who, t.tenant)) {
        scoped = true;
        continue;
      }
      shown.insert(t.file);
      tenants.push_back(t.tenant);
    }
    for (const auto& [name, text] : running->sources()->files)
      if (shown.contains(name)) files.push_back({{"name", name}, {"text", text}});
    for (const auto& [name, text] : running->sources()->presets) presets.push_back({{"name", name}, {"text", text}});
  }
  return {{"generation", policy_generation_},
          {"digest", running ? running->source_digest() : ""},
          {"files", files},
          {"presets", presets},
          {"tenants", tenants},
          {"scoped", scoped}};
}

std::optional<api::Refusal> Daemon::gate(const api::Peer& peer) const {
  // An agent must never steer its own enforcement, nor hold the daemon's
  // descriptors: a process in any sandbox is closed at accept, whatever its uid.
  auto cgroup = sandbox::cgroup_of_pid(peer.pid, cgroup2_mount_);
  if (!cgroup) return api::Refusal{"cannot tell the caller's cgroup: " + cgroup.error().describe(), true};
  const api::Refusal in_sandbox{"requests from inside a sandbox are refused", true};
  if (sandbox::path_is_within(*cgroup, options_.cgroup_root)) return in_sandbox;
  // Outside the root only adopted cgroups can be sandboxes (agentd makes
  // its own under the root): path checks for those alone, not for 10,000.
  for (const auto& [slot, s] : registry_.all())
    if (s.adopted && sandbox::path_is_within(*cgroup, s.cgroup)) return in_sandbox;
  auto refusal = approvals_ ? approvals_->admit(peer) : std::optional<std::string>("agentd is starting");
  if (!refusal) return std::nullopt;
  return api::Refusal{*refusal, false};
}

bool Daemon::compile_class_first(const json& request, const api::Peer& peer, const api::Reply& reply) {
  if (compile_on_loop_ || !request.contains("agent") || !request["agent"].is_string()) return false;
  auto agent = policy::parse_agent_name(request["agent"].get<std::string>());
  if (!agent || registry_.find_agent(agent->str())) return false;
  auto again = [this, request, peer, reply] { handle(request, peer, reply); };
  // While a reload is being prepared, a class may be changing in place
  // toward what other agents get under the new policy: a new sandbox
  // waits for the commit rather than take such a class for a moment.
  if (reload_preparing_) {
    after_prepare_.emplace_back(std::move(again));
    return true;
  }
  if (applier_->known_class(*agent)) return false;
  auto running = applier_->policy_ptr();
  if (!running) return false;
  // One compile per class at a time; later requests for it wait on it.
  const std::string key = policy::class_key_for(*running, *agent);
  auto [waiting, first] = compiling_.try_emplace(key);
  waiting->second.emplace_back(std::move(again));
  if (!first) return true;
  auto outcome = std::make_shared<Result<PolicyApplier::CompiledForAgent>>(make_error("the compile did not finish"));
  auto compile = [this, outcome, running, agent = *agent] { *outcome = applier_->compile_class(running, agent); };
  auto done = [this, outcome, key] {
    auto continuations = std::move(compiling_[key]);
    compiling_.erase(key);
    const bool failed = !*outcome;
    if (failed) {
      // The requests run again and compile on the loop: they answer the error themselves.
      spdlog::warn("compiling a new class off the loop: {}", outcome->error().describe());
    } else if (auto unused = applier_->take_compiled(std::move(**outcome))) {
      off_loop_->run(
          [this, unused = std::move(*unused)] {
            if (auto st = applier_->discard_compiled(unused); !st)
              spdlog::error("removing an unused class: {}", st.error().describe());
          },
          [] {});
    }
    run_on_loop(std::move(continuations), failed);
  };
  try {
    off_loop_->run(std::move(compile), std::move(done));
  } catch (const std::exception& e) {  // no thread to be had: the requests compile on the loop
    spdlog::warn("compiling a new class off the loop: {}", e.what());
    auto continuations = std::move(compiling_[key]);
    compiling_.erase(key);
    run_on_loop(std::move(continuations), true);
  }
  return true;
}

// By value: the requests (and what they hold) end here, once run, not with
// whoever queued them.
void Daemon::run_on_loop(std::vector<std::function<void()>> requests,  // NOLINT(performance-unnecessary-value-param)
                         bool compile_on_loop) {
  compile_on_loop_ = compile_on_loop;
  for (auto& run : requests) (void)guarded("a sandbox request that waited", loop_failures_, run);
  compile_on_loop_ = false;
}

void Daemon::prepare_done() {
  reload_preparing_ = false;
  run_on_loop(std::exchange(after_prepare_, {}), false);
}

Status Daemon::check_tenant_known(const policy::AgentName& agent, bool unknown_tenant) const {
  const auto* policy = applier_->policy();
  if (unknown_tenant || (policy && policy->find(agent.tenant))) return ok_status();
  std::vector<std::string> known;
  if (policy)
    for (const auto& t : policy->tenants()) known.push_back(t.tenant);
  std::sort(known.begin(), known.end());
  return make_error(
      "tenant {} has no policy in {} (known tenants: {}); a typo? Its sandbox would deny everything. To make it "
      "anyway (a staged roll-out), add --unknown-tenant",
      agent.tenant, options_.policy_dir.string(), known.empty() ? "none" : fmt::format("{}", fmt::join(known, ", ")));
}

Result<json> Daemon::ensure_sandbox(const std::string& agent_text, bool unknown_tenant) {
  auto agent = policy::parse_agent_name(agent_text);
  if (!agent) return agent.error();
  if (const Sandbox* found = registry_.find_agent(agent->str())) {
    Sandbox* existing = registry_.find_slot(found->slot);
    std::error_code ec;
    if (fs::is_directory(existing->cgroup, ec)) {
      existing->handed_out = std::chrono::steady_clock::now();
      json result = with_profile(sandbox_to_json(*existing), *agent);
      result.update(run_context(options_, existing->slot, enforcer_->socket_family_hook()));
      return result;
    }
    // Removed behind agentd's back: retired now, and made anew below.
    if (auto st = retire_sandbox(existing->slot, "its cgroup is gone"); !st) return st.error();
  }
  if (auto known = check_tenant_known(*agent, unknown_tenant); !known) return known.error();
  auto class_id = applier_->class_for(*agent);
  if (!class_id) return class_id.error();
  auto slot = claim_slot(agent->str());
  if (!slot) return slot.error();
  const fs::path relative = fs::path(agent->tenant) / agent->team / agent->agent;
  if (auto st = sandbox::create_cgroup_path(options_.cgroup_root, relative); !st) return st.error();
  // Fairness, not enforcement: a sandbox without its CPU share still starts.
  if (auto st = sandbox::share_cpu_fairly(options_.cgroup_root, relative); !st) {
    if (cpu_share_off_.empty())
      spdlog::warn("sandbox {} gets no CPU share of its own: {}", agent->str(), st.error().describe());
    cpu_share_off_ = st.error().describe();
  } else {
    cpu_share_off_.clear();
  }
  Sandbox s;
  s.agent = *agent;
  s.cgroup = options_.cgroup_root / relative;
  auto id = sandbox::cgroup_id_of(s.cgroup);
  if (!id) return id.error();
  s.cgroup_id = *id;
  s.slot = *slot;
  s.class_id = *class_id;
  s.refusal_flags = applier_->refusal_flags_for(*agent);
  s.created_at = std::chrono::system_clock::now();
  s.handed_out = std::chrono::steady_clock::now();
  auto made = lifecycle_->create(std::move(s));
  if (!made) return made.error();
  follow_populated(*made);
  spdlog::info("sandbox {} created (slot {}, class {}) at {}", made->agent.str(), made->slot, made->class_id,
               made->cgroup.string());
  json result = with_profile(sandbox_to_json(*made), *agent);
  result.update(run_context(options_, made->slot, enforcer_->socket_family_hook()));
  return result;
}

// The sandbox profile `agentctl run` applies: computed from the running
// policy at each run, so a reload changes what the next command gets
// (a running command keeps what it started with: Landlock and seccomp
// cannot be loosened).
json Daemon::with_profile(json sandbox, const policy::AgentName& agent) const {
  const auto* policy = applier_->policy();
  sandbox["profile"] =
      policy::to_json(policy ? policy::effective_sandbox_profile(*policy, agent, &applier_->tcp_ports_for(agent))
                             : policy::SandboxProfile{});
  return sandbox;
}

Result<json> Daemon::sandbox_profile(const std::string& agent_text) const {
  auto agent = policy::parse_agent_name(agent_text);
  if (!agent) return agent.error();
  return with_profile(json{{"agent", agent->str()}}, *agent);
}

Result<json> Daemon::adopt_sandbox(const std::string& agent_text, const std::string& cgroup_text, bool unknown_tenant) {
  auto agent = policy::parse_agent_name(agent_text);
  if (!agent) return agent.error();
  if (auto known = check_tenant_known(*agent, unknown_tenant); !known) return known.error();
  if (const Sandbox* existing = registry_.find_agent(agent->str())) {
    // A container restarted under the same name (its OCI hook adopts it
    // again) must not wait for the sweep to notice the old cgroup went.
    // Gone means its cgroup is: no directory, or another cgroup at its
    // path (a container restarted under the same name).
    auto still = sandbox::cgroup_id_of(existing->cgroup);
    if (!existing->adopted || (still && *still == existing->cgroup_id))
      return make_error(
          "agent {} already has a sandbox at {} (one sandbox per agent: name each container's agent "
          "apart, or `agentctl sandbox remove --agent {}` first)",
          agent->str(), terminal_text(existing->cgroup.string()), agent->str());
    if (auto st = retire_sandbox(existing->slot, "its cgroup is gone"); !st) return st.error();
  }
  auto own = sandbox::cgroup_of_pid(::getpid(), cgroup2_mount_);
  if (!own) return make_error("cannot tell agentd's own cgroup: {}", own.error().describe());
  const sandbox::AdoptLimits limits{cgroup2_mount_, options_.cgroup_root, *own};
  auto checked = sandbox::check_adoptable(cgroup_text, limits);
  if (!checked) return checked.error();
  // The path as given passed; what it resolves to (a symlink on the way)
  // must pass as well.
  std::error_code ec;
  const fs::path resolved = fs::canonical(*checked, ec);
  if (ec) return make_error("cgroup {}: {}", checked->string(), ec.message());
  auto recheck = sandbox::check_adoptable(resolved.string(), limits);
  if (!recheck) return recheck.error();
  const fs::path cgroup = *recheck;
  auto id = sandbox::cgroup_id_of(cgroup);
  if (!id) return id.error();
  if (const Sandbox* existing = registry_.find_cgroup_id(*id))
    return make_error("{} is already the sandbox of {}", cgroup.string(), existing->agent.str());
  auto class_id = applier_->class_for(*agent);
  if (!class_id) return class_id.error();
  auto slot = claim_slot(agent->str(), !sandbox::path_is_within(cgroup, options_.cgroup_root));
  if (!slot) return slot.error();
  Sandbox s{*agent, cgroup, *id, *slot, *class_id, true};
  s.refusal_flags = applier_->refusal_flags_for(*agent);
  s.created_at = std::chrono::system_clock::now();
  // As for a sandbox agentd creates, and its links and store row besides.
  auto made = lifecycle_->create(std::move(s));
  if (!made) return made.error();
  follow_populated(*made);
  spdlog::info("adopted {} as the sandbox of {}", terminal_text(cgroup.string()), agent->str());
  // A container adopted by its OCI hook has not run its first instruction
  // yet: its network namespace is served before its first query.
  serve_sandbox_netns(made->slot, 0);
  return sandbox_to_json(*made);
}

Daemon::RecordTotals Daemon::record_totals() const {
  RecordTotals total;
  if (registry_.all().empty()) return total;
  const uint32_t slots = registry_.all().rbegin()->first + 1;  // by slot: the last is the highest
  auto counters = maps_->all_counters(slots);
  auto records = maps_->all_record_counts(slots);
  for (const auto& [slot, s] : registry_.all()) {
    if (counters) total.suppressed += (*counters)[slot].suppressed;
    if (records) {
      total.held += (*records)[slot].held;
      total.dropped += (*records)[slot].dropped;
    }
  }
  return total;
}

// The approvals' status, without what names other tenants' sandboxes.
json Daemon::approvals_status(const TenantShown& shown) const {
  if (!approvals_) return nullptr;
  json status = approvals_->status();
  if (!shown) return status;
  auto keep_shown = [&](json& by_name) {
    json kept = json::object();
    for (auto& [name, value] : by_name.items())
      if (shown(name.substr(0, name.find('/')))) kept[name] = std::move(value);
    by_name = std::move(kept);
  };
  if (status.contains("pending_by_sandbox")) keep_shown(status["pending_by_sandbox"]);
  if (status.contains("grant_limit") && status["grant_limit"].contains("by_tenant"))
    keep_shown(status["grant_limit"]["by_tenant"]);
  // The fleet's refusals name grants of every tenant: counts only.
  if (auto& fleet = status["fleet_grants"]; fleet.is_object()) {
    fleet["not_mirrored"] = fleet["not_mirrored"].size();
    fleet["bad_records"] = fleet["bad_records"].size();
  }
  return status;
}

Daemon::TenantShown Daemon::shown_to(const approvals::Identity& who) const {
  if (!approvals_ || approvals_->views_all(who)) return {};
  return [this, who](const std::string& tenant) { return approvals_->may_view(who, tenant); };
}

json Daemon::sandboxes_json(size_t listed, const TenantShown& shown) const {
  if (populated_watch_) populated_watch_->drain();  // notices the loop has not taken yet
  json list = json::array();
  for (const auto& [slot, s] : registry_.all()) {
    if (list.size() >= listed) break;
    if (shown && !shown(s.agent.tenant)) continue;
    json item = sandbox_to_json(s);
    auto counters = maps_->counters(slot);
    item["allowed"] = counters ? counters->allowed : 0;
    item["denied"] = counters ? counters->denied : 0;
    item["suppressed"] = counters ? counters->suppressed : 0;
    // Per sandbox, what became of its denials: every one is in exactly one
    // of recorded, suppressed (repeats of one destination), held (its
    // record budget) and dropped (the ring was full).
    auto records = maps_->record_counts(slot);
    item["recorded"] = records ? records->recorded : 0;
    item["held"] = records ? records->held : 0;
    item["dropped"] = records ? records->dropped : 0;
    // Bytes and packets, by what allowed them (the skb programs count them).
    auto traffic = maps_->traffic(slot);
    item["traffic"] = bpf::traffic_to_json(traffic ? *traffic : agentd_traffic{});
    // Name-allowed TCP connections, by what their first bytes showed.
    auto names = maps_->name_counts(slot);
    item["names"] = {{"verified", names ? names->verified : 0},
                     {"refused", names ? names->refused : 0},
                     {"unverifiable", names ? names->unverifiable : 0}};
    // Running, or empty (a run sandbox waiting out --retire-grace, an
    // adopted one, or one the policy keeps).
    auto populated = sandbox_populated(s);
    item["state"] = !populated ? "unknown" : !*populated ? "gone" : **populated ? "running" : "empty";
    const auto* policy = applier_->policy();
    item["keep"] = policy && policy::sandbox_kept(*policy, s.agent);
    item["age_seconds"] =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - s.created_at).count();
    // Its DNS: queries answered and refused, addresses learned (agentctl top).
    if (dns_learning_) {
      const json dns = dns_learning_->slot_json(slot);
      item["dns"] = {
          {"allowed", dns["queries"]["allowed"]}, {"refused", dns["queries"]["refused"]}, {"learned", dns["learned"]}};
    }
    list.push_back(std::move(item));
  }
  return list;
}

json Daemon::dns_status(size_t listed, const TenantShown& shown) const {
  if (!dns_learning_ || !dns_proxy_) return {{"enabled", false}};
  json dns = dns_learning_->to_json();
  const auto& c = dns_proxy_->counters();
  dns["enabled"] = true;
  dns["queries"] = {{"received", c.queries},
                    {"refused", c.refused},
                    {"forwarded", c.forwarded},
                    {"forwarded_tcp", c.forwarded_tcp},
                    {"answered", c.answered},
                    {"malformed", c.malformed},
                    {"upstream_failures", c.upstream_failures},
                    {"cache_hits", c.cache_hits},
                    {"failed", c.failed},
                    {"mismatched", c.mismatched}};
  dns["queries"]["over_budget"] = c.over_budget;
  dns["tcp_shed_out_of_descriptors"] = c.shed;
  dns["ipv6"] = {{"port_base", options_.dns.ipv6_port_base}, {"sandboxes_served", dns_proxy_->ipv6_served()}};
  dns["udp"] = {{"own_sockets", dns_proxy_->ipv4_served()}};
  // The queries upstream, a socket each, shared fairly once nearly all taken.
  const auto pool = [](const dns::UpstreamPool& p) {
    return json{{"in_flight", p.used()}, {"size", p.capacity()}, {"sandboxes", p.holders()}};
  };
  dns["upstream_pool"] = {{"udp", pool(dns_proxy_->udp_pool())}, {"tcp", pool(dns_proxy_->tcp_pool())}};
  const auto& limits = options_.dns.limits;
  dns["tcp"] = {{"connections", dns_proxy_->tcp_connections()},
                {"own_listeners", dns_proxy_->ipv4_tcp_served()},
                {"per_sandbox", limits.tcp_per_sandbox},
                {"total", limits.tcp_total},
                {"idle_timeout_ms", limits.tcp_idle.count()},
                {"in_flight_per_sandbox", limits.in_flight_per_sandbox},
                {"buffered_per_sandbox", limits.buffered_per_sandbox}};
  // Each sandbox's share of what they all share, and what its budgets
  // refused it: the flood shows against the sandbox that made it.
  json sandboxes = json::array();
  const auto& use = dns_proxy_->sandbox_use();
  for (const auto& [slot, s] : registry_.all()) {
    if (sandboxes.size() >= listed) break;
    if (shown && !shown(s.agent.tenant)) continue;
    json item = dns_learning_->slot_json(slot);
    item["agent"] = s.agent.str();
    item["slot"] = slot;
    const dns::SandboxUse u = use.contains(slot) ? use.at(slot) : dns::SandboxUse{};
    item["tcp"] = u.tcp;
    item["in_flight"] = u.in_flight;
    item["buffered"] = u.buffered;
    item["tcp_refused"] = u.tcp_refused;
    item["tcp_evicted"] = u.tcp_evicted;
    item["tcp_idle_closed"] = u.tcp_idle_closed;
    item["tcp_cut_off"] = u.tcp_cut_off;
    item["in_flight_refused"] = u.in_flight_refused;
    item["upstream_refused"] = u.upstream_refused;
    sandboxes.push_back(std::move(item));
  }
  dns["sandboxes"] = std::move(sandboxes);
  return dns;
}

json Daemon::status(size_t listed, const TenantShown& shown) const {
  const auto* policy = applier_->policy();
  json tenants = json::array();
  if (policy) {
    for (const auto& t : policy->tenants())
      if (!shown || shown(t.tenant))
        tenants.push_back(
            {{"tenant", t.tenant}, {"file", t.file}, {"rules", t.rules.size()}, {"inference", t.inference.size()}});
  }
  const RecordTotals totals = record_totals();
  auto stat = [&](agentd_stat which) -> uint64_t {
    auto value = maps_->stat(which);
    return value ? *value : 0;
  };
  return {
      {"daemon",
       {{"pid", ::getpid()},
        {"version", version()},
        {"started_at", events::format_time(started_at_)},
        {"socket", options_.socket_path.string()},
        {"state_dir", options_.state_dir.string()},
        {"cgroup_root", options_.cgroup_root.string()},
        {"delegated_cgroup", delegated_cgroup_.empty() ? json(nullptr) : json(delegated_cgroup_.string())},
        {"bpffs_dir", options_.bpffs_dir.string()},
        {"cpu",
         {{"sandbox_shares", cpu_share_off_.empty()},
          {"sandbox_shares_off", cpu_share_off_.empty() ? json(nullptr) : json(cpu_share_off_)}}},
        {"sandbox_uids", options_.sandbox_uids.str()},
        // Sandbox cgroups followed by the kernel's notices, read on each
        // sweep for want of a watch, and cgroup.events reads so far.
        {"cgroup_watch", populated_watch_ ? json{{"watched", populated_watch_->watched()},
                                                 {"read_directly", populated_watch_->unwatched()},
                                                 {"reads", populated_watch_->reads()}}
                                          : json(nullptr)}}},
      {"policy",
       {{"dir", options_.policy_dir.string()},
        {"generation", policy_generation_},
        {"digest", policy ? policy->source_digest() : ""},
        {"loaded_at", events::format_time(policy_loaded_at_)},
        {"last_reload",
         {{"trigger", last_reload_trigger_},
          {"ms", last_reload_ms_},
          {"loop_ms", last_reload_loop_ms_},
          {"classes_written", applier_->last_report().classes_written},
          {"entries_written", applier_->last_report().entries_written},
          {"classes_updated", applier_->last_report().classes_updated},
          {"entries_changed", applier_->last_report().entries_changed},
          {"classes_kept", applier_->last_report().classes_kept}}},
        {"watching", watcher_ != nullptr},
        {"reloading", reload_running_},
        {"settle_ms", options_.reload_settle_ms},
        {"last_error", last_reload_error_.empty() ? json(nullptr) : json(last_reload_error_)},
        {"largest_class_write",
         {{"entries", applier_->largest_write().entries},
          {"compile_ms", applier_->largest_write().compile_ms},
          {"write_ms", applier_->largest_write().write_ms}}},
        {"tenants", tenants},
        {"fleet", fleet_status()}}},
      {"sandboxes", sandboxes_json(listed, shown)},
      {"sandbox_count",
       shown ? static_cast<size_t>(std::count_if(registry_.all().begin(), registry_.all().end(),
                                                 [&](const auto& entry) { return shown(entry.second.agent.tenant); }))
             : registry_.all().size()},
      {"kernel", {{"features", features_.to_json()}, {"enforcement", enforcer_->to_json()}}},
      {"dns", dns_status(listed, shown)},
      {"approvals", approvals_status(shown)},
      {"control", control_status()},
      {"events",
       {{"received", events_received_},
        {"dropped", stat(AGENTD_STAT_EVENTS_DROPPED)},
        {"dropped_by_sandboxes", totals.dropped},
        {"suppressed", totals.suppressed},
        {"held", totals.held},
        {"sandbox_budget",
         {{"records_per_second", options_.record_budget.per_second}, {"burst", options_.record_budget.burst}}},
        {"malformed", events_ ? events_->malformed() : 0},
        {"records_failed", events_ ? events_->failed() : 0},
        {"unclassified_sockets", stat(AGENTD_STAT_UNCLASSIFIED)}}},
      // Units of work that threw: each was logged with its cause and
      // skipped, and agentd went on (guard.hpp).
      {"failures",
       {{"records", events_ ? events_->failed() : 0},
        {"control_requests", server_ ? server_->failed() : 0},
        {"dns", dns_proxy_ ? dns_proxy_->counters().failed : 0},
        {"loop_callbacks",
         loop_failures_ + (off_loop_ ? off_loop_->failed() : 0) + (watcher_ ? watcher_->failed() : 0)}}},
  };
}

json Daemon::control_status() const {
  if (!server_) return nullptr;
  const auto c = server_->counters();
  const api::ClientLimits& limits = server_->limits();
  return {
      {"clients", c.clients},
      {"subscriptions", c.subscriptions},
      {"refused_in_sandbox", c.refused_in_sandbox},
      {"refused_over_limit", c.refused_over_limit},
      {"refused_no_role", c.refused_no_role},
      {"shed_out_of_descriptors", c.shed},
      {"limits",
       {{"per_uid", limits.per_uid}, {"subscriptions_per_uid", limits.subscriptions_per_uid}, {"total", limits.total}}},
      {"open_file_limit", open_file_limit()}};
}

Result<json> Daemon::explain(const std::string& agent_text, const std::string& dest_text, bool inbound,
                             const std::string& sni) const {
  auto agent = policy::parse_agent_name(agent_text);
  if (!agent) return agent.error();
  auto dest = policy::parse_destination(dest_text);
  if (!dest) return dest.error();
  dest->inbound = inbound;
  if (!sni.empty()) {
    auto name = policy::parse_host_name(sni);
    if (!name) return make_error("sni: {}", name.error().describe());
    dest->sni = *name;
  }
  const auto* policy = applier_->policy();
  if (!policy) return make_error("no policy loaded");
  auto decision = policy::explain(*policy, *agent, *dest);
  if (!decision) return decision.error();
  // The rules say nothing: the kernel then asks what DNS taught the sandbox.
  // DNS opens egress only; an operator's grant may open either direction.
  if (!decision->allowed && !decision->endpoint && dns_learning_ && !inbound) {
    if (const Sandbox* sandbox = registry_.find_agent(agent->str())) {
      if (auto learned = dns_learning_->explain(sandbox->slot, *dest)) {
        decision->allowed = learned->first;
        decision->explanation = learned->second;
      }
    }
  }
  if (!decision->allowed && !decision->endpoint && approvals_) {
    auto granted = dest->host.empty() ? approvals_->explain(*agent, *dest) : [&]() -> std::optional<std::string> {
      auto name = approvals_->name_grant(*agent, dest->host);
      if (!name || !name->opens(dest->port)) return std::nullopt;
      return std::optional<std::string>(name->explanation);
    }();
    if (granted) {
      decision->allowed = true;
      decision->explanation = *granted;
    }
  }
  return json{{"agent", agent->str()},
              {"dest", dest->str()},
              {"allowed", decision->allowed},
              {"explanation", decision->explanation}};
}

void Daemon::on_denial(const agentd_deny_event& event, std::string_view name) {
  ++events_received_;
  events::DenialContext context;
  context.time = wall_time_of(event.timestamp_ns);
  if (const Sandbox* s = registry_.find_slot(event.slot)) context.sandbox = s->agent.str();
  if (event.reason == AGENTD_REASON_DENY_RULE && event.hook != AGENTD_HOOK_SOCK_CREATE) {
    if (const auto* compiled = applier_->compiled(event.class_id)) {
      policy::Destination dest;
      dest.family = event.addr_family;
      std::memcpy(dest.addr.data(), event.addr, dest.addr.size());
      dest.port = event.port;
      dest.proto_bit = event.protocol == IPPROTO_UDP ? AGENTD_PROTO_UDP : AGENTD_PROTO_TCP;
      dest.inbound = event.hook == AGENTD_HOOK_SKB_INGRESS;
      auto decision = policy::decide(*compiled, dest);
      if (decision.endpoint && applier_->policy())
        context.rule = applier_->policy()->endpoint(*decision.endpoint).describe();
    }
  }
  if (dns_learning_ && event.hook != AGENTD_HOOK_SOCK_CREATE) {
    if (auto learned = dns_learning_->name_of(event.slot, event.addr_family, event.addr);
        learned && !learned->name.empty())
      context.host = learned->name;
  }
  if (event.hook == AGENTD_HOOK_NAME_CHECK) {
    if (!name.empty()) context.name = events::unreversed_name(name);
    // The rule that allowed the address: the host rule (or grant) of the
    // name it was learned from.
    const Sandbox* s = registry_.find_slot(event.slot);
    if (context.host && s && applier_->policy()) {
      auto decision = policy::decide_name(*applier_->policy(), s->agent, *context.host);
      if (decision.endpoint && decision.allowed)
        context.rule = applier_->policy()->endpoint(*decision.endpoint).describe();
      else if (approvals_)
        if (auto granted = approvals_->name_grant(s->agent, *context.host)) context.rule = granted->explanation;
    }
  }
  record_denial(events::denial_of(event, context));
  if (event.reason == AGENTD_REASON_DNS_NETNS) serve_sandbox_netns(event.slot, static_cast<pid_t>(event.tgid));
}

void Daemon::record_denial(const events::Denial& denial) {
  if (spdlog::should_log(spdlog::level::debug)) spdlog::debug("denial: {}", events::denial_text(denial));
  denial_log_->write(events::denial_json(denial));
  if (approvals_) approvals_->on_denial(denial);
}

void Daemon::drain_events() {
  if (approvals_) approvals_->begin_batch();
  auto drained = events_->drain();
  if (!drained) spdlog::error("{}", drained.error().describe());
  if (approvals_) approvals_->end_batch();
  denial_log_->flush();
}

// The sd-event callbacks: sd-event is C, so nothing may unwind through
// it, and a callback that returned an error would be switched off for
// good. Each runs its work guarded (counted, logged) and returns 0;
// timers are re-armed whatever the work did.
int Daemon::on_signal(sd_event_source* source, const signalfd_siginfo* info, void* self) {
  auto* daemon = static_cast<Daemon*>(self);
  if (info->ssi_signo == SIGHUP) {
    // errors are logged and shown by status
    guarded("a SIGHUP reload", daemon->loop_failures_, [&] { daemon->request_reload("SIGHUP", std::nullopt); });
    return 0;
  }
  spdlog::info("signal {}: stopping; enforcement stays attached", info->ssi_signo);
  notify_stopping();
  guarded("the last drain of denial records", daemon->loop_failures_, [&] { daemon->drain_events(); });
  return sd_event_exit(sd_event_source_get_event(source), 0);
}

int Daemon::on_drain_timer(sd_event_source* source, uint64_t, void* self) {
  auto* daemon = static_cast<Daemon*>(self);
  guarded("draining denial records", daemon->loop_failures_, [&] { daemon->drain_events(); });
  sd_event_source_set_time_relative(source, kDrainIntervalUsec);
  sd_event_source_set_enabled(source, SD_EVENT_ON);
  return 0;
}

int Daemon::on_populated_notice(sd_event_source*, int, uint32_t, void* self) {
  static_cast<Daemon*>(self)->populated_watch_->drain();
  return 0;
}

// A new sandbox's watch now, for one read, rather than a whole burst's at
// the next sweep (3,000 made in seconds: 20 ms of that sweep). A failure
// is left to the sweep, which asks again.
void Daemon::follow_populated(const Sandbox& s) {
  if (populated_watch_) (void)populated_watch_->populated(s.slot, s.cgroup, s.cgroup_id);
}

Result<std::optional<bool>> Daemon::sandbox_populated(const Sandbox& s) const {
  if (populated_watch_) return populated_watch_->populated(s.slot, s.cgroup, s.cgroup_id);
  // The same directory is not the same cgroup: a container restarted under
  // its old path (docker restart, podman restart) has a new one. By id.
  if (auto id = sandbox::cgroup_id_of(s.cgroup); !id || *id != s.cgroup_id) return std::optional<bool>{};
  auto populated = sandbox::cgroup_populated(s.cgroup);
  if (!populated) return populated.error();
  return std::optional<bool>(*populated);
}

int Daemon::on_ring_readable(sd_event_source*, int, uint32_t, void* self) {
  auto* daemon = static_cast<Daemon*>(self);
  guarded("draining denial records", daemon->loop_failures_, [&] { daemon->drain_events(); });
  return 0;
}

int Daemon::run() {
  int r = sd_event_loop(loop_.get());
  if (r < 0) {
    spdlog::error("event loop failed: {}", errno_text(-r));
    return 1;
  }
  return r;
}

}  // namespace agentd::daemon
