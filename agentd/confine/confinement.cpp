#include "agentd/confine/confinement.hpp"

namespace agentd::confine {

Result<Confinement> prepare_confinement(const policy::SandboxProfile& profile,
                                        const std::vector<std::string>& agentd_dirs) {
  Confinement c;
  auto hidden = find_host_control_paths(agentd_dirs);
  if (!hidden) return hidden.error();
  c.hidden = std::move(*hidden);
  auto landlock = build_landlock_ruleset(profile, landlock_abi());
  if (!landlock) return landlock.error();
  c.landlock = std::move(*landlock);
  c.warnings = c.landlock.warnings;
  auto seccomp = build_seccomp_program(profile);
  if (!seccomp) return seccomp.error();
  c.seccomp = std::move(*seccomp);
  return c;
}

}  // namespace agentd::confine
