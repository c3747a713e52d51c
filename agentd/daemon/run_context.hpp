// What `agentctl run` learns from agentd besides the cgroup and the
// profile: the uid the command runs as when its policy names no user
// (agentd owns the range; a client never picks its own uid), and agentd's
// directories, which the launcher hides from the command. Both come from
// the daemon because only it knows its options.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "agentd/daemon/options.hpp"

namespace agentd::daemon {

// {"run_as": {"uid": N, "gid": N}} or {"run_as_error": "why"},
// {"hide": [policy dir, state dir, socket dir, bpffs dir]}, and
// {"socket_family_hook": "active" or "unavailable: why"}: without that
// hook, io_uring makes sockets of families that only seccomp's socket
// rules refuse, and seccomp cannot see io_uring's requests.
nlohmann::json run_context(const Options& options, uint32_t slot, const std::string& socket_family_hook);

}  // namespace agentd::daemon
