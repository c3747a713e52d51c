// What an agent must not reach even as root: the cgroup tree (root owns
// cgroup.procs, so uid 0 without capabilities could still move itself out
// of its sandbox) and agentd's control socket. `agentctl run` gives the
// command a mount namespace of its own where every cgroup mount is covered
// by an empty read-only tmpfs and the socket by /dev/null. Without
// CAP_SYS_ADMIN (dropped) and with mount, umount and setns refused by
// seccomp, nothing undoes that. Landlock, when files are confined, is a
// second wall: the cgroup tree is in no profile.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "agentd/common/result.hpp"

namespace agentd::sandbox {

struct HostControlPaths {
  std::vector<std::string> cgroup_mounts;  // every cgroup and cgroup2 mount point
  std::string control_socket;              // agentd's socket; empty: none to hide
};

// In the parent: the mounts from /proc/self/mountinfo.
Result<HostControlPaths> find_host_control_paths(const std::filesystem::path& control_socket);

// In the child, still privileged: a new mount namespace (slave of the
// host's, so later host mounts still arrive) with the paths covered.
// Returns 0 or an errno value.
int hide_host_control(const HostControlPaths& paths);

}  // namespace agentd::sandbox
