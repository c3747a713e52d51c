/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The packet goes where the hooks judged it would. The connect/sendmsg
 * hooks judge a sockaddr; routing headers and source routes send the
 * packet elsewhere first. Two walls:
 *  1. cgroup/setsockopt refuses the options that do so (route_options.h);
 *  2. cgroup_skb/egress drops any sandbox packet that still carries an
 *     IPv6 routing header or IPv4 options, which ancillary data
 *     (sendmsg cmsg IPV6_RTHDR, IP_RETOPTS) adds without any setsockopt.
 * The second wall costs one byte read for an ordinary packet.
 */
#ifndef AGENTD_PACKET_PATH_BPF_H
#define AGENTD_PACKET_PATH_BPF_H

#include "egress.bpf.h"
#include "name_check.bpf.h"
#include "route_options.h"

#define AGENTD_PAGE_SIZE 4096

#define TCP_STATE_CLOSE 7   /* an unconnected UDP socket is "closed" */
#define TCP_STATE_LISTEN 10
#define LOOPBACK_IFINDEX 1  /* lo is 1 in every network namespace */

#define ETH_P_IP_NET 0x0008   /* htons(0x0800) */
#define ETH_P_IPV6_NET 0xdd86 /* htons(0x86dd) */

#define NEXTHDR_HOP 0
#define NEXTHDR_TCP 6
#define NEXTHDR_UDP 17
#define NEXTHDR_ROUTING 43
#define NEXTHDR_FRAGMENT 44
#define NEXTHDR_AUTH 51
#define NEXTHDR_ICMPV6 58
#define NEXTHDR_NONE 59
#define NEXTHDR_DEST 60
/* More extension headers than this before the payload: dropped, not
 * walked further (the kernel builds at most hop-by-hop, destination
 * options, routing, destination options, fragment). */
#define MAX_EXTENSION_HEADERS 6

#define IPV4_SADDR_OFFSET 12
#define IPV4_DADDR_OFFSET 16
#define IPV4_MIN_HEADER 20
#define IPV6_NEXTHDR_OFFSET 6
#define IPV6_SADDR_OFFSET 8
#define IPV6_DADDR_OFFSET 24
#define IPV6_HEADER 40

/* A refused option: EPERM to the caller, and a record. */
static __always_inline int refuse_option(struct bpf_sockopt *ctx)
{
	struct destination dest = {};
	struct bpf_sock *sk = ctx->sk;
	__u32 slot;

	if (!sk)
		return VERDICT_DENY;
	slot = option_slot(sk);
	dest.protocol = (__u8)sk->protocol;
	/* The record names no destination, only the option; the option goes
	 * where the address would, so that each option refused is a record
	 * stream of its own: one refused option must not hide the next,
	 * another, behind its rate limit. */
	*(__u32 *)dest.addr = AGENTD_OPTION_CODE(ctx->level, ctx->optname);
	count(slot, 0);
	emit_record(slot, AGENTD_CLASS_EMPTY, AGENTD_HOOK_SETSOCKOPT, AGENTD_REASON_ROUTE_OPTION, AGENTD_RANGE_NONE,
		    (__u8)sk->family, sk->type, &dest, AGENTD_OPTION_CODE(ctx->level, ctx->optname), 1);
	return VERDICT_DENY;
}

static __always_inline int judge_setsockopt(struct bpf_sockopt *ctx)
{
	if (ctx->optlen != 0 && agentd_option_reroutes(ctx->level, ctx->optname))
		return refuse_option(ctx);
	/* The program sees at most a page of a longer option; 0 tells the
	 * kernel to use the caller's buffer untouched (left as it is, kernels
	 * before 6.5 fail the call with EFAULT). */
	if (ctx->optlen > AGENTD_PAGE_SIZE)
		ctx->optlen = 0;
	return VERDICT_ALLOW;
}

/* The sandbox of the packet's socket: that of the cgroup it was made in. */
static __always_inline __u32 packet_slot(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;

	if (!sk)
		return AGENTD_SLOT_UNKNOWN;
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return AGENTD_SLOT_UNKNOWN;
	return classify_socket_cgroup(sk);
}

/*
 * The far end of a packet: its source when it came in, its destination
 * when it goes out; with the port for UDP (0 where IPv6 extension headers
 * stand before it).
 */
