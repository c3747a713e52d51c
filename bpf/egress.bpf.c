// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * agentd's hooks: thin wrappers over the decisions in egress.bpf.h and
 * socket_policy.h. Attached once at the sandbox root (and at adopted
 * cgroups) with bpf_link; they find the sandbox from the socket.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define AGENTD_INLINE static __always_inline
#include "dns.bpf.h"
#include "egress.bpf.h"
#include "inbound.bpf.h"
#include "name_check.bpf.h"
#include "packet_path.bpf.h"
#include "socket_policy.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* DNS goes to the proxy; everything else is judged. */
static __always_inline int egress(struct bpf_sock_addr *ctx, __u8 hook, const struct destination *dest,
				  int ipv6_hook, int mapped_ok)
{
	switch (redirect_dns(ctx, dest, ipv6_hook, mapped_ok)) {
	case REDIRECT_DONE:
		return VERDICT_ALLOW;
	case REDIRECT_DENY:
		return deny_egress(ctx, hook, socket_slot(ctx->sk), AGENTD_CLASS_EMPTY,
				   AGENTD_REASON_DNS_UNSUPPORTED, AGENTD_RANGE_NONE, dest);
	case REDIRECT_NETNS:
		return deny_egress(ctx, hook, socket_slot(ctx->sk), AGENTD_CLASS_EMPTY, AGENTD_REASON_DNS_NETNS,
				   AGENTD_RANGE_NONE, dest);
	default:
		return judge_egress(ctx, hook, dest);
	}
}

SEC("cgroup/connect4")
int agentd_connect4(struct bpf_sock_addr *ctx)
{
	struct destination dest = {};

	dest_from_ipv4(ctx, &dest);
	return egress(ctx, AGENTD_HOOK_CONNECT4, &dest, 0, 1);
}

SEC("cgroup/connect6")
int agentd_connect6(struct bpf_sock_addr *ctx)
{
	struct destination dest = {};

	dest_from_ipv6(ctx, &dest);
	return egress(ctx, AGENTD_HOOK_CONNECT6, &dest, 1, 1);
}

/* Unconnected UDP: every sendto/sendmsg that names a destination. */
SEC("cgroup/sendmsg4")
int agentd_sendmsg4(struct bpf_sock_addr *ctx)
{
	struct destination dest = {};

	dest_from_ipv4(ctx, &dest);
	return egress(ctx, AGENTD_HOOK_SENDMSG4, &dest, 0, 1);
}

/* IPv4-mapped destinations never get here (the kernel sends them through
 * sendmsg4), so a DNS query here names an IPv6 server: to [::1]. */
SEC("cgroup/sendmsg6")
int agentd_sendmsg6(struct bpf_sock_addr *ctx)
{
	struct destination dest = {};

	dest_from_ipv6(ctx, &dest);
	return egress(ctx, AGENTD_HOOK_SENDMSG6, &dest, 1, 0);
}

/* No sandbox binds where the DNS proxy listens (see binds_proxy_address). */
SEC("cgroup/bind4")
int agentd_bind4(struct bpf_sock_addr *ctx)
{
	struct destination dest = {};

	dest_from_ipv4(ctx, &dest);
	return judge_bind(ctx, AGENTD_HOOK_BIND4, &dest);
}

SEC("cgroup/bind6")
int agentd_bind6(struct bpf_sock_addr *ctx)
{
	struct destination dest = {};

	dest_from_ipv6(ctx, &dest);
	return judge_bind(ctx, AGENTD_HOOK_BIND6, &dest);
}

/* Replies from the proxy show the server the query was sent to. */
SEC("cgroup/recvmsg4")
int agentd_recvmsg4(struct bpf_sock_addr *ctx)
{
	restore_dns_peer4(ctx);
	return 1;
}

SEC("cgroup/recvmsg6")
int agentd_recvmsg6(struct bpf_sock_addr *ctx)
{
	restore_dns_peer6(ctx);
	return 1;
}

SEC("cgroup/getpeername4")
int agentd_getpeername4(struct bpf_sock_addr *ctx)
{
	restore_dns_peer4(ctx);
	return 1;
}

SEC("cgroup/getpeername6")
int agentd_getpeername6(struct bpf_sock_addr *ctx)
{
	restore_dns_peer6(ctx);
	return 1;
}

static __always_inline int refuse_socket(__u32 family, __u32 type, __u32 protocol)
{
	struct destination dest = {};
	__u32 slot = classify_current_task();

	dest.protocol = (__u8)protocol;
	count(slot, 0);
	emit_denial(slot, AGENTD_CLASS_EMPTY, AGENTD_HOOK_SOCK_CREATE, AGENTD_REASON_SOCKET_TYPE,
		    AGENTD_RANGE_NONE, (__u8)family, type, &dest);
	return VERDICT_DENY;
}

/* Every AF_INET/AF_INET6 socket: refuse raw IP; remember the sandbox of
 * those whose cgroup the hooks cannot read from the kernel (sandbox.bpf.h). */
SEC("cgroup/sock_create")
int agentd_sock_create(struct bpf_sock *ctx)
{
	if (!kernel_knows_cgroup(ctx->family, ctx->type, ctx->protocol))
		remember_socket(ctx);
	if (agentd_socket_permitted(ctx->family, ctx->type, ctx->protocol))
		return VERDICT_ALLOW;
	return refuse_socket(ctx->family, ctx->type, ctx->protocol);
}

/*
 * Every other family (packet, vsock, ...) never reaches cgroup/sock_create,
 * which runs for inet sockets only: the BPF LSM hook sees them all. Optional:
 * it needs the "bpf" LSM active; agentd reports when it is not.
 */
SEC("lsm_cgroup/socket_create")
int BPF_PROG(agentd_socket_family, int family, int type, int protocol, int kern)
{
	if (kern || agentd_socket_permitted(family, type, protocol))
		return VERDICT_ALLOW;
	return refuse_socket(family, type, protocol);
}

/* Options that reroute or claim another source: refused (route_options.h). */
SEC("cgroup/setsockopt")
int agentd_setsockopt(struct bpf_sockopt *ctx)
{
	return judge_setsockopt(ctx);
}

/* The second wall: what ancillary data added behind setsockopt's back. */
SEC("cgroup_skb/egress")
int agentd_packet_egress(struct __sk_buff *skb)
{
	int verdict = judge_packet_egress(skb);

	if (verdict == VERDICT_ALLOW)
		count_traffic(skb, 1);
	return verdict;
}

/* Name-allowed connections: into the sockhash when established, out once
 * their first bytes were verified (name_check.bpf.h). */
SEC("sockops")
int agentd_sockops(struct bpf_sock_ops *skops)
{
	return track_name_socket(skops);
}

/* The first bytes of a name-allowed connection (attached to the sockhash
 * agentd_verifying, not to a cgroup). */
SEC("sk_msg")
int agentd_first_bytes(struct sk_msg_md *msg)
{
	return check_first_bytes(msg);
}

/* Connections and datagrams into a sandbox (inbound.bpf.h). */
SEC("cgroup_skb/ingress")
int agentd_packet_ingress(struct __sk_buff *skb)
{
	int verdict = judge_packet_ingress(skb);

	if (verdict == VERDICT_ALLOW)
		count_traffic(skb, 0);
	return verdict;
}
