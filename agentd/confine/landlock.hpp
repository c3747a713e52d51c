// Landlock for `agentctl run`: the kernel's ABI, the ruleset a profile
// asks for (built in the parent, where errors can still be reported), and
// the restriction itself (in the child, just before exec).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agentd/common/result.hpp"
#include "agentd/common/unique_fd.hpp"
#include "agentd/policy/sandbox_section.hpp"

namespace agentd::confine {

// The Landlock ABI version of the running kernel; 0 when it has none or
// Landlock is not enabled (lsm=).
int landlock_abi();

struct PathGrant {
  std::string path;
  uint64_t access;
};

struct LandlockRuleset {
  UniqueFd fd;                        // invalid when there is nothing to enforce
  std::vector<std::string> warnings;  // what this kernel could not enforce, and skipped paths
  // Grants on /proc and below. The command gets a /proc of its own after
  // the ruleset is built, and Landlock's rules hold on inodes: those made
  // on the host's /proc do not reach the new one, so the child grants
  // them again there (landlock_regrant_proc).
  std::vector<PathGrant> proc_grants;
};

// The ruleset for `profile` on a kernel with `abi`: every access right the
// ABI knows is handled, so what the profile does not grant is refused.
// Best effort: what the kernel lacks becomes a warning, unless the profile
// requires a higher ABI, which is an Error (nothing may start).
Result<LandlockRuleset> build_landlock_ruleset(const policy::SandboxProfile& profile, int abi);

// In the child, once its own /proc is mounted: the proc grants again, on
// the paths as they are now. Returns 0 or an errno value.
int landlock_regrant_proc(const LandlockRuleset& ruleset);

// Enforces the ruleset on the calling thread and what it execs. Needs
// no_new_privs. Returns 0 or an errno value (safe between clone and exec).
int landlock_restrict_self(int ruleset_fd);

// What this kernel enforces of `profile`: for `agentctl sandbox profile`.
nlohmann::json landlock_coverage(const policy::SandboxProfile& profile, int abi);

}  // namespace agentd::confine
