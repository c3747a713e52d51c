#include "agentd/daemon/run_context.hpp"

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
  return context;
}

}  // namespace agentd::daemon
