// The seccomp rules that refuse the socket families a sandbox may not
// create. They are the second wall behind the kernel hooks, and the only
// one for non-inet families (packet, vsock, ...) where the BPF LSM hook
// cannot be loaded. Part of every sandbox's filter (seccomp_profile.hpp),
// whatever its syscall profile: they enforce egress, not the profile.
#pragma once

#include <seccomp.h>

#include "agentd/common/result.hpp"

namespace agentd::confine {

// Adds to `ctx` (whose architectures are set) rules answering EPERM to:
//   socket() of any family but AF_UNIX, AF_INET, AF_INET6 (the hooks judge
//   their types and destinations) and AF_NETLINK with NETLINK_ROUTE;
//   socketpair() of anything but AF_UNIX; on i386 socketcall (its
//   arguments sit behind a pointer seccomp cannot read); and, unless
//   `allow_io_uring`, io_uring_setup (IORING_OP_SOCKET makes sockets
//   without the socket syscall).
// With `allowlist` (a filter whose default refuses), the permitted
// families also get explicit allow rules.
Status add_socket_rules(scmp_filter_ctx ctx, bool allowlist, bool allow_io_uring);

// seccomp_rule_add's return as a Status; `equal_default_ok` accepts the
// refusal of a rule whose action is the filter's default anyway.
Status check_seccomp(int rc, const char* what, bool equal_default_ok = true);

}  // namespace agentd::confine
