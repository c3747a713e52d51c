/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The cgroup a socket was made in, as the kernel itself recorded it
 * (sk->sk_cgrp_data, set when the socket was allocated, copied to the
 * sockets a listener accepts, never changed after). It is the cgroup whose
 * programs the kernel runs for the socket, so it is the socket's sandbox
 * by construction: nothing per socket needs to be created or freed to
 * remember it (issue 15: a storage entry per socket cost ~600 ns at
 * socket() and more at close).
 *
 * Read through BTF: bpf_skc_to_tcp_sock and bpf_skc_to_udp6_sock give the
 * kernel's struct sock for TCP and IPv6 UDP sockets, and the field offsets
 * below are the running kernel's (CO-RE: libbpf relocates them at load, the
 * local names match the kernel's by the part before "___"). IPv4 UDP and
 * other sockets have no such cast on the kernels agentd supports (6.1);
 * they keep a storage entry (sandbox.bpf.h). The packet path has
 * bpf_sk_cgroup_id for every socket.
 */
#ifndef AGENTD_SOCKET_CGROUP_BPF_H
#define AGENTD_SOCKET_CGROUP_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct cgroup___agentd;

struct kernfs_node___agentd {
	__u64 id; /* the cgroup id bpf_get_current_cgroup_id reports */
} __attribute__((preserve_access_index));

struct cgroup_subsys_state___agentd {
	struct cgroup___agentd *cgroup;
	struct cgroup_subsys_state___agentd *parent;
} __attribute__((preserve_access_index));

struct cgroup___agentd {
	struct cgroup_subsys_state___agentd self;
	struct kernfs_node___agentd *kn;
} __attribute__((preserve_access_index));

struct sock_cgroup_data___agentd {
	struct cgroup___agentd *cgroup; /* the default hierarchy's (cgroup2) */
} __attribute__((preserve_access_index));

struct sock___agentd {
	struct sock_cgroup_data___agentd sk_cgrp_data;
} __attribute__((preserve_access_index));

/* The kernel's struct sock of a TCP or IPv6 UDP socket; 0 for others.
 * struct sock is the first member of tcp_sock and udp6_sock alike. */
static __always_inline struct sock___agentd *kernel_sock(struct bpf_sock *sk)
{
	/* The casts test this again; testing first spares IPv4 UDP two calls. */
	if (sk->protocol == 6 /* IPPROTO_TCP */)
		return (struct sock___agentd *)bpf_skc_to_tcp_sock(sk);
	if (sk->family == 10 /* AF_INET6 */ && sk->protocol == 17 /* IPPROTO_UDP */)
		return (struct sock___agentd *)bpf_skc_to_udp6_sock(sk);
	return 0;
}

/* The socket's cgroup (0 when unreadable: fail closed, no sandbox). */
static __always_inline struct cgroup___agentd *kernel_sock_cgroup(struct sock___agentd *ks)
{
	return ks->sk_cgrp_data.cgroup;
}

static __always_inline __u64 kernel_cgroup_id(struct cgroup___agentd *cgroup)
{
	return cgroup ? cgroup->kn->id : 0;
}

static __always_inline struct cgroup___agentd *kernel_cgroup_parent(struct cgroup___agentd *cgroup)
{
	struct cgroup_subsys_state___agentd *parent = cgroup->self.parent;

	return parent ? parent->cgroup : 0;
}

#endif /* AGENTD_SOCKET_CGROUP_BPF_H */
