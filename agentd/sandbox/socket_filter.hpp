// A seccomp filter that refuses the socket families a sandbox may not
// create, installed by `agentctl run` just before exec. It is the second
// wall behind the kernel hooks, and the only one for non-inet families
// (packet, vsock, ...) where the BPF LSM hook cannot be loaded.
#pragma once

#include "agentd/common/result.hpp"

namespace agentd::sandbox {

// Installs the filter on the calling thread (and so on everything it
// execs). Needs no_new_privs or CAP_SYS_ADMIN; sets no_new_privs.
// The permitted set is bpf/socket_policy.h's, family by family:
//   AF_UNIX, AF_INET, AF_INET6 (the hooks judge their types and
//   destinations), AF_NETLINK with NETLINK_ROUTE; socketpair for AF_UNIX.
// Also refused: io_uring_setup (IORING_OP_SOCKET makes sockets without the
// socket syscall) and, on i386, socketcall (its arguments sit behind a
// pointer seccomp cannot read).
Status install_socket_filter();

}  // namespace agentd::sandbox
