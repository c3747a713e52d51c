// Everything `agentctl run` applies to a command besides its cgroup,
// prepared in the parent (where a problem can still be reported and
// nothing has started) and applied in the child just before exec, in this
// order: hide the host's controls, drop the bounding set, switch user,
// clear capabilities, no_new_privs, Landlock, seccomp; the mounts come
// first because seccomp, Landlock and the lost capabilities forbid them.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "agentd/common/result.hpp"
#include "agentd/policy/sandbox_section.hpp"
#include "agentd/confine/host_control.hpp"
#include "agentd/confine/landlock.hpp"
#include "agentd/confine/seccomp_profile.hpp"

namespace agentd::confine {

struct Confinement {
  HostControlPaths hidden;
  LandlockRuleset landlock;
  std::optional<SeccompProgram> seccomp;
  std::vector<std::string> warnings;  // for the operator, before the command starts
};

// `agentd_dirs` are the directories agentd named to hide (its answer to
// sandbox.ensure). An Error when the profile cannot be had here: a
// required Landlock ABI above the kernel's, a filter libseccomp refuses.
Result<Confinement> prepare_confinement(const policy::SandboxProfile& profile,
                                        const std::vector<std::string>& agentd_dirs);

}  // namespace agentd::confine
