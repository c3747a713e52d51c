// The named syscall sets of the seccomp profiles. Pure data plus name
// resolution through libseccomp, so that validation (agentctl policy
// validate) and enforcement (agentctl run) agree on every name.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace agentd::policy {

// What the `default` profile refuses: what an agent never needs and an
// attacker always wants. Beside these, `default` refuses clone with any
// namespace flag and answers clone3 with ENOSYS (its flags sit behind a
// pointer seccomp cannot read; libc falls back to clone).
const std::vector<std::string>& default_denied_syscalls();

// What the `strict` profile allows: an allowlist for plain tools (shells,
// coreutils, interpreters, compilers, git over the network). Everything
// else gets the profile's action.
const std::vector<std::string>& strict_allowed_syscalls();

// The namespace flags clone may not carry under `default` and `strict`.
uint64_t namespace_clone_flags();

// True when libseccomp knows the name on x86-64, x32 or i386.
bool is_known_syscall(std::string_view name);

}  // namespace agentd::policy
