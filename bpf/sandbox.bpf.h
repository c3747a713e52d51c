/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Which sandbox a task or socket belongs to. */
#ifndef AGENTD_SANDBOX_BPF_H
#define AGENTD_SANDBOX_BPF_H

#include "maps.bpf.h"
#include "socket_cgroup.bpf.h"
#include "socket_policy.h"

static __always_inline void bump_stat(__u32 stat)
{
	__u64 *value = bpf_map_lookup_elem(&agentd_stats, &stat);

	if (value)
		*value += 1;
}

/*
 * The sandbox of a cgroup: the cgroup itself when it is a sandbox, else the
 * shallowest ancestor that is one, so processes that make child cgroups
 * stay in their sandbox. Anything else under the root is slot 0: deny all.
 * The cgroup is the current task's, or `of_socket`, the socket's: on the
 * packet path, for a socket without storage (a connection accepted from a
 * sandbox's listener, a socket older than the programs), where no task is
 * at hand; the socket's cgroup is the one whose programs see the packet.
 * Always inlined with a literal `of_socket`, so each program calls only
 * the helpers its type has.
 */
static __always_inline __u32 classify_cgroup(struct bpf_sock *sk, const int of_socket)
{
	__u64 own = of_socket ? bpf_sk_cgroup_id(sk) : bpf_get_current_cgroup_id();
	__u32 *direct = bpf_map_lookup_elem(&agentd_cgroups, &own);
	int level;

	/* The common case, a process in its sandbox's own cgroup: one lookup. */
	if (direct)
		return *direct;
	for (level = 1; level <= AGENTD_MAX_CGROUP_DEPTH; level++) {
		__u64 id = of_socket ? bpf_sk_ancestor_cgroup_id(sk, level) : bpf_get_current_ancestor_cgroup_id(level);
		__u32 *slot;

		if (!id)
			break;
		slot = bpf_map_lookup_elem(&agentd_cgroups, &id);
		if (slot)
			return *slot;
	}
	return AGENTD_SLOT_UNKNOWN;
}

static __always_inline __u32 classify_current_task(void)
{
	return classify_cgroup(0, 0);
}

static __always_inline __u32 classify_socket_cgroup(struct bpf_sock *sk)
{
	return classify_cgroup(sk, 1);
}

/*
 * The sandbox of a cgroup read through BTF (socket_cgroup.bpf.h), by the
 * rule of classify_cgroup: the cgroup itself when it is a sandbox, else the
 * shallowest ancestor that is one. Walked upwards, so every ancestor is
 * looked at; only sockets outside a sandbox's own cgroup pay for it.
 */
static __always_inline __u32 classify_kernel_cgroup(struct cgroup___agentd *cgroup)
{
	__u64 id = kernel_cgroup_id(cgroup);
	__u32 *slot = bpf_map_lookup_elem(&agentd_cgroups, &id);
	__u32 found = AGENTD_SLOT_UNKNOWN;
	int level;

	if (slot)
		return *slot;
	for (level = 0; level < AGENTD_MAX_CGROUP_DEPTH; level++) {
		cgroup = kernel_cgroup_parent(cgroup);
		id = kernel_cgroup_id(cgroup);
		if (!id)
			return found; /* past the root: every ancestor was seen */
		slot = bpf_map_lookup_elem(&agentd_cgroups, &id);
		if (slot)
			found = *slot;
	}
	/* Deeper than the walk reaches: the shallowest ancestors were not
	 * seen, and one of them could be the sandbox that rules. */
	return AGENTD_SLOT_UNKNOWN;
}

/*
 * Sockets whose cgroup the sock_addr programs read from the kernel (TCP,
 * IPv6 UDP: what bpf_skc_to_tcp_sock and bpf_skc_to_udp6_sock accept). For
 * cgroup/sock_create, which has neither helper: the same test on the
 * socket's family, type and protocol.
 */
static __always_inline int kernel_knows_cgroup(__u32 family, __u32 type, __u32 protocol)
{
	return protocol == AGENTD_IPPROTO_TCP ||
	       (family == AGENTD_AF_INET6 && type == AGENTD_SOCK_DGRAM && protocol == AGENTD_IPPROTO_UDP);
}

/* The sandbox generation that holds the slot now. */
static __always_inline __u16 slot_generation(__u32 slot)
{
	struct agentd_sandbox_state *state = bpf_map_lookup_elem(&agentd_state, &slot);

	return state ? (__u16)(state->flags >> AGENTD_SANDBOX_GEN_SHIFT) : 0;
}

/* Remember at creation which sandbox a socket (IPv4 UDP and the rest, see
 * kernel_knows_cgroup) belongs to. */
static __always_inline __u32 remember_socket(struct bpf_sock *sk)
{
	__u32 slot = classify_current_task();
	struct agentd_sock_info *info;

	info = bpf_sk_storage_get(&agentd_socks, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (info) {
		info->slot = slot;
		info->generation = slot_generation(slot);
	}
	return slot;
}

/*
 * The slot a socket's storage names, while the sandbox it was made in
 * still holds it; a retired sandbox's socket belongs to no sandbox (slot
 * 0: everything denied), whoever holds the slot now. Sockets judged by
 * their cgroup follow what the cgroup maps to now: a retired sandbox's
 * cgroup leaves agentd_cgroups before its slot is given again, so its
 * sockets belong to none; should the same cgroup become a sandbox again
 * (an adopted cgroup adopted anew), its old sockets are that sandbox's,
 * as its processes are.
 */
static __always_inline __u32 remembered_slot(const struct agentd_sock_info *info)
{
	__u32 slot = info->slot;

	if (info->generation != slot_generation(slot))
		return AGENTD_SLOT_UNKNOWN;
	return slot;
}

/*
 * The sandbox of a socket, in the sock_addr and sk_msg programs: from the
 * cgroup the kernel recorded when it was made (TCP, IPv6 UDP); else from
 * its storage; a socket created before the programs were attached has
 * none, so it is judged by the task using it (counted, so it shows) and
 * remembered from then on.
 */
static __always_inline __u32 socket_slot(struct bpf_sock *sk)
{
	struct sock___agentd *ks = kernel_sock(sk);
	struct agentd_sock_info *info;

	if (ks)
		return classify_kernel_cgroup(kernel_sock_cgroup(ks));
	info = bpf_sk_storage_get(&agentd_socks, sk, 0, 0);
	if (info)
		return remembered_slot(info);
	bump_stat(AGENTD_STAT_UNCLASSIFIED);
	return remember_socket(sk);
}

/* The same for a socket that is known to be TCP (sk_msg): no fallback. */
static __always_inline __u32 tcp_socket_slot(struct bpf_sock *sk)
{
	struct sock___agentd *ks = kernel_sock(sk);

	return ks ? classify_kernel_cgroup(kernel_sock_cgroup(ks)) : AGENTD_SLOT_UNKNOWN;
}

/*
 * The sandbox a refused socket option is recorded for: cgroup/setsockopt
 * has no BTF casts, so the storage where there is one, else the sandbox
 * of the task asking (the option is refused whoever made the socket).
 */
static __always_inline __u32 option_slot(struct bpf_sock *sk)
{
	struct agentd_sock_info *info = bpf_sk_storage_get(&agentd_socks, sk, 0, 0);

	return info ? remembered_slot(info) : classify_current_task();
}

#endif /* AGENTD_SANDBOX_BPF_H */
