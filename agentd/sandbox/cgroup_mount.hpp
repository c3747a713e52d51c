// Where cgroup v2 is mounted: /sys/fs/cgroup on a unified host,
// /sys/fs/cgroup/unified on a hybrid one. Read from mountinfo, never assumed.
#pragma once

#include <filesystem>
#include <string_view>

#include "agentd/common/result.hpp"

namespace agentd::sandbox {

// Pure: the first cgroup2 mount point in a /proc/PID/mountinfo text.
Result<std::filesystem::path> find_cgroup2_mount_in(std::string_view mountinfo);
Result<std::filesystem::path> find_cgroup2_mount();

}  // namespace agentd::sandbox
