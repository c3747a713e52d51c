// CPU is shared by every sandbox too (issue 12): a sandbox that runs forty
// busy processes must not get forty times the CPU of one that runs one,
// nor starve agentd, whose event loop answers every sandbox's DNS. cgroup
// v2's cpu controller shares the CPU between sibling cgroups by weight,
// whatever the number of processes in each, so agentd turns it on at each
// level above the sandboxes: tenants share equally, then the teams of a
// tenant, then the agents of a team.
//
// Fairness, not enforcement: when the controller is not offered to the
// sandbox root, sandboxes run as before and `status` says why. That is the
// case on a hybrid layout (cpu stays on cgroup v1) and under systemd 252
// (Debian 12): agentd never hands controllers down from its unit's own
// cgroup, because systemd starts the next agentd in that cgroup, which
// cgroup v2 then refuses (no processes beside enabled controllers: the
// restart fails with 219/CGROUP); systemd 254's DelegateSubgroup= lifts
// that.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "agentd/common/result.hpp"

namespace agentd::sandbox {

// Pure: the cgroups whose subtree_control gets +cpu so that the leaf
// `relative` below `root` shares fairly: `root` and every level above the
// leaf (never the leaf: processes live there).
std::vector<std::filesystem::path> cpu_share_levels(const std::filesystem::path& root,
                                                    const std::filesystem::path& relative);

// Pure: whether a cgroup.controllers line names the cpu controller.
bool lists_cpu(std::string_view controllers);

// Turns the cpu controller on above the sandbox `relative` under `root`.
// Fails, changing nothing further, at the first level that refuses.
Status share_cpu_fairly(const std::filesystem::path& root, const std::filesystem::path& relative);

}  // namespace agentd::sandbox