static __always_inline int packet_endpoint(struct __sk_buff *skb, int sent, struct destination *peer, int udp)
{
	__u16 port;
	__u8 first, next;
	__u32 l4;

	if (skb->protocol == ETH_P_IP_NET) {
		if (bpf_skb_load_bytes(skb, 0, &first, 1) ||
		    bpf_skb_load_bytes(skb, sent ? IPV4_DADDR_OFFSET : IPV4_SADDR_OFFSET, peer->addr, 4))
			return 0;
		peer->family = AGENTD_FAMILY_IPV4;
		l4 = (first & 0x0f) * 4;
	} else if (skb->protocol == ETH_P_IPV6_NET) {
		if (bpf_skb_load_bytes(skb, sent ? IPV6_DADDR_OFFSET : IPV6_SADDR_OFFSET, peer->addr, 16) ||
		    bpf_skb_load_bytes(skb, IPV6_NEXTHDR_OFFSET, &next, 1))
			return 0;
		peer->family = AGENTD_FAMILY_IPV6;
		if (udp && next != NEXTHDR_UDP)
			return 1; /* extension headers: no port, judged by the inbound rules alone */
		l4 = IPV6_HEADER;
	} else {
		return 0;
	}
	if (udp && !bpf_skb_load_bytes(skb, l4 + (sent ? 2 : 0), &port, sizeof(port)))
		peer->port = bpf_ntohs(port);
	return 1;
}

/* A datagram's class: that of its own peer, if the socket's latest connect
 * or send was judged for that peer; else other (agentd_udppeer). */
static __always_inline __u32 datagram_traffic(struct __sk_buff *skb, struct bpf_sock *sk, int sent)
{
	struct destination peer = {};
	struct udp_peers *peers;
	__u32 traffic = AGENTD_TRAFFIC_OTHER;

	if (!packet_endpoint(skb, sent, &peer, 1) || !peer.port)
		return traffic;
	peers = bpf_sk_storage_get(&agentd_udppeer, sk, 0, 0);
	if (!peers)
		return traffic;
	bpf_spin_lock(&peers->lock);
	if (same_udp_peer(&peers->sent, &peer))
		traffic = peers->sent.traffic;
	else if (same_udp_peer(&peers->connected, &peer))
		traffic = peers->connected.traffic;
	bpf_spin_unlock(&peers->lock);
	return traffic;
}

/* A TCP connection's class: what allowed its connect (note_traffic). */
static __always_inline __u32 connection_traffic(struct bpf_sock *sk)
{
	struct agentd_sock_info *info = bpf_sk_storage_get(&agentd_socks, sk, 0, 0);

	return info ? info->traffic : AGENTD_TRAFFIC_OTHER;
}

/*
 * A packet of a sandbox's socket that the walls let through, counted for
 * the sandbox of the cgroup the socket was made in, under the class of
 * what allowed it: a TCP connection's connect, a datagram's own peer
 * (datagram_traffic); over loopback (lo is ifindex 1 in every namespace)
 * under "other" whatever the class: such bytes never left the host, and
 * another local process could otherwise inflate a sandbox's inference or
 * rule counts. A connection accepted from a sandbox's listener counts as
 * other; a retired sandbox's sockets count nowhere while its cgroup maps
 * to no slot (sandbox.bpf.h, remembered_slot).
 */
static __always_inline void count_traffic(struct __sk_buff *skb, int sent)
{
	struct bpf_sock *sk = skb->sk;
	struct agentd_traffic *t;
	__u32 slot, traffic = AGENTD_TRAFFIC_OTHER;

	if (!sk)
		return;
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return;
	slot = classify_socket_cgroup(sk);
	if (slot == AGENTD_SLOT_UNKNOWN)
		return;
	t = bpf_map_lookup_elem(&agentd_traffic, &slot);
	if (!t)
		return;
	/* A listener's packets (handshakes, data on their last ACK) are a
	 * peer's, let in. */
	if ((sent ? skb->ifindex : skb->ingress_ifindex) == LOOPBACK_IFINDEX || sk->state == TCP_STATE_LISTEN)
		traffic = AGENTD_TRAFFIC_OTHER;
	else if (sk->protocol == IPPROTO_UDP)
		traffic = datagram_traffic(skb, sk, sent) & (AGENTD_TRAFFIC_CLASSES - 1);
	else
		traffic = connection_traffic(sk) & (AGENTD_TRAFFIC_CLASSES - 1);
	if (sent) {
		__sync_fetch_and_add(&t->sent_bytes[traffic], (__u64)skb->len);
		__sync_fetch_and_add(&t->sent_packets, 1);
	} else {
		__sync_fetch_and_add(&t->received_bytes[traffic], (__u64)skb->len);
		__sync_fetch_and_add(&t->received_packets, 1);
	}
}

