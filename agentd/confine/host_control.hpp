// What an agent must not reach even as root: the cgroup tree (root owns
// cgroup.procs, so uid 0 without capabilities could still move itself out
// of its sandbox), agentd's own directories (its policy, whose changes
// agentd applies; its state; its control socket; its pins in bpffs), the
// kernel's settings (/proc/sys, /sys: root owns core_pattern) and other
// processes (a /proc of the host's PID namespace).
//
// `agentctl run` starts the command in a mount and a PID namespace of its
// own (launcher.hpp); there, every cgroup mount and each of agentd's
// directories is covered by an empty read-only tmpfs, a fresh /proc shows
// only the sandbox's processes, and /proc/sys, /proc/sysrq-trigger and /sys
// are read-only. Without CAP_SYS_ADMIN (dropped), with mount, umount and
// setns refused by seccomp and by Landlock, nothing undoes that. The mounts
// need no RAII: they live and die with the namespace.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "agentd/common/result.hpp"

namespace agentd::confine {

struct HostControlPaths {
  std::vector<std::string> cgroup_mounts;  // every cgroup and cgroup2 mount point
  std::vector<std::string> proc_mounts;    // procfs mounted anywhere but /proc
  std::vector<std::string> agentd_dirs;    // agentd's policy, state, socket and bpffs dirs
};

// In the parent: the mounts from /proc/self/mountinfo, and `agentd_dirs`
// (from agentd's answer) made absolute, without duplicates and without "/".
Result<HostControlPaths> find_host_control_paths(const std::vector<std::string>& agentd_dirs);

// In the child, PID 1 of its new PID and mount namespaces, still
// privileged: the mount tree becomes a slave of the host's (host mounts
// still arrive, ours never leave) and gets a /proc of its own. Returns 0
// or an errno value.
int mount_private_proc();

// In the child, after mount_private_proc: the covers and the read-only
// kernel settings. Returns 0 or an errno value.
int hide_host_control(const HostControlPaths& paths);

}  // namespace agentd::confine
