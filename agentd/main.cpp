// agentd: the daemon. Parses the command line, starts, runs the loop.
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "agentd/common/duration.hpp"
#include "agentd/common/version.hpp"
#include "agentd/daemon/daemon.hpp"
#include "agentd/fleet/etcd_client.hpp"
#include "agentd/common/accept_or_shed.hpp"
#include "agentd/daemon/open_files.hpp"
#include "agentd/daemon/service_manager.hpp"
#include "agentd_abi.h"

// An exception before the daemon starts (memory, while reading options)
// ends agentd through std::terminate, which prints it; the daemon's own run
// is caught below.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  agentd::daemon::Options options;
  CLI::App app{"agentd: default-deny egress for AI-agent sandboxes, enforced in the kernel"};
  app.set_version_flag("--version", agentd::version());
  app.add_option("--policy-dir", options.policy_dir, "policy files, one YAML file per tenant")->capture_default_str();
  app.add_option("--state-dir", options.state_dir, "persistent state")->capture_default_str();
  app.add_option("--socket", options.socket_path, "control socket for agentctl")->capture_default_str();
  app.add_option("--cgroup-root", options.cgroup_root,
                 "cgroup v2 directory holding the sandboxes [default: under systemd, <unit cgroup>/sandboxes "
                 "(Delegate=yes; agentd moves itself into <unit cgroup>/daemon); elsewhere <cgroup2 mount>/agentd]");
  app.add_option("--bpffs-dir", options.bpffs_dir, "where programs, links and maps are pinned")->capture_default_str();
  std::string sandbox_uids = options.sandbox_uids.str();
  app.add_option("--sandbox-uids", sandbox_uids,
                 "uids (and gids) of sandboxes whose policy names no user, FIRST-LAST: sandbox slot N runs as "
                 "FIRST+N; no account of the host may own one")
      ->capture_default_str();
  app.add_option("--sandbox-nice", options.sandbox_nice,
                 "how many nice levels below agentd's own the commands agentctl run starts (0-19, at most "
                 "nice 19): under CPU contention agentd, which answers every sandbox's DNS, and the host run "
                 "first; a sandbox cannot take it back")
      ->check(CLI::Range(0, 19))
      ->capture_default_str();
  app.add_option("--events-log", options.events_log, "denial records as JSON lines [default: stdout]");
  app.add_flag("!--no-watch", options.watch_policy,
               "do not reload when policy files change (SIGHUP and "
               "agentctl policy apply still do)");
  app.add_option("--reload-settle-ms", options.reload_settle_ms,
                 "quiet time after the last change to a policy file before reloading")
      ->check(CLI::Range(0u, 60000u))
      ->capture_default_str();
  app.add_flag("!--no-dns", options.dns.enabled,
               "no DNS proxy: DNS from sandboxes is judged like other traffic, and host rules learn nothing");
  app.add_option("--dns-upstream", options.dns.upstream,
                 "resolver the proxy forwards allowed names to, ADDR[:PORT] [default: first nameserver of "
                 "/etc/resolv.conf]");
  app.add_option("--resolv-conf", options.dns.resolv_conf,
                 "where the upstream resolver is read from without --dns-upstream; followed as it changes (an "
                 "emptied file: allowed names get SERVFAIL until it names a nameserver again)")
      ->capture_default_str();
  app.add_option("--dns-port", options.dns.port, "port of the DNS proxy on 127.64.0.0/16 (UDP and TCP)")
      ->check(CLI::Range(1, 65535))
      ->capture_default_str();
  app.add_option("--dns-ipv6-port-base", options.dns.ipv6_port_base,
                 "queries to IPv6 servers go to [::1]:BASE+slot, one port per sandbox; 0: off (then they are "
                 "refused where an IPv4 detour is impossible)")
      ->check(CLI::Range(0, 0) | CLI::Range(1024, 65535 - AGENTD_MAX_SANDBOXES))
      ->capture_default_str();
  app.add_option("--dns-min-ttl", options.dns.min_ttl_seconds,
                 "seconds a learned address stays allowed at least, whatever its TTL")
      ->check(CLI::Range(0u, 86400u))
      ->capture_default_str();
  app.add_option("--dns-learned-quota", options.dns.learned_quota,
                 "addresses learned through DNS that one sandbox may hold at once; past it its answers are "
                 "SERVFAIL (EDE names the quota) until some expire; 0: no quota (the map's 262144 still hold)")
      ->check(CLI::Range(0u, static_cast<unsigned>(AGENTD_MAX_LEARNED)))
      ->capture_default_str();
  app.add_option("--dns-tcp-per-sandbox", options.dns.limits.tcp_per_sandbox,
                 "DNS-over-TCP connections one sandbox may hold open at once; more are closed at accept")
      ->check(CLI::Range(size_t{1}, size_t{512}))
      ->capture_default_str();
  app.add_option("--dns-in-flight-per-sandbox", options.dns.limits.in_flight_per_sandbox,
                 "DNS queries one sandbox may have upstream at once; past it they are answered SERVFAIL at once")
      ->check(CLI::Range(size_t{1}, size_t{384}))
      ->capture_default_str();
  std::string tcp_idle = "10s";
  app.add_option("--dns-tcp-idle-timeout", tcp_idle,
                 "a DNS-over-TCP client with nothing in flight is closed after this long idle (RFC 7766)")
      ->capture_default_str();
  app.add_option("--max-sandboxes", options.max_sandboxes,
                 "sandboxes at once; a slot (and its uid from --sandbox-uids) passes to another agent only after "
                 "every slot has been used")
      ->check(CLI::Range(1u, static_cast<unsigned>(AGENTD_MAX_SANDBOXES - 1)))
      ->capture_default_str();
  std::string retire_grace = "30s";
  app.add_option("--retire-grace", retire_grace,
                 "a sandbox `agentctl run` made is retired (its slot and state released) once empty and this "
                 "long after a command was last started in it; sandbox.keep in the policy keeps one")
      ->capture_default_str();
  app.add_option("--metrics-listen", options.metrics_listen,
                 "serve Prometheus metrics at GET /metrics: a loopback ADDRESS:PORT (127.0.0.1:9464, [::1]:9464) "
                 "or unix:PATH (root only) [default: off]");
  app.add_option("--metrics-sandboxes", options.metrics_sandboxes,
                 "per-sandbox metric series for at most this many sandboxes; the others are summed into one "
                 "series labelled _other")
      ->check(CLI::Range(size_t{0}, size_t{16383}))
      ->capture_default_str();
  // NXDOMAIN by default: every resolver takes it as final at once; musl
  // ignores REFUSED and waits out its timeout, glibc reports a temporary
  // failure that clients such as pip retry.
  std::string refusal = "nxdomain";
  app.add_option("--dns-refusal", refusal, "answer for names a sandbox may not resolve")
      ->check(CLI::IsMember({"refused", "nxdomain"}))
      ->capture_default_str();
  app.add_option("--dns-protected", options.dns.protected_ranges,
                 "CIDRs an answer may not point into unless a cidr rule allows them (rebinding), comma-separated "
                 "[default: loopback, link-local, private, CGNAT, multicast]");
  app.add_option("--roles", options.approvals.roles_file,
                 "YAML file of operator roles (admin, approver, viewer) by user and group [default: root only]");
  app.add_option("--socket-group", options.approvals.socket_group,
                 "group that may connect to the control socket (0660); roles decide what each may do");
  app.add_option("--audit-log", options.approvals.audit_log,
                 "audit events as OCSF JSON lines for SIEMs: a file, or - for stdout [default: none]");
  app.add_option("--audit-syslog", options.approvals.audit_syslog,
                 "audit events as OCSF JSON to the host's syslog under this facility (authpriv, local0..local7, "
                 "...), tagged agentd-audit, for rsyslog to forward [default: none]");
  app.add_option("--audit-syslog-socket", options.approvals.audit_syslog_socket,
                 "the syslog socket --audit-syslog writes to")
      ->capture_default_str();
  std::string audit_retention = "30d";
  app.add_option("--audit-retention", audit_retention, "how long the audit trail keeps events (e.g. 30d, 12h)")
      ->capture_default_str();
  uint64_t audit_max_mb = 256;
  app.add_option("--audit-max-mb", audit_max_mb, "the store's size limit; the oldest audit events go first")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 20))
      ->capture_default_str();
  app.add_option("--sandbox-records-per-second", options.record_budget.per_second,
                 "denial records one sandbox may write a second, any destinations; the rest are counted and "
                 "reported with its next record (held_before)")
      ->check(CLI::Range(1u, 1'000'000u))
      ->capture_default_str();
  app.add_option("--sandbox-record-burst", options.record_budget.burst,
                 "denial records one sandbox may write at once before --sandbox-records-per-second applies")
      ->check(CLI::Range(1u, 1'000'000u))
      ->capture_default_str();
  app.add_option("--audit-max-denials-per-second", options.approvals.audit_max_denials_per_second,
                 "denial events the store takes a second, all sandboxes; the rest reach the events log and the "
                 "SIEM and are counted in one store row a second")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1000000}))
      ->capture_default_str();
  app.add_option("--approval-requests-per-sandbox", options.approvals.request_caps.per_sandbox,
                 "pending approval requests one sandbox may have, every kind; past it new destinations fold into "
                 "one \"N more destinations\" entry (agentctl approvals list --expand)")
      ->check(CLI::Range(size_t{1}, size_t{100000}))
      ->capture_default_str();
  app.add_option("--approval-requests-per-tenant", options.approvals.request_caps.per_tenant,
                 "pending approval requests all sandboxes of one tenant may have; past it, as above")
      ->check(CLI::Range(size_t{1}, size_t{1000000}))
      ->capture_default_str();
  app.add_option("--grants-per-tenant", options.approvals.grants_per_tenant,
                 "kernel grant entries all grants of one tenant may take (one per address or name and sandbox "
                 "covered); an approval past it is refused, naming the limit")
      ->check(CLI::Range(size_t{1}, size_t{AGENTD_MAX_GRANTS}))
      ->capture_default_str();
  std::string policy_source = "dir", etcd_endpoints;
  app.add_option("--policy-source", policy_source,
                 "where the policy comes from: dir (--policy-dir, watched) or etcd (--etcd-endpoints, watched; "
                 "the last applied policy is kept under --state-dir/fleet for a start without etcd)")
      ->check(CLI::IsMember({"dir", "etcd"}))
      ->capture_default_str();
  app.add_option("--etcd-endpoints", etcd_endpoints, "etcd members, http(s)://host:port,... (--policy-source etcd)");
  app.add_option("--etcd-prefix", options.fleet.prefix, "the fleet's keys in etcd (README, \"Fleet\")")
      ->capture_default_str();
  app.add_option("--etcd-ca", options.fleet.ca_file, "CA certificate that etcd's server certificate chains to");
  app.add_option("--etcd-cert", options.fleet.cert_file, "client certificate for etcd (with --etcd-key)");
  app.add_option("--etcd-key", options.fleet.key_file, "the client certificate's private key");
  app.add_option("--etcd-host-name", options.fleet.host,
                 "this host's name under <prefix>/hosts/ [default: the host name]");
  app.add_option("--log-level", options.log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();
  // Read only when given (the unit passes /etc/agentd/agentd.conf): one
  // "long-option = value" a line; the command line wins over the file.
  app.set_config("--config", "", "read options from FILE: one 'option = value' a line, as the long options");
  app.allow_config_extras(CLI::config_extras_mode::error);  // a misspelt option is an error, not ignored
  CLI11_PARSE(app, argc, argv);
  auto uid_range = agentd::sandbox::parse_uid_range(sandbox_uids);
  if (!uid_range) {
    std::fprintf(stderr, "--sandbox-uids: %s\n", uid_range.error().message.c_str());
    return 2;
  }
  options.sandbox_uids = *uid_range;
  auto retention = agentd::parse_duration(audit_retention);
  if (!retention) {
    std::fprintf(stderr, "--audit-retention: %s\n", retention.error().message.c_str());
    return 2;
  }
  options.approvals.audit_max_age = *retention;
  auto idle = agentd::parse_duration(tcp_idle);
  if (!idle || *idle > std::chrono::hours(1)) {
    std::fprintf(stderr, "--dns-tcp-idle-timeout: %s\n",
                 idle ? "at most 1h (an idle client holds a descriptor)" : idle.error().message.c_str());
    return 2;
  }
  options.dns.limits.tcp_idle = *idle;
  auto grace = agentd::parse_duration(retire_grace);
  if (!grace || *grace < std::chrono::seconds(1)) {
    std::fprintf(stderr, "--retire-grace: %s\n",
                 grace ? "at least 1s (a command moves into its sandbox after agentd hands it over)"
                       : grace.error().message.c_str());
    return 2;
  }
  options.retire_grace = *grace;
  options.approvals.audit_max_bytes = audit_max_mb << 20;
  options.fleet.enabled = policy_source == "etcd";
  if (options.fleet.enabled) {
    auto endpoints = agentd::fleet::parse_endpoints(etcd_endpoints);
    if (!endpoints) {
      std::fprintf(stderr, "--etcd-endpoints: %s\n", endpoints.error().message.c_str());
      return 2;
    }
    options.fleet.endpoints = *endpoints;
  } else if (!etcd_endpoints.empty()) {
    std::fprintf(stderr, "--etcd-endpoints: needs --policy-source etcd\n");
    return 2;
  }
  options.dns.refusal = refusal == "nxdomain" ? agentd::dns::Refusal::nxdomain : agentd::dns::Refusal::refused;

  // Logs go to stderr; stdout is for denial records.
  auto logger = spdlog::stderr_color_mt("agentd");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(options.log_level));

  agentd::daemon::raise_open_file_limit();
  agentd::reserve_descriptor();  // for shedding a connection when out of descriptors
  try {
    auto daemon = agentd::daemon::Daemon::start(options);
    if (!daemon) {
      spdlog::error("{}", daemon.error().describe());
      agentd::daemon::notify_start_failed(daemon.error().describe(), daemon.error().errno_value);
      return 1;
    }
    return (*daemon)->run();
  } catch (const std::exception& e) {
    // Programming errors only; enforcement stays as it was (fail closed).
    spdlog::critical("fatal: {}", e.what());
    return 2;
  }
}
