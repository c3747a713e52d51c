// Starts a command inside a sandbox for `agentctl run`: the child is born
// in the sandbox's cgroup (clone3 with CLONE_INTO_CGROUP), so it never runs
// outside, not even for an instant, and every socket it makes is the
// sandbox's. It is born in a PID and a mount namespace of its own too: it
// sees and names only the sandbox's processes (its /proc is that
// namespace's), and the mounts that hide the host's controls
// (host_control.hpp) never reach the host. A tiny init is PID 1 there
// (sandbox_init.hpp); the command is its child.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "agentd/common/result.hpp"
#include "agentd/confine/confinement.hpp"

namespace agentd::confine {

struct LaunchSpec {
  std::filesystem::path cgroup_dir;
  std::vector<std::string> argv;
  std::optional<std::string> user;  // name or numeric uid, looked up with NSS
  // Otherwise agentd's uid for the sandbox (gid: the same number, no
  // supplementary groups); no account owns it, so no NSS lookup.
  std::optional<uint32_t> sandbox_uid;
  int nice = 0;  // the command's nice value, where that is lower priority than agentctl's own
  // Applied in the child before exec (confinement.hpp); without it only
  // the cgroup and the closing of inherited descriptors apply (tests).
  const Confinement* confinement = nullptr;
};

// Runs the command and waits for it. Returns its exit status, 128+N when a
// signal N ended it, 127 when it could not be found and 126 when it could
// not be run (as a shell does, after printing why on stderr). An Error
// means nothing was started.
Result<int> run_in_cgroup(const LaunchSpec& spec);

}  // namespace agentd::confine
