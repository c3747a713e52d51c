// The daemon's command line, with defaults for a systemd host; tests run
// several instances side by side by pointing every path elsewhere.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "agentd/bpf/enforcer.hpp"
#include "agentd/daemon/approval_options.hpp"
#include "agentd/daemon/dns_learning.hpp"
#include "agentd/sandbox/sandbox_uids.hpp"

namespace agentd::daemon {

// --policy-source etcd: the policy comes from etcd (README, "Fleet").
struct FleetOptions {
  bool enabled = false;
  std::vector<std::string> endpoints;
  std::string prefix = "/agentd";
  std::string ca_file, cert_file, key_file;
  std::string host;  // this host's name in <prefix>/hosts/; empty: gethostname()
  // At a first start (no policy applied before) etcd must answer within this.
  std::chrono::seconds first_read_timeout{15};
};

struct Options {
  std::filesystem::path policy_dir = "/etc/agentd/policies";
  std::filesystem::path state_dir = "/var/lib/agentd";
  std::filesystem::path socket_path = "/run/agentd/agentd.sock";
  std::filesystem::path cgroup_root;  // empty: <cgroup2 mount>/agentd
  std::filesystem::path bpffs_dir = "/sys/fs/bpf/agentd";
  std::filesystem::path events_log;  // empty: denial records on stdout
  std::string log_level = "info";
  bool watch_policy = true;        // reload when files in the policy dir change
  unsigned reload_settle_ms = 25;  // quiet time after the last change before reloading
  sandbox::UidRange sandbox_uids;  // uids of sandboxes whose policy names no user
  int sandbox_nice = 5;            // the nice value agentctl run starts sandboxes at
  FleetOptions fleet;
  DnsSettings dns;
  ApprovalOptions approvals;
  bpf::RecordBudget record_budget;  // each sandbox's denial records (bpf/record_budget.bpf.h)
  // An empty sandbox `agentctl run` made is retired once this long has
  // passed since a command was last handed it (sandbox_retirement.hpp).
  std::chrono::seconds retire_grace{30};
  // Prometheus metrics: off unless a loopback address or unix socket is
  // given (metrics::parse_listen_address); per-sandbox series for at most
  // metrics_sandboxes sandboxes, the rest summed.
  std::string metrics_listen;
  size_t metrics_sandboxes = 500;
  // Sandboxes at once (slots 1..N; the kernel's maps hold 16383).
  uint32_t max_sandboxes = AGENTD_MAX_SANDBOXES - 1;
};

}  // namespace agentd::daemon
