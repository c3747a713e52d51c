/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * DNS redirection: every query a sandbox sends to port 53 goes to agentd's
 * proxy, whatever server it named, at 127.64.<slot>:<proxy port> so the
 * proxy knows which sandbox asked. The socket remembers the server it
 * named; replies (recvmsg) and the peer (getpeername) show that server
 * again, so resolvers that check where an answer came from accept it.
 */
#ifndef AGENTD_DNS_BPF_H
#define AGENTD_DNS_BPF_H

#include "egress.bpf.h"

#define REDIRECT_NONE 0 /* not DNS, or no proxy: judge it as any other traffic */
#define REDIRECT_DONE 1 /* sent to the proxy */
#define REDIRECT_DENY 2 /* DNS the proxy cannot take: refused */
#define REDIRECT_NETNS 3 /* from a network namespace the proxy does not serve (yet): refused */

/* Does the proxy listen, for this sandbox, in the caller's network
 * namespace? agentd's own serves every sandbox; another (a container's)
 * the sandboxes agentd opened sockets there for. */
static __always_inline int proxy_serves(struct bpf_sock_addr *ctx, __u32 slot)
{
	struct agentd_dnsns_key key = { .netns_cookie = bpf_get_netns_cookie(ctx), .slot = 0 };

	if (bpf_map_lookup_elem(&agentd_dnsns, &key))
		return 1;
	key.slot = slot;
	return bpf_map_lookup_elem(&agentd_dnsns, &key) != 0;
}

static __always_inline struct agentd_dns_config *dns_config(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&agentd_dnscfg, &zero);
}

static __always_inline int is_proxy_address(__u32 ip4_net_order, __u16 port_net_order,
					    const struct agentd_dns_config *cfg)
{
	return cfg && cfg->enabled && (bpf_ntohl(ip4_net_order) & AGENTD_DNS_MASK) == AGENTD_DNS_NET &&
	       bpf_ntohs(port_net_order) == cfg->proxy_port;
}

/*
 * Where the query goes. IPv4 hooks: 127.64.<slot>. IPv6 hooks, IPv6
 * server: [::1]:<base + slot> when a proxy socket serves the slot; else,
 * for connect6 only, ::ffff:127.64.<slot>, which a dual-stack socket
 * connects over IPv4 (an IPv6-only one fails: closed). An IPv4-mapped
 * server on an IPv6 socket takes that mapped address too. Unconnected
 * IPv6 UDP cannot be turned into IPv4 by a hook (the kernel refuses that
 * rewrite): with no [::1] port such a query is refused, never let through.
 */
#define TO_PROXY4 1
#define TO_MAPPED 2
#define TO_LOOPBACK6 3

static __always_inline int redirect_dns(struct bpf_sock_addr *ctx, const struct destination *dest, int ipv6_hook,
					int mapped_ok)
{
	struct agentd_dns_config *cfg = dns_config();
	struct agentd_sandbox_state *state;
	struct agentd_sock_info *info;
	struct bpf_sock *sk = ctx->sk;
	__u32 slot, port6 = 0, proxy_ip;
	int route;

	if (!cfg || !cfg->enabled || dest->port != AGENTD_DNS_PORT || !dest->proto_bit || !sk)
		return REDIRECT_NONE;
	slot = socket_slot(sk);
	if (slot == AGENTD_SLOT_UNKNOWN)
		return REDIRECT_NONE; /* judged, and denied, as unknown */
	state = bpf_map_lookup_elem(&agentd_state, &slot);
	if (!state || !(state->flags & AGENTD_SANDBOX_ACTIVE))
		return REDIRECT_NONE;
	if (!proxy_serves(ctx, slot))
		return REDIRECT_NETNS;
	if (!ipv6_hook) {
		route = TO_PROXY4;
	} else {
		if (dest->family == AGENTD_FAMILY_IPV6)
			port6 = dns6_port(slot);
		if (port6)
			route = TO_LOOPBACK6;
		else if (mapped_ok)
			route = TO_MAPPED;
		else
			return REDIRECT_DENY;
	}
	info = bpf_sk_storage_get(&agentd_socks, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!info)
		return REDIRECT_NONE;
	info->slot = slot;
	info->generation = slot_generation(slot);
	info->dns_family = dest->family;
	__builtin_memcpy(info->dns_addr, dest->addr, sizeof(info->dns_addr));
	info->dns_port = bpf_htons(AGENTD_DNS_PORT);

	proxy_ip = bpf_htonl(AGENTD_DNS_NET | slot);
	if (route == TO_PROXY4) {
		ctx->user_ip4 = proxy_ip;
		ctx->user_port = bpf_htons((__u16)cfg->proxy_port);
	} else if (route == TO_MAPPED) {
		ctx->user_ip6[0] = 0;
		ctx->user_ip6[1] = 0;
		ctx->user_ip6[2] = bpf_htonl(0x0000ffff);
		ctx->user_ip6[3] = proxy_ip;
		ctx->user_port = bpf_htons((__u16)cfg->proxy_port);
	} else {
		ctx->user_ip6[0] = 0;
		ctx->user_ip6[1] = 0;
		ctx->user_ip6[2] = 0;
		ctx->user_ip6[3] = bpf_htonl(1);
		ctx->user_port = bpf_htons((__u16)port6);
	}
	count(slot, 1);
	return REDIRECT_DONE;
}

