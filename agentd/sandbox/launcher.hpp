// Starts a command inside a sandbox for `agentctl run`: the child is born
// in the sandbox's cgroup (clone3 with CLONE_INTO_CGROUP), so it never runs
// outside, not even for an instant, and every socket it makes is the
// sandbox's.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "agentd/common/result.hpp"
#include "agentd/sandbox/confinement.hpp"

namespace agentd::sandbox {

struct LaunchSpec {
  std::filesystem::path cgroup_dir;
  std::vector<std::string> argv;
  std::optional<std::string> user;  // name or numeric uid
  // Applied in the child before exec (confinement.hpp); without it only
  // the cgroup and the closing of inherited descriptors apply (tests).
  const Confinement* confinement = nullptr;
};

// Runs the command and waits for it. Returns its exit status, 128+N when a
// signal N ended it, 127 when it could not be found and 126 when it could
// not be run (as a shell does, after printing why on stderr). An Error
// means nothing was started.
Result<int> run_in_cgroup(const LaunchSpec& spec);

}  // namespace agentd::sandbox
