#include "agentd/confine/seccomp_profile.hpp"

#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <set>

#include "agentd/common/unique_fd.hpp"
#include "agentd/policy/syscall_sets.hpp"
#include "agentd/confine/process_filter.hpp"
#include "agentd/confine/socket_filter.hpp"

namespace agentd::confine {
namespace {

using policy::SyscallAction;
using policy::SyscallProfileKind;

struct FilterDeleter {
  void operator()(scmp_filter_ctx ctx) const { seccomp_release(ctx); }
};
using Filter = std::unique_ptr<void, FilterDeleter>;

uint32_t action_of(SyscallAction action) {
  switch (action) {
    case SyscallAction::error:
      return SCMP_ACT_ERRNO(EPERM);
    case SyscallAction::kill:
      return SCMP_ACT_KILL_PROCESS;
    case SyscallAction::log:
      return SCMP_ACT_LOG;
  }
  return SCMP_ACT_ERRNO(EPERM);
}

int number_of(const std::string& name) { return seccomp_syscall_resolve_name(name.c_str()); }

Status add_rule(scmp_filter_ctx ctx, uint32_t action, const std::string& name) {
  const int nr = number_of(name);
  if (nr == __NR_SCMP_ERROR) return make_error("seccomp: unknown syscall \"{}\"", name);
  int rc = seccomp_rule_add(ctx, action, nr, 0);
  // A name this host's ABIs do not have (i386's vm86 on x32) has nothing to refuse.
  if (rc == -EDOM || rc == -EINVAL) return ok_status();
  return check_seccomp(rc, name.c_str());
}

// clone3 keeps its flags behind a pointer: seccomp cannot see a namespace
// flag there. ENOSYS makes libc fall back to clone, whose flags it sees.
Status refuse_clone3(scmp_filter_ctx ctx) {
  return check_seccomp(seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0), "clone3 rule");
}

// Under `default`: clone with any namespace flag gets the action.
Status refuse_namespace_clones(scmp_filter_ctx ctx, uint32_t action) {
  const uint64_t flags = policy::namespace_clone_flags();
  for (uint64_t bit = 1; bit != 0; bit <<= 1) {
    if (!(flags & bit)) continue;
    if (auto st = check_seccomp(
            seccomp_rule_add(ctx, action, SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, bit, bit)), "clone rule");
        !st)
      return st;
  }
  return ok_status();
}

Status add_default_profile(scmp_filter_ctx ctx, const policy::SandboxProfile& p, uint32_t action,
                           const std::set<std::string>& allow) {
  std::set<std::string> denied(policy::default_denied_syscalls().begin(), policy::default_denied_syscalls().end());
  denied.insert(p.deny.begin(), p.deny.end());
  std::set<std::string> refused;
  for (const auto& name : denied)
    if (!allow.contains(name)) refused.insert(name);
  if (auto st = refuse_foreign_process_calls(ctx, refused); !st) return st;
  for (const auto& name : refused)
    if (auto st = add_rule(ctx, action, name); !st) return st;
  if (!allow.contains("clone") && !denied.contains("clone"))
    if (auto st = refuse_namespace_clones(ctx, action); !st) return st;
  if (!allow.contains("clone3") && !denied.contains("clone3")) return refuse_clone3(ctx);
  return ok_status();
}

Status add_strict_profile(scmp_filter_ctx ctx, const policy::SandboxProfile& p) {
  std::set<std::string> allowed(policy::strict_allowed_syscalls().begin(), policy::strict_allowed_syscalls().end());
  allowed.insert(p.allow.begin(), p.allow.end());
  for (const auto& name : p.deny) allowed.erase(name);
  // The socket rules judge these by their arguments.
  for (const char* judged : {"socket", "socketpair", "socketcall", "io_uring_setup"}) allowed.erase(judged);
  // And the process rules these: allowed on the caller only, or not at all.
  if (auto st = allow_own_process_calls(ctx, allowed); !st) return st;
  std::erase_if(allowed, [](const std::string& name) { return is_self_only_syscall(name); });
  if (allowed.erase("clone")) {
    const uint64_t flags = policy::namespace_clone_flags();
    if (auto st = check_seccomp(
            seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, flags, 0)),
            "clone rule");
        !st)
      return st;
  }
  for (const auto& name : allowed)
    if (auto st = add_rule(ctx, SCMP_ACT_ALLOW, name); !st) return st;
  if (!allowed.contains("clone3")) return refuse_clone3(ctx);
  return ok_status();
}

