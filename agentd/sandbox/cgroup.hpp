// Small helpers over cgroup v2 directories.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string_view>
#include <vector>

#include "agentd/common/result.hpp"

namespace agentd::sandbox {

// On cgroup2 a cgroup's id, as bpf_get_current_cgroup_id() returns it, is
// the inode number of its directory.
Result<uint64_t> cgroup_id_of(const std::filesystem::path& cgroup);

// Creates root/relative and any missing directory between them.
Status create_cgroup_path(const std::filesystem::path& root, const std::filesystem::path& relative);

// The cgroup of a process, as an absolute path below the cgroup2 mount.
Result<std::filesystem::path> cgroup_of_pid(pid_t pid, const std::filesystem::path& cgroup2_mount);
// Pure: the "0::/path" line of a /proc/PID/cgroup text.
Result<std::string> parse_proc_cgroup(std::string_view text);

// True when `inner` is `outer` or below it, compared component by
// component on normalised paths (so /a/bc is not inside /a/b).
bool path_is_within(const std::filesystem::path& inner, const std::filesystem::path& outer);

// Whether a process is in the cgroup or below it (cgroup.events).
Result<bool> cgroup_populated(const std::filesystem::path& cgroup);
// Pure: the "populated" field of a cgroup.events text.
Result<bool> parse_populated(std::string_view events);

// The processes in the cgroup and below it (cgroup.procs of each).
std::vector<pid_t> cgroup_pids(const std::filesystem::path& cgroup);

// Kills every process in the cgroup and below (cgroup.kill).
Status kill_cgroup(const std::filesystem::path& cgroup);
// Removes a cgroup tree, deepest first; fails while processes remain.
Status remove_cgroup_tree(const std::filesystem::path& cgroup);

}  // namespace agentd::sandbox
