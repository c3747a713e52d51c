// The seccomp rules that keep a sandbox's hands off processes outside it:
// the syscalls that limit, reprioritise, move or inspect a process named by
// a pid are allowed on the caller itself only (pid 0, "this process"), and
// those that cannot be told apart that way are refused outright. The
// sandbox's private PID namespace already leaves no outside pid to name;
// these rules are the second wall (no sandbox limits or reprioritises
// processes outside it: README.md, "Sandbox profile"). Part of every
// filter, whatever the syscall profile, and not lifted by a profile's
// `allow:`.
#pragma once

#include <seccomp.h>

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "agentd/common/result.hpp"

namespace agentd::confine {

// One argument that must hold `value` for the call to act on the caller.
struct ArgEquals {
  unsigned index;
  uint64_t value;
};

struct SelfOnlySyscall {
  const char* name;
  // Every condition must hold; empty: refused whatever the arguments.
  std::vector<ArgEquals> self;
};

// prlimit64, setpriority, sched_setaffinity/setparam/setscheduler/setattr,
// ioprio_set, migrate_pages, move_pages (self only); process_madvise and
// kcmp (refused: a pidfd, or two pids that seccomp cannot compare with the
// caller's own).
const std::vector<SelfOnlySyscall>& self_only_syscalls();
bool is_self_only_syscall(std::string_view name);

// A filter that allows by default: EPERM for every call on another
// process. Names in `refused_anyway` get no rule here (the profile refuses
// every call of them already, with its own action).
Status refuse_foreign_process_calls(scmp_filter_ctx ctx, const std::set<std::string>& refused_anyway);

// A filter that refuses by default (strict): the calls in `allowed` are
// allowed on the caller only; the others stay refused.
Status allow_own_process_calls(scmp_filter_ctx ctx, const std::set<std::string>& allowed);

}  // namespace agentd::confine