/* recvmsg4 and getpeername4: the proxy's address back to the server's. */
static __always_inline void restore_dns_peer4(struct bpf_sock_addr *ctx)
{
	struct agentd_dns_config *cfg = dns_config();
	struct agentd_sock_info *info;
	__u32 ip4;

	if (!ctx->sk || !is_proxy_address(ctx->user_ip4, (__u16)ctx->user_port, cfg))
		return;
	info = bpf_sk_storage_get(&agentd_socks, ctx->sk, 0, 0);
	if (!info || info->dns_family != AGENTD_FAMILY_IPV4)
		return;
	__builtin_memcpy(&ip4, info->dns_addr, sizeof(ip4));
	ctx->user_ip4 = ip4;
	ctx->user_port = info->dns_port;
}

/* Is the peer [::1]:<base + slot>, the port serving this socket's sandbox? */
static __always_inline int is_proxy6_of(struct bpf_sock_addr *ctx, const struct agentd_sock_info *info)
{
	__u32 base = dns6_port(0);

	return base && ctx->user_ip6[0] == 0 && ctx->user_ip6[1] == 0 && ctx->user_ip6[2] == 0 &&
	       ctx->user_ip6[3] == bpf_htonl(1) && bpf_ntohs((__u16)ctx->user_port) == base + info->slot;
}

/* recvmsg6 and getpeername6: ::ffff:127.64.x.y or [::1]:<base + slot>
 * back to the server's address. */
static __always_inline void restore_dns_peer6(struct bpf_sock_addr *ctx)
{
	struct agentd_dns_config *cfg = dns_config();
	struct agentd_sock_info *info;
	int mapped;
	__u32 w[4];

	if (!ctx->sk || !cfg || !cfg->enabled)
		return;
	mapped = ctx->user_ip6[0] == 0 && ctx->user_ip6[1] == 0 && ctx->user_ip6[2] == bpf_htonl(0x0000ffff) &&
		 is_proxy_address(ctx->user_ip6[3], (__u16)ctx->user_port, cfg);
	if (!mapped && (ctx->user_ip6[3] != bpf_htonl(1) || ctx->user_ip6[2] != 0))
		return; /* cheap: neither the proxy's mapped address nor ::1 */
	info = bpf_sk_storage_get(&agentd_socks, ctx->sk, 0, 0);
	if (!info || !info->dns_family || (!mapped && !is_proxy6_of(ctx, info)))
		return;
	if (info->dns_family == AGENTD_FAMILY_IPV4) {
		w[0] = 0;
		w[1] = 0;
		w[2] = bpf_htonl(0x0000ffff);
		__builtin_memcpy(&w[3], info->dns_addr, 4);
	} else {
		__builtin_memcpy(w, info->dns_addr, sizeof(w));
	}
	ctx->user_ip6[0] = w[0];
	ctx->user_ip6[1] = w[1];
	ctx->user_ip6[2] = w[2];
	ctx->user_ip6[3] = w[3];
	ctx->user_port = info->dns_port;
}

static __always_inline int is_ipv6_any(const __u8 *addr)
{
	__u32 w[4];

	__builtin_memcpy(w, addr, sizeof(w));
	return !(w[0] | w[1] | w[2] | w[3]);
}

/*
 * Binds a sandbox may not make: where the proxy listens (127.64.0.0/16 at
 * any port; the proxy port on any IPv4 address or on [::]; [::1] or [::]
 * at a port of the IPv6 range). A socket bound there could take queries
 * meant for the proxy (a more specific or reused bind wins delivery), or
 * keep agentd from listening again after a restart.
 */
static __always_inline int binds_proxy_address(const struct destination *dest)
{
	struct agentd_dns_config *cfg = dns_config();
	__u32 ip4, base;

	if (!cfg || !cfg->enabled)
		return 0;
	if (dest->family == AGENTD_FAMILY_IPV4) {
		__builtin_memcpy(&ip4, dest->addr, sizeof(ip4));
		return (bpf_ntohl(ip4) & AGENTD_DNS_MASK) == AGENTD_DNS_NET || dest->port == cfg->proxy_port;
	}
	if (dest->port == cfg->proxy_port && is_ipv6_any(dest->addr))
		return 1; /* a dual-stack wildcard holds the IPv4 port too */
	base = dns6_port(0);
	return base && dest->port > base && dest->port < base + AGENTD_MAX_SANDBOXES &&
	       (is_ipv6_loopback(dest->addr) || is_ipv6_any(dest->addr));
}

static __always_inline int judge_bind(struct bpf_sock_addr *ctx, __u8 hook, const struct destination *dest)
{
	__u32 slot;

	if (!ctx->sk)
		return VERDICT_ALLOW;
	if (binds_proxy_address(dest)) {
		slot = socket_slot(ctx->sk);
		return deny_egress(ctx, hook, slot, AGENTD_CLASS_EMPTY, AGENTD_REASON_PROXY_SPOOF, AGENTD_RANGE_NONE,
				   dest);
	}
	if (binds_foreign_source(ctx, dest)) {
		slot = socket_slot(ctx->sk);
		return deny_egress(ctx, hook, slot, AGENTD_CLASS_EMPTY, AGENTD_REASON_FOREIGN_SOURCE, AGENTD_RANGE_NONE,
				   dest);
	}
	return VERDICT_ALLOW;
}

#endif /* AGENTD_DNS_BPF_H */
