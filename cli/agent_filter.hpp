// Which sandboxes a command's --agent/--tenant options mean: a glob over
// "tenant/team/agent", as `audit --agent` takes it (shell rules, `*` also
// crossing '/'), or a whole tenant.
#pragma once

#include <string>

namespace agentctl {

struct AgentFilter {
  std::string agent_glob;  // "acme/ds/*"; empty: any
  std::string tenant;      // "acme"; empty: any

  bool empty() const { return agent_glob.empty() && tenant.empty(); }
  bool matches(const std::string& sandbox) const;
  // "" when usable, else why not ("--tenant \"Acme\" is not a tenant name").
  std::string problem() const;
};

}  // namespace agentctl
