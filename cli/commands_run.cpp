// agentctl run: ask agentd for the agent's sandbox, then start the command
// inside it (born in the cgroup, never outside) and return its exit status.
#include <iostream>

#include "agentd/api/client.hpp"
#include "agentd/sandbox/launcher.hpp"
#include "commands.hpp"

namespace agentctl {

int run_command(const Globals& g, const std::string& agent, const std::string& user,
                const std::vector<std::string>& argv) {
  auto sandbox = agentd::api::call(g.socket, {{"method", "sandbox.ensure"}, {"agent", agent}});
  if (!sandbox) {
    std::cerr << "agentctl: " << sandbox.error().describe() << "\n";
    return kExitFailure;
  }
  agentd::sandbox::LaunchSpec spec;
  spec.cgroup_dir = sandbox->value("cgroup", "");
  spec.argv = argv;
  if (!user.empty()) spec.user = user;
  auto status = agentd::sandbox::run_in_cgroup(spec);
  if (!status) {
    std::cerr << "agentctl: " << status.error().describe() << "\n";
    return kExitFailure;
  }
  return *status;
}

}  // namespace agentctl