static __always_inline int drop_rerouted(struct __sk_buff *skb, struct destination *dest, __u32 option)
{
	__u32 slot = packet_slot(skb);

	count(slot, 0);
	emit_record(slot, AGENTD_CLASS_EMPTY, AGENTD_HOOK_SKB_EGRESS, AGENTD_REASON_ROUTE_HEADER, AGENTD_RANGE_NONE,
		    dest->family == AGENTD_FAMILY_IPV4 ? 2 /* AF_INET */ : 10 /* AF_INET6 */, 0, dest, option, 0);
	return VERDICT_DENY;
}

#define HEADER_FIT 0xffff

/* The header that makes the IPv6 packet unfit, or HEADER_FIT: a
 * routing header anywhere before the payload; a chain too long or
 * unreadable counts as one (fail closed). */
static __always_inline __u32 ipv6_reroute_header(struct __sk_buff *skb, __u8 nexthdr)
{
	__u32 offset = IPV6_HEADER;
	int i;

	for (i = 0; i < MAX_EXTENSION_HEADERS; i++) {
		__u8 ext[2];

		switch (nexthdr) {
		case NEXTHDR_ROUTING:
			return NEXTHDR_ROUTING;
		case NEXTHDR_HOP:
		case NEXTHDR_DEST:
		case NEXTHDR_AUTH:
			break;
		default:
			/* The payload, or a fragment header: a routing header
			 * belongs to the unfragmentable part before it. */
			return HEADER_FIT;
		}
		if (bpf_skb_load_bytes(skb, offset, ext, sizeof(ext)))
			return nexthdr;
		offset += nexthdr == NEXTHDR_AUTH ? ((__u32)ext[1] + 2) * 4 : ((__u32)ext[1] + 1) * 8;
		nexthdr = ext[0];
	}
	return nexthdr;
}

static __always_inline int judge_packet_egress(struct __sk_buff *skb)
{
	struct destination dest = {};
	__u8 first;

	if (unverified_payload(skb))
		return VERDICT_DENY;
	if (skb->protocol == ETH_P_IP_NET) {
		if (bpf_skb_load_bytes(skb, 0, &first, 1))
			return VERDICT_DENY;
		if ((first & 0x0f) * 4 <= IPV4_MIN_HEADER)
			return VERDICT_ALLOW;
		/* IPv4 options: a source route, or any other the kernel was
		 * handed through IP_RETOPTS ancillary data. */
		dest.family = AGENTD_FAMILY_IPV4;
		bpf_skb_load_bytes(skb, IPV4_DADDR_OFFSET, dest.addr, 4);
		bpf_skb_load_bytes(skb, IPV4_MIN_HEADER, &first, 1);
		return drop_rerouted(skb, &dest, first);
	}
	if (skb->protocol == ETH_P_IPV6_NET) {
		__u32 header;

		if (bpf_skb_load_bytes(skb, IPV6_NEXTHDR_OFFSET, &first, 1))
			return VERDICT_DENY;
		if (first == NEXTHDR_TCP || first == NEXTHDR_UDP || first == NEXTHDR_ICMPV6)
			return VERDICT_ALLOW;
		header = ipv6_reroute_header(skb, first);
		if (header == HEADER_FIT)
			return VERDICT_ALLOW;
		dest.family = AGENTD_FAMILY_IPV6;
		bpf_skb_load_bytes(skb, IPV6_DADDR_OFFSET, dest.addr, 16);
		return drop_rerouted(skb, &dest, header);
	}
	return VERDICT_ALLOW;
}

#endif /* AGENTD_PACKET_PATH_BPF_H */
