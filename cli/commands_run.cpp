// agentctl run: ask agentd for the agent's sandbox and its profile, then
// start the command inside it (born in the cgroup, never outside), confined
// by the profile, and return its exit status.
#include <iostream>

#include "agentd/api/client.hpp"
#include "agentd/sandbox/confinement.hpp"
#include "agentd/sandbox/launcher.hpp"
#include "commands.hpp"

namespace agentctl {

int run_command(const Globals& g, const std::string& agent, const std::string& user,
                const std::vector<std::string>& argv) {
  auto fail = [](const std::string& message) {
    std::cerr << "agentctl: " << message << "\n";
    return kExitFailure;
  };
  auto sandbox = agentd::api::call(g.socket, {{"method", "sandbox.ensure"}, {"agent", agent}});
  if (!sandbox) return fail(sandbox.error().describe());
  // An agentd that sends no profile is older than this agentctl: refuse
  // rather than run unconfined.
  if (!sandbox->contains("profile")) return fail("agentd sent no sandbox profile; upgrade agentd");
  auto profile = agentd::policy::sandbox_profile_from_json((*sandbox)["profile"]);
  if (!profile) return fail(profile.error().describe());

  agentd::sandbox::LaunchSpec spec;
  spec.cgroup_dir = sandbox->value("cgroup", "");
  spec.argv = argv;
  // The policy's user is the operator's decision; --user may only agree.
  if (profile->user && !user.empty() && *profile->user != user)
    return fail("the policy runs " + agent + " as \"" + *profile->user + "\"; --user " + user + " disagrees");
  if (profile->user) spec.user = *profile->user;
  else if (!user.empty()) spec.user = user;

  auto confinement = agentd::sandbox::prepare_confinement(*profile, g.socket);
  if (!confinement) return fail(confinement.error().describe());
  for (const auto& warning : confinement->warnings) std::cerr << "agentctl: warning: " << warning << "\n";
  spec.confinement = &*confinement;
  auto status = agentd::sandbox::run_in_cgroup(spec);
  if (!status) return fail(status.error().describe());
  return *status;
}

}  // namespace agentctl
