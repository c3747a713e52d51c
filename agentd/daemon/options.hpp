// The daemon's command line, with defaults for a systemd host; tests run
// several instances side by side by pointing every path elsewhere.
#pragma once

#include <filesystem>
#include <string>

namespace agentd::daemon {

struct Options {
  std::filesystem::path policy_dir = "/etc/agentd/policies";
  std::filesystem::path state_dir = "/var/lib/agentd";
  std::filesystem::path socket_path = "/run/agentd/agentd.sock";
  std::filesystem::path cgroup_root;  // empty: <cgroup2 mount>/agentd
  std::filesystem::path bpffs_dir = "/sys/fs/bpf/agentd";
  std::filesystem::path events_log;   // empty: denial records on stdout
  std::string log_level = "info";
};

}  // namespace agentd::daemon
