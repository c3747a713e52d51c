#include "agentd/confine/process_filter.hpp"

#include <sys/resource.h>

#include "agentd/confine/socket_filter.hpp"

namespace agentd::confine {
namespace {

constexpr uint64_t kIoprioWhoProcess = 1;  // <linux/ioprio.h>, not in every libc

// seccomp_rule_add_array's return, where a name this ABI set lacks is fine.
Status add(scmp_filter_ctx ctx, uint32_t action, const char* name, const std::vector<scmp_arg_cmp>& conditions) {
  const int nr = seccomp_syscall_resolve_name(name);
  if (nr == __NR_SCMP_ERROR) return ok_status();
  const int rc = seccomp_rule_add_array(ctx, action, nr, static_cast<unsigned>(conditions.size()), conditions.data());
  if (rc == -EDOM || rc == -EINVAL) return ok_status();
  return check_seccomp(rc, name);
}

}  // namespace

const std::vector<SelfOnlySyscall>& self_only_syscalls() {
  static const std::vector<SelfOnlySyscall> table = {
      {"prlimit64", {{0, 0}}},
      {"setpriority", {{0, PRIO_PROCESS}, {1, 0}}},  // PRIO_PGRP and PRIO_USER reach others
      {"sched_setaffinity", {{0, 0}}},
      {"sched_setparam", {{0, 0}}},
      {"sched_setscheduler", {{0, 0}}},
      {"sched_setattr", {{0, 0}}},
      {"ioprio_set", {{0, kIoprioWhoProcess}, {1, 0}}},
      {"migrate_pages", {{0, 0}}},
      {"move_pages", {{0, 0}}},
      // A pidfd names any process, this one included: no argument tells.
      {"process_madvise", {}},
      // kcmp(pid1, pid2, ...) takes no 0 for "this process", and seccomp
      // compares an argument with constants only, never with the caller's
      // pid: refused.
      {"kcmp", {}},
  };
  return table;
}

bool is_self_only_syscall(std::string_view name) {
  for (const auto& entry : self_only_syscalls())
    if (name == entry.name) return true;
  return false;
}

Status refuse_foreign_process_calls(scmp_filter_ctx ctx, const std::set<std::string>& refused_anyway) {
  const uint32_t refused = SCMP_ACT_ERRNO(EPERM);
  for (const auto& entry : self_only_syscalls()) {
    if (refused_anyway.contains(entry.name)) continue;
    if (entry.self.empty()) {
      if (auto st = add(ctx, refused, entry.name, {}); !st) return st;
      continue;
    }
    // Refused when any condition fails: one rule per argument. The whole
    // 64-bit register is compared, so high bits set beside a valid low
    // half are refused too, never taken for "this process".
    for (const auto& arg : entry.self)
      if (auto st = add(ctx, refused, entry.name, {scmp_arg_cmp{arg.index, SCMP_CMP_NE, arg.value, 0}}); !st) return st;
  }
  return ok_status();
}

Status allow_own_process_calls(scmp_filter_ctx ctx, const std::set<std::string>& allowed) {
  for (const auto& entry : self_only_syscalls()) {
    if (entry.self.empty() || !allowed.contains(entry.name)) continue;
    std::vector<scmp_arg_cmp> all;
    for (const auto& arg : entry.self) all.push_back(scmp_arg_cmp{arg.index, SCMP_CMP_EQ, arg.value, 0});
    if (auto st = add(ctx, SCMP_ACT_ALLOW, entry.name, all); !st) return st;
  }
  return ok_status();
}

}  // namespace agentd::confine
