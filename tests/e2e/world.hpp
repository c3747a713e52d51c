// The e2e test world (ARCHITECTURE.md, "Testing"): a "host" network namespace
// where agentd and every sandboxed process run, an "internet" namespace
// with test servers and a real dnsmasq on documentation addresses, joined
// by a veth pair; a private bpffs, cgroup root, state dir and socket; a
// watch that counts any packet to an address outside the test ranges.
// Everything is torn down in the destructor, also when a test fails.
//
//   host ns: 198.51.100.1/24, 2001:db8:1::1/64; no default route;
//            203.0.113.0/24 and 2001:db8:2::/64 via the net ns;
//            a loopback server on :7070 (tcp and udp) and a UDP sink on :7071.
//   net ns:  198.51.100.10 (.20 .53 .66), 2001:db8:1::10 (::20 ::66),
//            203.0.113.7, 2001:db8:2::7; tcp 80,443,8080,9000, udp 5353,9000;
//            dnsmasq on 198.51.100.53 (many.example.test: a name for
//            every address of 203.0.113.0/24 and 2001:db8:5::/64).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agentd_abi.h"
#include "process.hpp"

namespace agentd::e2e {

// The agentd and agentctl under test: this build's, or with
// AGENTD_E2E_BUILD=DIR those of the build tree DIR (scripts/sanitize runs
// this build's tests against its sanitized agentd and agentctl).
const std::string& agentd_bin();
const std::string& agentctl_bin();

// Exits the test process with 77 (ctest: skipped) when something the e2e
// tests need is missing; with CI=true it fails instead, naming it.
void require_prerequisites();
// The same for what some tests need beyond that (podman, dockerd).
void require_tools(const std::vector<std::string>& tools);

// The world's DNS server answers big.example.test with this many A records
// (198.51.100.100 and up): more than UDP without EDNS carries.
constexpr int kBigAnswerRecords = 40;

class World {
 public:
  World();
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  // Policy files go into the world's policy dir.
  void write_policy(const std::string& file_name, const std::string& yaml);

  // Starts agentd in the host ns; true once its socket answers, false when
  // it exited instead (agentd_exit_code() and agentd_log() tell why).
  bool start_agentd(const std::vector<std::string>& extra_args = {});
  void signal_agentd(int signal) const;
  void kill_agentd(int signal);  // and waits for it
  int agentd_exit_code() const { return agentd_exit_code_; }
  std::string agentd_log() const;
  std::vector<nlohmann::json> denials() const;  // events.jsonl, parsed
  // The first denial record that `matches`, once agentd has drained it
  // (a bounded readiness wait, 5 s at the most); null if none came.
  nlohmann::json wait_for_denial(const std::function<bool(const nlohmann::json&)>& matches) const;

  // Commands in the host ns.
  ProcessResult in_host(std::vector<std::string> argv) const;
  ProcessResult agentctl(std::vector<std::string> args) const;
  ProcessResult netprobe_in_sandbox(const std::string& agent, std::vector<std::string> args,
                                    const std::optional<std::string>& user = std::nullopt) const;
  ProcessResult netprobe_outside(std::vector<std::string> args) const;
  // A netprobe (or any command) in the "internet" ns: a peer that
  // connects in to the host.
  ProcessResult netprobe_in_internet(std::vector<std::string> args) const;
  ProcessResult in_internet(std::vector<std::string> argv) const;
  // A server of a test's own in the net ns (stopped at teardown); its
  // output goes to dir()/name.out.
  pid_t serve_in_net(std::vector<std::string> argv, const std::string& name);
  // Any command inside a sandbox (dig, sh).
  ProcessResult in_sandbox(const std::string& agent, std::vector<std::string> argv) const;
  // A sandboxed netprobe (or `binary`) in the background; its output goes
  // to dir()/name.out.
  pid_t spawn_in_sandbox(const std::string& agent, std::vector<std::string> args, const std::string& name,
                         const std::string& binary = NETPROBE_BIN,
                         const std::optional<std::string>& user = std::nullopt);
  // Waits (bounded) for a background process and returns its output.
  ProcessResult wait_spawned(pid_t pid, const std::string& name);
  // The same, in the host namespace outside any sandbox.
  pid_t spawn_in_host(std::vector<std::string> argv, const std::string& name);
  // A process moved into a cgroup by hand, with no agentd involved.
  ProcessResult netprobe_in_cgroup(const std::filesystem::path& cgroup, std::vector<std::string> args) const;
  // Any command moved into a cgroup by hand, as root with every capability
  // (a container adopted as it runs keeps what its runtime gave it).
  ProcessResult in_cgroup(const std::filesystem::path& cgroup, const std::vector<std::string>& argv) const;

  // A cgroup outside the sandbox root (to adopt), removed at teardown.
  std::filesystem::path make_foreign_cgroup(const std::string& name);

  // Packets sent from the host ns to addresses outside the test ranges.
  uint64_t stray_packets() const;
  // Packets the internet ns received from the host that no sandbox may
  // send: to 198.51.100.66 or 2001:db8:1::66, with a routing header or IPv4
  // options, or from a source that is not the host's (see build()).
  uint64_t forbidden_arrivals() const;
  // Attach types on the cgroup root and how many programs each has.
  std::vector<std::pair<std::string, int>> attachments(const std::filesystem::path& cgroup) const;

  const std::filesystem::path& dir() const { return dir_; }
  const std::filesystem::path& cgroup_root() const { return cgroup_root_; }
  const std::filesystem::path& cgroup2_mount() const { return cgroup2_mount_; }
  const std::filesystem::path& socket() const { return socket_; }
  std::filesystem::path policy_dir() const { return dir_ / "policy"; }
  std::filesystem::path state_dir() const { return dir_ / "state"; }
  std::filesystem::path bpffs_dir() const { return bpffs_ / "agentd"; }
  // This build's pinned maps (maps/v<AGENTD_ABI_VERSION>).
  std::filesystem::path pinned_maps_dir() const {
    return bpffs_dir() / "maps" / ("v" + std::to_string(AGENTD_ABI_VERSION));
  }
  pid_t agentd_pid() const { return agentd_pid_; }
  std::string host_ns_path() const { return "/run/netns/" + host_ns_; }
  const std::string& host_ns_name() const { return host_ns_; }

 private:
  void build();
  void teardown();
  void sh(const std::vector<std::string>& argv);  // throws with the output on failure
  void mark(const std::string& phase) const;      // a line in phases.log
  // `ip [-n NS] -batch`: the commands in one process, each line as after `ip`.
  void ip_batch(const std::string& ns, const std::vector<std::string>& commands);
  pid_t start_server(const std::string& ns, std::vector<std::string> args, const std::string& name);

  std::string id_;  // names this world's namespaces, links and cgroups
  std::string host_ns_, net_ns_;
  std::filesystem::path dir_, bpffs_, cgroup2_mount_, cgroup_root_, socket_;
  bool host_ns_made_ = false, net_ns_made_ = false, bpffs_mounted_ = false;
  std::vector<pid_t> servers_;
  std::vector<pid_t> spawned_;
  std::vector<std::filesystem::path> foreign_cgroups_;
  pid_t agentd_pid_ = -1;
  int agentd_exit_code_ = -1;
};

}  // namespace agentd::e2e