// libseccomp 2.5 exports to a descriptor only: a memfd, read back.
Result<std::vector<sock_filter>> export_program(scmp_filter_ctx ctx) {
  UniqueFd memfd(static_cast<int>(::syscall(SYS_memfd_create, "agentd-seccomp", MFD_CLOEXEC)));
  if (!memfd) return system_error("seccomp: memfd for the filter");
  if (auto st = check_seccomp(seccomp_export_bpf(ctx, memfd.get()), "compiling the filter", false); !st)
    return st.error();
  const off_t size = ::lseek(memfd.get(), 0, SEEK_END);
  if (size <= 0 || size % sizeof(sock_filter) != 0)
    return make_error("seccomp: the compiled filter has {} bytes", size);
  std::vector<sock_filter> code(static_cast<size_t>(size) / sizeof(sock_filter));
  if (::pread(memfd.get(), code.data(), static_cast<size_t>(size), 0) != size)
    return system_error("seccomp: reading the filter");
  return code;
}

}  // namespace

int SeccompProgram::install() const {
  sock_fprog prog{static_cast<unsigned short>(code_.size()), const_cast<sock_filter*>(code_.data())};
  return ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0 ? 0 : errno;
}

std::vector<std::string> seccomp_architectures() { return {"x86_64", "x32", "x86"}; }

Result<SeccompProgram> build_seccomp_program(const policy::SandboxProfile& p) {
  const uint32_t action = action_of(p.action);
  const bool strict = p.profile == SyscallProfileKind::strict;
  Filter filter(seccomp_init(strict ? action : SCMP_ACT_ALLOW));
  if (!filter) return make_error("seccomp: cannot create a filter");
  scmp_filter_ctx ctx = filter.get();
  // Every ABI this x86-64 host runs: a 32-bit binary must not walk around it.
  for (uint32_t arch : {SCMP_ARCH_X86, SCMP_ARCH_X32}) {
    int rc = seccomp_arch_add(ctx, arch);
    if (rc < 0 && rc != -EEXIST) return check_seccomp(rc, "adding an architecture", false).error();
  }
  const std::set<std::string> allow(p.allow.begin(), p.allow.end());
  if (auto st = add_socket_rules(ctx, strict, allow.contains("io_uring_setup")); !st) return st.error();
  Status profile_rules = ok_status();
  switch (p.profile) {
    case SyscallProfileKind::none: {
      const std::set<std::string> refused(p.deny.begin(), p.deny.end());
      if (profile_rules = refuse_foreign_process_calls(ctx, refused); !profile_rules) break;
      for (const auto& name : p.deny)
        if (profile_rules = add_rule(ctx, action, name); !profile_rules) break;
      break;
    }
    case SyscallProfileKind::standard:
      profile_rules = add_default_profile(ctx, p, action, allow);
      break;
    case SyscallProfileKind::strict:
      profile_rules = add_strict_profile(ctx, p);
      break;
  }
  if (!profile_rules) return profile_rules.error();
  // A binary tree over syscall numbers: every syscall passes the filter in
  // a few comparisons, not a walk over every rule.
  if (auto st = check_seccomp(seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2), "filter optimisation", false); !st)
    return st.error();
  auto code = export_program(ctx);
  if (!code) return code.error();
  return SeccompProgram(std::move(*code));
}

}  // namespace agentd::confine
