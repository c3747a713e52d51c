#include "agentd/sandbox/socket_filter.hpp"

#include <linux/netlink.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <memory>

namespace agentd::sandbox {
namespace {

struct FilterDeleter {
  void operator()(scmp_filter_ctx ctx) const { seccomp_release(ctx); }
};
using Filter = std::unique_ptr<void, FilterDeleter>;

Status check(int rc, const char* what) {
  if (rc < 0) {
    errno = -rc;
    return system_error("seccomp: {}", what);
  }
  return ok_status();
}

// Families a sandbox may never create. A denylist over the argument is
// what seccomp can express per family; AF_MAX bounds it, so every family
// the kernel knows is covered, and new ones above it fail as unknown.
Status refuse_families(scmp_filter_ctx ctx) {
  const uint32_t refused = SCMP_ACT_ERRNO(EPERM);
  for (int family = 0; family < AF_MAX; ++family) {
    if (family == AF_UNIX || family == AF_INET || family == AF_INET6 || family == AF_NETLINK) continue;
    if (auto st = check(seccomp_rule_add(ctx, refused, SCMP_SYS(socket), 1,
                                         SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(family))),
                        "socket rule");
        !st)
      return st;
  }
  // Families above the ones this build knows.
  if (auto st = check(seccomp_rule_add(ctx, refused, SCMP_SYS(socket), 1,
                                       SCMP_A0(SCMP_CMP_GE, static_cast<scmp_datum_t>(AF_MAX))),
                      "socket rule");
      !st)
    return st;
  // Netlink: only the routing family that libc reads.
  if (auto st = check(seccomp_rule_add(ctx, refused, SCMP_SYS(socket), 2, SCMP_A0(SCMP_CMP_EQ, AF_NETLINK),
                                       SCMP_A2(SCMP_CMP_NE, NETLINK_ROUTE)),
                      "netlink rule");
      !st)
    return st;
  // socketpair makes connected pairs only; anything but AF_UNIX is refused.
  if (auto st = check(seccomp_rule_add(ctx, refused, SCMP_SYS(socketpair), 1, SCMP_A0(SCMP_CMP_NE, AF_UNIX)),
                      "socketpair rule");
      !st)
    return st;
  return check(seccomp_rule_add(ctx, refused, SCMP_SYS(io_uring_setup), 0), "io_uring_setup rule");
}

}  // namespace

Status install_socket_filter() {
  Filter filter(seccomp_init(SCMP_ACT_ALLOW));
  if (!filter) return make_error("seccomp: cannot create a filter");
  scmp_filter_ctx ctx = filter.get();
  // Every ABI this x86-64 host runs: a 32-bit binary must not walk around it.
  for (uint32_t arch : {SCMP_ARCH_X86, SCMP_ARCH_X32}) {
    int rc = seccomp_arch_add(ctx, arch);
    if (rc < 0 && rc != -EEXIST) return check(rc, "adding an architecture");
  }
  if (auto st = refuse_families(ctx); !st) return st;
  // i386's socketcall multiplexer hides the family behind a pointer.
  int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socketcall), 0);
  if (rc < 0 && rc != -EDOM && rc != -EINVAL) return check(rc, "socketcall rule");
  if (auto st = check(seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1), "no_new_privs"); !st) return st;
  // A binary tree over syscall numbers: every other syscall of the agent
  // passes the filter in a few comparisons, not a walk over every rule.
  if (auto st = check(seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2), "filter optimisation"); !st) return st;
  return check(seccomp_load(ctx), "loading the filter");
}

}  // namespace agentd::sandbox
