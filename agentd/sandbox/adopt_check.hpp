// Which cgroup an operator may adopt as a sandbox (agentctl sandbox
// adopt). Even an authorised client must not be able to point agentd at
// itself: adopting agentd's own cgroup (or one that holds it) would judge
// agentd's own traffic (its upstream DNS) by an agent's policy, and
// adopting inside or above the sandbox root would give sandboxes two
// identities or attach the programs twice. Pure: paths only, no I/O.
#pragma once

#include <filesystem>
#include <string_view>

#include "agentd/common/result.hpp"

namespace agentd::sandbox {

struct AdoptLimits {
  std::filesystem::path cgroup2_mount;  // "/sys/fs/cgroup/unified"
  std::filesystem::path sandbox_root;   // agentd's --cgroup-root
  std::filesystem::path own_cgroup;     // the cgroup agentd runs in
};

// The path to adopt, normalised, or why it is refused: not absolute, a
// ".." component, outside the cgroup2 mount or the mount itself, inside
// or above the sandbox root, agentd's own cgroup or one above it.
Result<std::filesystem::path> check_adoptable(std::string_view requested, const AdoptLimits& limits);

}  // namespace agentd::sandbox
