// agentctl run: ask agentd for the agent's sandbox and its profile, then
// start the command inside it (born in the cgroup, never outside), confined
// by the profile, and return its exit status.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <optional>

#include "agentd/api/client.hpp"
#include "agentd/api/requests.hpp"
#include "agentd/confine/confinement.hpp"
#include "agentd/confine/launcher.hpp"
#include "commands.hpp"

namespace agentctl {
namespace {

// Without a user in the policy or on the command line the command runs as
// the uid agentd derived for the sandbox: agentd owns the range, a client
// never picks one.
agentd::Result<uint32_t> run_as_uid(const nlohmann::json& sandbox) {
  if (auto it = sandbox.find("run_as"); it != sandbox.end() && it->contains("uid")) return (*it)["uid"].get<uint32_t>();
  if (auto it = sandbox.find("run_as_error"); it != sandbox.end() && it->is_string())
    return agentd::make_error("{}", it->get<std::string>());
  return agentd::make_error("agentd sent no user for the sandbox; upgrade agentd");
}

// io_uring's IORING_OP_SOCKET makes sockets without the socket syscall,
// out of seccomp's sight: only the BPF LSM hook (lsm_cgroup/socket_create)
// refuses the families other than inet then. Without that hook a profile
// that allows io_uring_setup would hand out vsock and netlink sockets.
std::optional<std::string> io_uring_refusal(const agentd::policy::SandboxProfile& profile,
                                            const nlohmann::json& sandbox) {
  if (std::find(profile.allow.begin(), profile.allow.end(), "io_uring_setup") == profile.allow.end()) return {};
  const std::string hook = sandbox.value("socket_family_hook", "unknown (agentd did not say)");
  if (hook == "active") return {};
  return "the policy allows io_uring_setup, but agentd's socket family hook is " + hook +
         ": io_uring would make sockets of any family (vsock, netlink) that nothing refuses. Take "
         "io_uring_setup out of the profile's allow list, or run a kernel where the BPF LSM program loads";
}

}  // namespace

int run_command(const Globals& g, const std::string& agent, const std::string& user,
                const std::vector<std::string>& argv, bool unknown_tenant) {
  auto fail = [](const std::string& message) {
    std::cerr << "agentctl: " << message << "\n";
    return kExitFailure;
  };
  auto sandbox = agentd::api::call(g.socket, agentd::api::SandboxEnsureRequest{agent, unknown_tenant}.to_json());
  if (!sandbox) return fail(sandbox.error().describe());
  // An agentd that sends no profile is older than this agentctl: refuse
  // rather than run unconfined.
  if (!sandbox->contains("profile")) return fail("agentd sent no sandbox profile; upgrade agentd");
  auto profile = agentd::policy::sandbox_profile_from_json((*sandbox)["profile"]);
  if (!profile) return fail(profile.error().describe());

  if (auto refusal = io_uring_refusal(*profile, *sandbox)) return fail(*refusal);

  agentd::confine::LaunchSpec spec;
  spec.cgroup_dir = sandbox->value("cgroup", "");
  spec.nice = sandbox->value("nice", 0);
  spec.argv = argv;
  // The policy's user is the operator's decision; --user may only agree.
  if (profile->user && !user.empty() && *profile->user != user)
    return fail("the policy runs " + agent + " as \"" + *profile->user + "\"; --user " + user + " disagrees");
  if (profile->user)
    spec.user = *profile->user;
  else if (!user.empty())
    spec.user = user;
  else if (auto uid = run_as_uid(*sandbox))
    spec.sandbox_uid = *uid;
  else
    return fail(uid.error().describe());

  // agentd names its directories; an agentd that names none is older
  // than this agentctl and would leave its socket and policy in view.
  if (!sandbox->contains("hide")) return fail("agentd sent no directories to hide; upgrade agentd");
  std::vector<std::string> hidden = (*sandbox)["hide"].get<std::vector<std::string>>();
  // The socket we reached agentd through, whatever agentd says.
  hidden.push_back(std::filesystem::absolute(g.socket).parent_path().string());
  auto confinement = agentd::confine::prepare_confinement(*profile, hidden);
  if (!confinement) return fail(confinement.error().describe());
  for (const auto& warning : confinement->warnings) std::cerr << "agentctl: warning: " << warning << "\n";
  spec.confinement = &*confinement;
  auto status = agentd::confine::run_in_cgroup(spec);
  if (!status) return fail(status.error().describe());
  return *status;
}

}  // namespace agentctl
