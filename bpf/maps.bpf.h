/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Every map of the kernel side, each pinned by name under agentd's bpffs
 * dir so that enforcement outlives the daemon and a new daemon adopts it.
 * Map names are at most 15 characters (BPF_OBJ_NAME_LEN).
 */
#ifndef AGENTD_MAPS_BPF_H
#define AGENTD_MAPS_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "agentd_abi.h"

/* (class, family, address prefix) -> flattened port ranges. One trie for
 * every class: a class is the set of rules some sandboxes share. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, AGENTD_MAX_RULES);
	__type(key, struct agentd_rule_key);
	__type(value, struct agentd_rule_value);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} agentd_rules SEC(".maps");

/* cgroup id -> sandbox slot. Looked up only when a socket is created. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, AGENTD_MAX_SANDBOXES);
	__type(key, __u64);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} agentd_cgroups SEC(".maps");

/* slot -> the class in force. An array: the verifier inlines its lookup,
 * and a reload switches a sandbox to a new class with one write. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, AGENTD_MAX_SANDBOXES);
	__type(key, __u32);
	__type(value, struct agentd_sandbox_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} agentd_state SEC(".maps");

/* slot -> allowed/denied counts, per CPU so the hot path never contends. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, AGENTD_MAX_SANDBOXES);
	__type(key, __u32);
	__type(value, struct agentd_counters);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} agentd_counts SEC(".maps");

/* enum agentd_stat -> count: what went wrong without a record to say so. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, AGENTD_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} agentd_stats SEC(".maps");

/* Denial records for the daemon. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, AGENTD_EVENT_RING_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} agentd_events SEC(".maps");

/* Per socket: the sandbox it was created in. The kernel runs the programs
 * of the socket's cgroup, not the caller's, so the verdict is keyed on
 * where the socket was made. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct agentd_sock_info);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} agentd_socks SEC(".maps");

/*
 * Per UDP socket: the peers its latest connect and latest send were judged
 * for, with the traffic class of each. A datagram counts under a class
 * only when its own peer is one of them: one socket can talk to several
 * peers, and a class kept per socket (as for TCP, whose connect is judged
 * and done under the socket lock) would let a sandbox count what it sends
 * to one peer under the class of another by sending a byte there first, or
 * by racing two threads. The lock keeps a peer and its class together.
 */
struct udp_peer {
	__u8 family; /* AGENTD_FAMILY_*, 0: none yet */
	__u8 traffic;
	__u16 port;  /* host order */
	__u8 addr[16];
};

struct udp_peers {
	struct bpf_spin_lock lock;
	struct udp_peer connected;
	struct udp_peer sent;
};
/* Addresses are compared word by word (same_udp_peer). */
_Static_assert(__builtin_offsetof(struct udp_peers, connected.addr) % 4 == 0, "udp peer address alignment");
_Static_assert(__builtin_offsetof(struct udp_peers, sent.addr) % 4 == 0, "udp peer address alignment");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct udp_peers);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} agentd_udppeer SEC(".maps");

/* Addresses learned through DNS, per sandbox: exact addresses in a hash,
 * looked up only when the class's rules say nothing. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, AGENTD_MAX_LEARNED);
	__type(key, struct agentd_learned_key);
	__type(value, struct agentd_learned_value);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} agentd_learned SEC(".maps");

/* Addresses an operator opened for a sandbox (agentctl watch / approvals
 * approve), with their expiry: consulted after the learned map, only when
 * the class's rules say nothing, so an explicit deny always wins. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, AGENTD_MAX_GRANTS);
	__type(key, struct agentd_learned_key);
	__type(value, struct agentd_learned_value);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} agentd_grants SEC(".maps");

/* Denial streams -> records emitted this second: an agent looping on a
 * denied connect fills the ring with one record per stream and second,
 * not one per attempt. LRU: a storm over many destinations evicts old
 * streams instead of failing. Not pinned: a restart may reset the windows. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, AGENTD_RATELIMIT_KEYS);
	__type(key, struct agentd_ratelimit_key);
	__type(value, struct agentd_ratelimit_value);
} agentd_ratelim SEC(".maps");

/* slot -> what became of the denials the stream limit let through:
 * recorded, held back by the sandbox's record budget, or dropped because
 * the ring was full. Per CPU, pinned, beside agentd_counts (kept apart so
 * that pins made by an older agentd are adopted unchanged). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, AGENTD_MAX_SANDBOXES);
	__type(key, __u32);
	__type(value, struct agentd_record_counts);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} agentd_records SEC(".maps");

/* slot -> its denial record budget (record_budget.bpf.h). Shared across
 * CPUs: the budget is the sandbox's, whichever CPU it runs on. Not
 * pinned: a restart refills every bucket. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, AGENTD_MAX_SANDBOXES);
	__type(key, __u32);
	__type(value, struct agentd_record_budget);
} agentd_budget SEC(".maps");

/* The DNS proxy's port, or nothing: no redirect. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct agentd_dns_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} agentd_dnscfg SEC(".maps");

/* IPv6 DNS: [0] the base port on ::1, [slot] the port serving that slot. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, AGENTD_MAX_SANDBOXES);
	__type(key, __u32);
	__type(value, struct agentd_dns6_port);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} agentd_dns6 SEC(".maps");

/* Where the proxy listens (agentd_dnsns_key); a query from any other
 * network namespace is refused, with a record that makes agentd serve it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, AGENTD_MAX_DNS_NETNS);
	__type(key, struct agentd_dnsns_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} agentd_dnsns SEC(".maps");

/* The host's own addresses (agentd_hostaddr_key), judged as loopback. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, AGENTD_MAX_HOST_ADDRS);
	__type(key, struct agentd_hostaddr_key);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} agentd_hostaddr SEC(".maps");

/* ---- name verification (name_check.bpf.h) ------------------------------ */

/* (scope, reversed name) -> the ports that name may reach: a class's host
 * patterns and operators' name grants (agentd_name_key). One longest-
 * prefix lookup per scope judges the name a connection's first bytes carry. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, AGENTD_MAX_RULES);
	__type(key, struct agentd_name_key);
	__type(value, struct agentd_learned_value);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} agentd_names SEC(".maps");

/* Per socket: a name-allowed TCP connection's verification, from connect
 * to the verdict on its first bytes. Apart from agentd_socks, whose pinned
 * layout older daemons share. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct agentd_name_sock);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} agentd_namesk SEC(".maps");

/* Sockets waiting for their first bytes' check, by cookie: the sk_msg
 * program runs on their sends only. Verified sockets leave (sockops), so
 * the rest of the connection runs without it. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, AGENTD_MAX_VERIFYING);
	__type(key, __u64);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} agentd_verifying SEC(".maps");

/* slot -> verified, refused, unverifiable connections (agentctl status). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, AGENTD_MAX_SANDBOXES);
	__type(key, __u32);
	__type(value, struct agentd_name_counts);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} agentd_namecnt SEC(".maps");

/* Bytes and packets per sandbox slot and traffic class (agentd_abi.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, AGENTD_MAX_SANDBOXES);
	__type(key, __u32);
	__type(value, struct agentd_traffic);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} agentd_traffic SEC(".maps");


#endif /* AGENTD_MAPS_BPF_H */
