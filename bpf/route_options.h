/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Socket options that make a packet go somewhere other than the address
 * the connect/sendmsg hooks judged, or claim a source that is not the
 * host's. The hooks judge the sockaddr; these options change the route
 * after the fact, so a sandboxed socket may not set them at all:
 *
 * - IPv6 routing headers (IPV6_RTHDR, the RFC 2292 forms, and the sticky
 *   IPV6_2292PKTOPTIONS that can carry one): a type 4 segment-routing
 *   header sends the datagram first to the segments it lists. Hop-by-hop
 *   and destination options go with them: no agent needs to add
 *   extension headers, and the second wall drops what the hooks miss.
 * - IPv4 options (IP_OPTIONS): loose and strict source routes.
 * - IP_FREEBIND / IPV6_FREEBIND / IP_TRANSPARENT / IPV6_TRANSPARENT: bind
 *   an address the host does not own, so an allowed service answers (or
 *   reflects) to a forbidden host.
 * - SO_BINDTODEVICE, SO_BINDTOIFINDEX, IP_UNICAST_IF, IPV6_UNICAST_IF:
 *   send out an interface the routing table would not pick, to whatever
 *   holds the judged address on that link. The sticky IPV6_PKTINFO does
 *   both at once (an interface and a source address for every datagram),
 *   and IP_MULTICAST_IF / IPV6_MULTICAST_IF pick the interface (and for
 *   IPv4 the source) of multicast. Receiving packet info
 *   (IPV6_RECVPKTINFO, IP_PKTINFO) stays allowed.
 * - IPV6_ADDRFORM turns an IPv6 socket into an IPv4 one behind the hooks'
 *   backs: an IPv6 UDP socket's sandbox is read from the kernel while it
 *   is one (sandbox.bpf.h), and no agent needs the conversion.
 *
 * An empty option (optlen 0) clears or reads nothing and stays allowed.
 * Plain C with the values spelled out, shared with the userspace tests
 * and the record text (the kernel headers do not all build for BPF).
 */
#ifndef AGENTD_ROUTE_OPTIONS_H
#define AGENTD_ROUTE_OPTIONS_H

#include <linux/types.h>

#ifndef AGENTD_INLINE
#define AGENTD_INLINE static inline
#endif

#define AGENTD_SOL_IP 0
#define AGENTD_SOL_SOCKET 1
#define AGENTD_SOL_IPV6 41

#define AGENTD_SO_BINDTODEVICE 25
#define AGENTD_SO_BINDTOIFINDEX 62

#define AGENTD_IP_OPTIONS 4
#define AGENTD_IP_FREEBIND 15
#define AGENTD_IP_TRANSPARENT 19
#define AGENTD_IP_MULTICAST_IF 32
#define AGENTD_IP_UNICAST_IF 50

#define AGENTD_IPV6_ADDRFORM 1
#define AGENTD_IPV6_2292HOPOPTS 3
#define AGENTD_IPV6_2292DSTOPTS 4
#define AGENTD_IPV6_2292RTHDR 5
#define AGENTD_IPV6_2292PKTOPTIONS 6
#define AGENTD_IPV6_MULTICAST_IF 17
#define AGENTD_IPV6_PKTINFO 50
#define AGENTD_IPV6_HOPOPTS 54
#define AGENTD_IPV6_RTHDRDSTOPTS 55
#define AGENTD_IPV6_RTHDR 57
#define AGENTD_IPV6_DSTOPTS 59
#define AGENTD_IPV6_TRANSPARENT 75
#define AGENTD_IPV6_UNICAST_IF 76
#define AGENTD_IPV6_FREEBIND 78

/* The option as one number, as records carry it. */
#define AGENTD_OPTION_CODE(level, optname) (((__u32)(level) << 16) | ((__u32)(optname) & 0xffff))

AGENTD_INLINE int agentd_option_reroutes(__s32 level, __s32 optname)
{
	switch (level) {
	case AGENTD_SOL_SOCKET:
		return optname == AGENTD_SO_BINDTODEVICE || optname == AGENTD_SO_BINDTOIFINDEX;
	case AGENTD_SOL_IP:
		return optname == AGENTD_IP_OPTIONS || optname == AGENTD_IP_FREEBIND ||
		       optname == AGENTD_IP_TRANSPARENT || optname == AGENTD_IP_UNICAST_IF ||
		       optname == AGENTD_IP_MULTICAST_IF;
	case AGENTD_SOL_IPV6:
		switch (optname) {
		case AGENTD_IPV6_ADDRFORM:
		case AGENTD_IPV6_2292HOPOPTS:
		case AGENTD_IPV6_2292DSTOPTS:
		case AGENTD_IPV6_2292RTHDR:
		case AGENTD_IPV6_2292PKTOPTIONS:
		case AGENTD_IPV6_MULTICAST_IF:
		case AGENTD_IPV6_PKTINFO:
		case AGENTD_IPV6_HOPOPTS:
		case AGENTD_IPV6_RTHDRDSTOPTS:
		case AGENTD_IPV6_RTHDR:
		case AGENTD_IPV6_DSTOPTS:
		case AGENTD_IPV6_TRANSPARENT:
		case AGENTD_IPV6_UNICAST_IF:
		case AGENTD_IPV6_FREEBIND:
			return 1;
		default:
			return 0;
		}
	default:
		return 0;
	}
}

#endif /* AGENTD_ROUTE_OPTIONS_H */
