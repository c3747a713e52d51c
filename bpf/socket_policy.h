/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Which sockets a sandbox may create: what agents need and nothing that
 * goes around the egress hooks. Plain C, shared with the userspace tests.
 */
#ifndef AGENTD_SOCKET_POLICY_H
#define AGENTD_SOCKET_POLICY_H

#include <linux/types.h>

#ifndef AGENTD_INLINE
#define AGENTD_INLINE static inline
#endif

/* Values from <linux/socket.h>, <linux/net.h>, <linux/in.h> and
 * <linux/netlink.h>; spelled out because those headers do not all build
 * under -target bpf. */
#define AGENTD_AF_UNIX 1
#define AGENTD_AF_INET 2
#define AGENTD_AF_INET6 10
#define AGENTD_AF_NETLINK 16
#define AGENTD_SOCK_STREAM 1
#define AGENTD_SOCK_DGRAM 2
#define AGENTD_SOCK_RAW 3
#define AGENTD_SOCK_SEQPACKET 5
#define AGENTD_IPPROTO_TCP 6
#define AGENTD_IPPROTO_UDP 17
#define AGENTD_NETLINK_ROUTE 0

/*
 * AF_INET/AF_INET6: TCP streams and UDP datagrams only (protocol 0 is the
 * default of the type). Raw IP, ICMP "ping" datagrams, SCTP, UDP-Lite and
 * MPTCP are refused: the connect/sendmsg hooks do not see all of their paths.
 * AF_UNIX: allowed (local IPC; files and abstract names are Landlock's part).
 * AF_NETLINK: NETLINK_ROUTE only, which glibc's getaddrinfo and
 * if_nameindex read; changing routes needs CAP_NET_ADMIN, which a sandbox
 * does not keep. Every other family (packet, vsock, bluetooth, ...) is refused.
 */
AGENTD_INLINE int agentd_socket_permitted(__u32 family, __u32 type, __u32 protocol)
{
	switch (family) {
	case AGENTD_AF_INET:
	case AGENTD_AF_INET6:
		if (type == AGENTD_SOCK_STREAM)
			return protocol == 0 || protocol == AGENTD_IPPROTO_TCP;
		if (type == AGENTD_SOCK_DGRAM)
			return protocol == 0 || protocol == AGENTD_IPPROTO_UDP;
		return 0;
	case AGENTD_AF_UNIX:
		return type == AGENTD_SOCK_STREAM || type == AGENTD_SOCK_DGRAM ||
		       type == AGENTD_SOCK_SEQPACKET;
	case AGENTD_AF_NETLINK:
		return (type == AGENTD_SOCK_RAW || type == AGENTD_SOCK_DGRAM) &&
		       protocol == AGENTD_NETLINK_ROUTE;
	default:
		return 0;
	}
}

#endif /* AGENTD_SOCKET_POLICY_H */
