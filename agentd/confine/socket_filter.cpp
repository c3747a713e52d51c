#include "agentd/confine/socket_filter.hpp"

#include <linux/netlink.h>
#include <sys/socket.h>

namespace agentd::confine {

Status check_seccomp(int rc, const char* what, bool equal_default_ok) {
  // -EACCES: the rule's action is the default action, nothing to add.
  if (rc == -EACCES && equal_default_ok) return ok_status();
  if (rc < 0) {
    errno = -rc;
    return system_error("seccomp: {}", what);
  }
  return ok_status();
}

namespace {

// One rule; the conditions are libseccomp's SCMP_A* comparisons.
template <typename... Conditions>
Status rule(scmp_filter_ctx ctx, uint32_t action, int syscall, const char* what, Conditions... conditions) {
  return check_seccomp(seccomp_rule_add(ctx, action, syscall, sizeof...(conditions), conditions...), what);
}

}  // namespace

Status add_socket_rules(scmp_filter_ctx ctx, bool allowlist, bool allow_io_uring) {
  // A denylist over the family argument is what seccomp can express per
  // family; AF_MAX bounds it, so every family the kernel knows is covered,
  // and new ones above it fail as unknown.
  const uint32_t refused = SCMP_ACT_ERRNO(EPERM);
  const int socket_nr = SCMP_SYS(socket);
  for (int family = 0; family < AF_MAX; ++family) {
    if (family == AF_UNIX || family == AF_INET || family == AF_INET6 || family == AF_NETLINK) continue;
    if (auto st = rule(ctx, refused, socket_nr, "socket rule", SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(family)));
        !st)
      return st;
  }
  if (auto st = rule(ctx, refused, socket_nr, "socket rule", SCMP_A0(SCMP_CMP_GE, static_cast<scmp_datum_t>(AF_MAX)));
      !st)
    return st;
  // Netlink: only the routing family that libc reads.
  if (auto st = rule(ctx, refused, socket_nr, "netlink rule", SCMP_A0(SCMP_CMP_EQ, AF_NETLINK),
                     SCMP_A2(SCMP_CMP_NE, NETLINK_ROUTE));
      !st)
    return st;
  // socketpair makes connected pairs only; anything but AF_UNIX is refused.
  if (auto st = rule(ctx, refused, SCMP_SYS(socketpair), "socketpair rule", SCMP_A0(SCMP_CMP_NE, AF_UNIX)); !st)
    return st;
  if (!allow_io_uring) {
    if (auto st = rule(ctx, refused, SCMP_SYS(io_uring_setup), "io_uring_setup rule"); !st) return st;
  }
  // i386's socketcall multiplexer hides the family behind a pointer.
  int rc = seccomp_rule_add(ctx, refused, SCMP_SYS(socketcall), 0);
  if (rc < 0 && rc != -EDOM && rc != -EINVAL && rc != -EACCES) return check_seccomp(rc, "socketcall rule");
  if (!allowlist) return ok_status();
  // A filter that refuses by default needs the permitted families said.
  for (int family : {AF_UNIX, AF_INET, AF_INET6})
    if (auto st = rule(ctx, SCMP_ACT_ALLOW, socket_nr, "socket rule",
                       SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(family)));
        !st)
      return st;
  if (auto st = rule(ctx, SCMP_ACT_ALLOW, socket_nr, "netlink rule", SCMP_A0(SCMP_CMP_EQ, AF_NETLINK),
                     SCMP_A2(SCMP_CMP_EQ, NETLINK_ROUTE));
      !st)
    return st;
  return rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socketpair), "socketpair rule", SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
}

}  // namespace agentd::confine
