#include "agent_filter.hpp"

#include <fnmatch.h>

#include "agentd/policy/model.hpp"

namespace agentctl {

bool AgentFilter::matches(const std::string& sandbox) const {
  if (!tenant.empty() && sandbox.compare(0, tenant.size() + 1, tenant + "/") != 0) return false;
  return agent_glob.empty() || fnmatch(agent_glob.c_str(), sandbox.c_str(), 0) == 0;
}

std::string AgentFilter::problem() const {
  if (!tenant.empty() && !agentd::policy::is_valid_name(tenant))
    return "--tenant \"" + tenant + "\" is not a tenant name ([a-z0-9][a-z0-9_.-]*)";
  if (!agent_glob.empty() && agent_glob.find('/') == std::string::npos)
    return "--agent \"" + agent_glob + "\" must be a glob over TENANT/TEAM/AGENT, such as 'acme/ds/*'";
  return "";
}

}  // namespace agentctl
