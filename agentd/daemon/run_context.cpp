#include "agentd/daemon/run_context.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>

#include "agentd/sandbox/sandbox_uids.hpp"

namespace agentd::daemon {

nlohmann::json run_context(const Options& options, uint32_t slot, const std::string& socket_family_hook) {
  nlohmann::json context;
  // An error is not a refusal yet: a policy user or the operator's --user
  // needs no uid from the range.
  if (auto uid = sandbox::sandbox_uid(options.sandbox_uids, slot))
    context["run_as"] = {{"uid", *uid}, {"gid", *uid}};
  else
    context["run_as_error"] = uid.error().describe();
  // Whole directories: a socket or pin that agentd re-creates after a
  // restart lands inside a cover, where a cover over a file would be
  // detached by the unlink and the new file seen.
  context["hide"] = {options.policy_dir.string(), options.state_dir.string(),
                     options.socket_path.parent_path().string(), options.bpffs_dir.string()};
  context["socket_family_hook"] = socket_family_hook;
  // Where cgroup2 offers no cpu controller this is the only CPU wall: a
  // sandbox's busy processes yield to agentd's event loop (everyone's DNS)
  // and to the host. Relative to agentd's own nice value, so that it holds
  // whatever agentd runs at. Without CAP_SYS_NICE (and RLIMIT_NICE 0) no
  // sandbox can lower it again.
  errno = 0;
  const int own = getpriority(PRIO_PROCESS, 0);
  context["nice"] = std::min(19, (errno == 0 ? own : 0) + options.sandbox_nice);
  return context;
}

}  // namespace agentd::daemon
