// The last policy this host applied from etcd, kept on its disk so that a
// host that starts while etcd is unreachable enforces it (never nothing,
// never everything). Layout under <state-dir>/fleet/:
//   policy -> policy.<revision>   a symlink, swapped atomically by rename
//   policy.<revision>/            the tenant files, presets/ beside them:
//                                 a policy dir the loader reads as any other
//   applied.json                  {"revision": R}
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>

#include "agentd/common/result.hpp"
#include "agentd/fleet/policy_snapshot.hpp"

namespace agentd::fleet {

std::filesystem::path applied_policy_dir(const std::filesystem::path& fleet_dir);
// Writes the snapshot as a policy dir and makes it the applied one; a crash
// at any point leaves the previous one or the new one, whole.
Status save_applied(const std::filesystem::path& fleet_dir, const PolicySnapshot& snapshot);
// The revision of the applied policy; nullopt when none was saved.
std::optional<int64_t> applied_revision(const std::filesystem::path& fleet_dir);

}  // namespace agentd::fleet
