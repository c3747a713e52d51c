/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Inbound: default deny for connections and datagrams into a sandbox.
 * A sandbox that listens must not let a forbidden host connect in and
 * read what the agent writes back: that reply travels on an accepted
 * socket, which no egress hook judges.
 *
 * cgroup_skb/ingress runs for every packet a sandbox socket receives. Most
 * belong to flows whose first packet was judged already (a connect the
 * egress hooks allowed, a connection accepted after its SYN was judged),
 * so only two kinds of socket are judged, by their state:
 *  - a TCP listener (SYN and the handshake's last ACK reach it): the peer
 *    needs an `inbound:` rule for the listening port;
 *  - an unconnected UDP socket (it receives from anyone): the peer needs
 *    an `inbound:` rule for the socket's port, or to be a destination the
 *    sandbox may send to (a reply to what it asked).
 * Where no rule decides, an operator's inbound grant (agentd_grants, key
 * family with AGENTD_FAMILY_INBOUND) lets the peer in; a refusal becomes
 * an approval request as an egress one does.
 * Whatever arrives over loopback came from this host: from another
 * sandbox, whose own egress rules had to allow 127.0.0.1 or ::1, or from
 * an unsandboxed host process, which the operator trusts. It is let in.
 */
#ifndef AGENTD_INBOUND_BPF_H
#define AGENTD_INBOUND_BPF_H

#include "packet_path.bpf.h"


static __always_inline int drop_inbound(__u32 slot, __u32 class_id, __u8 reason, __u8 range_index,
					const struct destination *peer, __u16 local_port)
{
	struct destination record = *peer;

	/* The record names the peer and the sandbox's own port. */
	record.port = local_port;
	count(slot, 0);
	emit_record(slot, class_id, AGENTD_HOOK_SKB_INGRESS, reason, range_index,
		    record.family == AGENTD_FAMILY_IPV4 ? 2 /* AF_INET */ : 10 /* AF_INET6 */,
		    record.protocol == IPPROTO_TCP ? SOCK_STREAM_TYPE : SOCK_DGRAM_TYPE, &record, 0, 0);
	return VERDICT_DENY;
}

static __always_inline int judge_packet_ingress(struct __sk_buff *skb)
{
	struct destination peer = {};
	struct agentd_sandbox_state *state;
	struct agentd_verdict verdict;
	struct bpf_sock *sk = skb->sk;
	__u8 reason = AGENTD_REASON_NO_RULE, verify = AGENTD_VERIFY_OFF; /* a reply is not verified */
	__u8 traffic;
	__u32 slot, class_id;
	__u16 local_port;
	int udp;

	if (skb->ingress_ifindex == LOOPBACK_IFINDEX || !sk)
		return VERDICT_ALLOW;
	switch (sk->state) {
	case TCP_STATE_LISTEN:
		udp = 0;
		break;
	case TCP_STATE_CLOSE:
		udp = 1;
		break;
	default:
		return VERDICT_ALLOW; /* a flow judged when it began */
	}
	local_port = (__u16)sk->src_port; /* host order */
	peer.proto_bit = udp ? AGENTD_PROTO_UDP : AGENTD_PROTO_TCP;
	peer.protocol = udp ? IPPROTO_UDP : IPPROTO_TCP;
	slot = packet_slot(skb);
	if (!packet_endpoint(skb, 0, &peer, udp))
		return drop_inbound(slot, AGENTD_CLASS_EMPTY, AGENTD_REASON_NO_RULE, AGENTD_RANGE_NONE, &peer, local_port);
	if (slot == AGENTD_SLOT_UNKNOWN)
		return drop_inbound(slot, AGENTD_CLASS_EMPTY, AGENTD_REASON_UNKNOWN_CGROUP, AGENTD_RANGE_NONE, &peer,
				    local_port);
	state = bpf_map_lookup_elem(&agentd_state, &slot);
	if (!state || !(state->flags & AGENTD_SANDBOX_ACTIVE))
		return drop_inbound(slot, AGENTD_CLASS_EMPTY, AGENTD_REASON_UNKNOWN_CGROUP, AGENTD_RANGE_NONE, &peer,
				    local_port);
	class_id = state->class_id;

	verdict = judge_rules(class_id, peer.family | AGENTD_FAMILY_INBOUND, peer.addr, local_port, peer.proto_bit);
	if (verdict.action == AGENTD_ACTION_ALLOW)
		return VERDICT_ALLOW;
	if (verdict.action == AGENTD_ACTION_DENY)
		return drop_inbound(slot, class_id, AGENTD_REASON_DENY_RULE, verdict.index, &peer, local_port);
	/* An operator let this peer in (never past an explicit deny). */
	if (judge_granted(slot, peer.family | AGENTD_FAMILY_INBOUND, peer.addr, local_port, peer.proto_bit))
		return VERDICT_ALLOW;
	/* A reply: from a host and port the sandbox may send to. */
	if (udp && peer.port && egress_allowed(slot, class_id, &peer, &verdict, &reason, &verify, &traffic))
		return VERDICT_ALLOW;
	return drop_inbound(slot, class_id, reason, AGENTD_RANGE_NONE, &peer, local_port);
}

#endif /* AGENTD_INBOUND_BPF_H */
