/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The egress decision and the denial record, shared by every hook. */
#ifndef AGENTD_EGRESS_BPF_H
#define AGENTD_EGRESS_BPF_H

#include <linux/in.h>
#include <bpf/bpf_endian.h>

#include "ratelimit.bpf.h"
#include "record_budget.bpf.h"
#include "sandbox.bpf.h"
#include "verdict.h"

/* name_check.bpf.h: what a name-allowed connection must show. */
struct destination;
static __always_inline int expect_name(struct bpf_sock *sk, __u32 slot, const struct destination *dest, __u8 verify,
				       __u8 range_index, __u8 *reason);
static __always_inline void expect_no_name(struct bpf_sock *sk, const struct destination *dest);

/* Verdicts the verifier accepts from cgroup programs: exactly 0 or 1. */
#define VERDICT_DENY 0
#define VERDICT_ALLOW 1

#define SOCK_STREAM_TYPE 1
#define SOCK_DGRAM_TYPE 2

/* Wake the daemon only when the ring fills up; it also drains on a timer.
 * Waking it for every record made each denial cost several microseconds. */
#define WAKEUP_THRESHOLD (AGENTD_EVENT_RING_BYTES / 4)

/* A destination, family-normalised: IPv4-mapped IPv6 is IPv4. */
struct destination {
	__u32 family; /* AGENTD_FAMILY_* */
	__u8 addr[16];
	__u16 port;   /* host order */
	__u8 proto_bit;
	__u8 protocol;
};

static __always_inline void count(__u32 slot, int allowed)
{
	struct agentd_counters *c = bpf_map_lookup_elem(&agentd_counts, &slot);

	if (!c)
		return;
	if (allowed)
		c->allowed += 1;
	else
		c->denied += 1;
}

/* Whether this denial gets a record: rate-limited per stream and then per
 * sandbox (record_budget.bpf.h); what the limits hold back is counted per
 * sandbox, never silent. */
static __always_inline int record_admitted(__u32 slot, __u8 hook, const struct destination *dest, __u64 now,
					   struct agentd_ratelimit_value **stream, struct agentd_record_budget **budget)
{
	int fresh;

	if (!denial_record_due(slot, dest->family, dest->addr, dest->port, dest->protocol, hook, now, stream, &fresh))
		return 0;
	*budget = bpf_map_lookup_elem(&agentd_budget, &slot);
	if (!record_budget_take(*budget, now)) {
		record_budget_hold(*budget, slot);
		return 0;
	}
	if (fresh)
		remember_stream(slot, dest->family, dest->addr, dest->port, dest->protocol, hook, now);
	return 1;
}

/* A full ring: only when many sandboxes spend their budgets at once;
 * counted for this sandbox, and globally as before. */
static __always_inline void record_lost(__u32 slot)
{
	count_record(slot, RECORD_DROPPED);
	bump_stat(AGENTD_STAT_EVENTS_DROPPED);
}

/* from_task: the record names the calling process. The packet wall runs
 * where no task is meaningful (softirq, retransmits) and leaves it out. */
#define FROM_TASK_IDS 2 /* from_task: the task's ids, but not its comm */

static __always_inline void fill_record(struct agentd_deny_event *e, __u32 slot, __u32 class_id, __u8 hook,
					__u8 reason, __u8 range_index, __u8 sock_family, __u32 sock_type,
					const struct destination *dest, __u32 option, const int from_task, __u64 now,
					struct agentd_ratelimit_value *stream, struct agentd_record_budget *budget)
{
	if (from_task) {
		__u64 pid_tgid = bpf_get_current_pid_tgid();
		__u64 uid_gid = bpf_get_current_uid_gid();

		e->cgroup_id = bpf_get_current_cgroup_id();
		e->pid = (__u32)pid_tgid;
		e->tgid = pid_tgid >> 32;
		e->uid = (__u32)uid_gid;
		e->gid = uid_gid >> 32;
		/* FROM_TASK_IDS: the caller fills comm (sk_msg may not ask
		 * for it on 6.1); the constant removes the call. */
		if (from_task == FROM_TASK_IDS)
			__builtin_memset(e->comm, 0, sizeof(e->comm));
		else
			bpf_get_current_comm(e->comm, sizeof(e->comm));
	} else {
		e->cgroup_id = 0;
		e->pid = 0;
		e->tgid = 0;
		e->uid = 0;
		e->gid = 0;
		__builtin_memset(e->comm, 0, sizeof(e->comm));
	}
	e->timestamp_ns = now;
	e->slot = slot;
	e->class_id = class_id;
	__builtin_memcpy(e->addr, dest->addr, sizeof(e->addr));
	e->addr_family = dest->family;
	e->port = dest->port;
	e->family = sock_family;
	e->protocol = dest->protocol;
	e->hook = hook;
	e->reason = reason;
	e->range_index = range_index;
	e->_pad1 = 0;
	e->sock_type = sock_type;
	e->suppressed = take_suppressed(stream);
	e->option = option;
	e->held_before = record_budget_take_held(budget);
	e->_pad2 = 0;
	count_record(slot, RECORD_WRITTEN);
}

static __always_inline void submit_record(void *record)
{
	__u64 flags = bpf_ringbuf_query(&agentd_events, BPF_RB_AVAIL_DATA) > WAKEUP_THRESHOLD
			      ? BPF_RB_FORCE_WAKEUP
			      : BPF_RB_NO_WAKEUP;

	bpf_ringbuf_submit(record, flags);
}

/* One record per denial, within the limits (record_admitted). */
static __always_inline void emit_record(__u32 slot, __u32 class_id, __u8 hook, __u8 reason, __u8 range_index,
					__u8 sock_family, __u32 sock_type, const struct destination *dest,
					__u32 option, const int from_task)
{
	struct agentd_ratelimit_value *stream = 0;
	struct agentd_record_budget *budget = 0;
	struct agentd_deny_event *e;
	__u64 now = bpf_ktime_get_ns();

	if (!record_admitted(slot, hook, dest, now, &stream, &budget))
		return;
	e = bpf_ringbuf_reserve(&agentd_events, sizeof(*e), 0);
	if (!e) {
		record_lost(slot);
		return;
	}
	fill_record(e, slot, class_id, hook, reason, range_index, sock_family, sock_type, dest, option, from_task, now,
		    stream, budget);
	submit_record(e);
}

static __always_inline void emit_denial(__u32 slot, __u32 class_id, __u8 hook, __u8 reason,
					__u8 range_index, __u8 sock_family, __u32 sock_type,
					const struct destination *dest)
{
	emit_record(slot, class_id, hook, reason, range_index, sock_family, sock_type, dest, 0, 1);
}

/* Or'ed into a learned verdict's verify (never stored): the range that
 * allowed the address names UDP alone, so QUIC to it was asked for. */
#define VERIFY_UDP_NAMED 0x80

/*
 * agentd_judge as a global function: the verifier checks it once, on its
 * own, instead of walking its sixteen ranges again at every call site with
 * every state the caller brings (it is called for rules, learned names,
 * grants and inbound rules on each hook). Returns action | index << 8.
 */
__attribute__((noinline)) int agentd_judge_once(const struct agentd_rule_value *value, __u32 port, __u32 proto_bit)
{
	struct agentd_verdict v;

	if (!value)
		return AGENTD_RANGE_NONE << 8;
	v = agentd_judge(value, (__u16)port, (__u8)proto_bit);
	return v.action | v.index << 8;
}

static __always_inline struct agentd_verdict judge_value(const struct agentd_rule_value *value, __u16 port,
							 __u8 proto_bit)
{
	int packed = agentd_judge_once(value, port, proto_bit);
	struct agentd_verdict v = { (__u8)packed, (__u8)(packed >> 8) };

	return v;
}

/* Addresses learned through DNS for this sandbox: consulted only when the
 * class's rules say nothing. An expired entry denies, and says why.
 * *verify: what the range that allowed it asks of the connection. */
static __always_inline int judge_learned(__u32 slot, const struct destination *dest, struct agentd_verdict *verdict,
					 __u8 *reason, __u8 *verify)
{
	struct agentd_learned_key key = {};
	struct agentd_learned_value *learned;

	key.slot = slot;
	key.family = dest->family;
	__builtin_memcpy(key.addr, dest->addr, sizeof(key.addr));
	learned = bpf_map_lookup_elem(&agentd_learned, &key);
	if (!learned)
		return 0;
	if (learned->expires_ns <= bpf_ktime_get_ns()) {
		*reason = AGENTD_REASON_DNS_EXPIRED;
		return 0;
	}
	*verdict = judge_value(&learned->rules, dest->port, dest->proto_bit);
	if (verdict->action != AGENTD_ACTION_ALLOW && verdict->action != AGENTD_ACTION_INFERENCE)
		return 0;
	if (verdict->index < AGENTD_MAX_PORT_RANGES) {
		/* Masked in the instruction stream as well: the compiler folds
		 * the check above into a test on another register, which the
		 * verifier does not connect to the index. */
		__u32 index = verdict->index;
		const struct agentd_port_range *r;

		asm volatile("%0 &= 15" : "+r"(index));
		_Static_assert(AGENTD_MAX_PORT_RANGES == 16, "the mask above");
		r = &learned->rules.ranges[index];

		*verify = r->verify | (r->proto_mask == AGENTD_PROTO_UDP ? VERIFY_UDP_NAMED : 0);
	}
	return 1;
}

/* What an operator granted this sandbox: consulted last, on the deny path
 * only, never after an explicit deny. An expired grant is a plain deny.
 * key_family carries AGENTD_FAMILY_INBOUND for a grant that lets a peer
 * in (then port is the sandbox's own). */
static __always_inline int judge_granted(__u32 slot, __u32 key_family, const __u8 *addr, __u16 port, __u8 proto_bit)
{
	struct agentd_learned_key key = {};
	struct agentd_learned_value *grant;
	struct agentd_verdict verdict;

	key.slot = slot;
	key.family = key_family;
	__builtin_memcpy(key.addr, addr, sizeof(key.addr));
	grant = bpf_map_lookup_elem(&agentd_grants, &key);
	if (!grant || grant->expires_ns <= bpf_ktime_get_ns())
		return 0;
	verdict = judge_value(&grant->rules, port, proto_bit);
	return verdict.action == AGENTD_ACTION_ALLOW;
}

/*
 * A denial's count and record: a global function, so the verifier checks
 * it once, on its own, instead of once for every path that denies (each
 * hook has many, and the record's limits branch a lot). At most five
 * arguments: hook, reason and range index travel packed.
 */
__noinline int record_egress_denial(struct bpf_sock_addr *ctx, __u32 packed, __u32 slot, __u32 class_id,
				    const struct destination *dest)
{
	if (!ctx || !dest)
		return 0;
	count(slot, 0);
	emit_denial(slot, class_id, packed & 0xff, (packed >> 8) & 0xff, (packed >> 16) & 0xff, (__u8)ctx->family,
		    ctx->type, dest);
	return 0;
}

/* Whether bpf_set_retval may be called from these programs (probed by
 * agentd: a constant, so where it is false the verifier never sees the
 * call). */
const volatile __u8 agentd_can_set_retval = 0;

#define ECONNREFUSED_NUM 111

/*
 * A denied connect or send fails with EPERM, unless the sandbox's tenant
 * asked for ECONNREFUSED (refuse_with), which clients that retry EPERM
 * (wget) take as final at once.
 */
static __always_inline void refuse_as_asked(__u32 slot)
{
	struct agentd_sandbox_state *state;

	if (!agentd_can_set_retval)
		return;
	state = bpf_map_lookup_elem(&agentd_state, &slot);
	if (state && (state->flags & AGENTD_SANDBOX_ACTIVE) && (state->flags & AGENTD_SANDBOX_REFUSE_CONNREFUSED))
		bpf_set_retval(-ECONNREFUSED_NUM);
}

static __always_inline int deny_egress(struct bpf_sock_addr *ctx, __u8 hook, __u32 slot, __u32 class_id,
				       __u8 reason, __u8 range_index, const struct destination *dest)
{
	record_egress_denial(ctx, (__u32)hook | ((__u32)reason << 8) | ((__u32)range_index << 16), slot, class_id,
			     dest);
	refuse_as_asked(slot);
	return VERDICT_DENY;
}

#define PROXY_NOT 0   /* not the DNS proxy */
#define PROXY_OWN 1   /* the proxy's address of this very sandbox */
#define PROXY_OTHER 2 /* another sandbox's proxy address */

/* The port on ::1 that serves IPv6 DNS for `index` (0: the base), or 0. */
static __always_inline __u32 dns6_port(__u32 index)
{
	struct agentd_dns6_port *entry = bpf_map_lookup_elem(&agentd_dns6, &index);

	return entry ? entry->port : 0;
}

static __always_inline int is_ipv6_loopback(const __u8 *addr)
{
	__u32 w[4];

	__builtin_memcpy(w, addr, sizeof(w));
	return w[0] == 0 && w[1] == 0 && w[2] == 0 && w[3] == bpf_htonl(1);
}

/*
 * The proxy's per-sandbox addresses: 127.64.<slot>:<port>, and for IPv6
 * [::1]:<base + slot>. A sandbox may reach its own (a socket connected
 * through the redirect sends to it; a v4-mapped IPv6 socket's sends pass
 * sendmsg4 with it), never another's, which would let it ask in another
 * sandbox's name.
 */
static __always_inline int aims_at_proxy(const struct destination *dest, __u32 slot)
{
	__u32 zero = 0, ip4, host, base, w[4];
	struct agentd_dns_config *cfg = bpf_map_lookup_elem(&agentd_dnscfg, &zero);

	if (!cfg || !cfg->enabled)
		return PROXY_NOT;
	if (dest->family == AGENTD_FAMILY_IPV6) {
		base = dns6_port(0);
		/* [::] is loopback here: the kernel delivers a connect or a
		 * send to the unspecified address to [::1], so [::]:<port of
		 * another sandbox> would ask in that sandbox's name. */
		__builtin_memcpy(w, dest->addr, sizeof(w));
		if (!base || (w[0] | w[1] | w[2]) || (w[3] != 0 && w[3] != bpf_htonl(1)) || dest->port <= base ||
		    dest->port >= base + AGENTD_MAX_SANDBOXES)
			return PROXY_NOT;
		if (dest->port == base + slot)
			return dns6_port(slot) ? PROXY_OWN : PROXY_NOT;
		/* Another sandbox's port only while it is served: the rest of
		 * the range stays open to what the policy allows on ::1. */
		return dns6_port(dest->port - base) ? PROXY_OTHER : PROXY_NOT;
	}
	if (dest->port != cfg->proxy_port)
		return PROXY_NOT;
	__builtin_memcpy(&ip4, dest->addr, sizeof(ip4));
	host = bpf_ntohl(ip4);
	/* 0.0.0.0 (also as ::ffff:0.0.0.0, normalised to IPv4) reaches the
	 * proxy's wildcard socket from loopback: never this sandbox's own
	 * address, so it is another's. */
	if (host == 0)
		return PROXY_OTHER;
	if ((host & AGENTD_DNS_MASK) != AGENTD_DNS_NET)
		return PROXY_NOT;
	return (host & ~AGENTD_DNS_MASK) == slot ? PROXY_OWN : PROXY_OTHER;
}

/* One longest-prefix lookup in the class's rules (key_family carries
 * AGENTD_FAMILY_INBOUND for inbound rules), then the port ranges. */
static __always_inline struct agentd_verdict judge_rules(__u32 class_id, __u32 key_family, const __u8 *addr,
							 __u16 port, __u8 proto_bit)
{
	struct agentd_rule_key key = {};
	struct agentd_verdict none = { 0, AGENTD_RANGE_NONE };
	struct agentd_rule_value *value;

	if (class_id == AGENTD_CLASS_EMPTY)
		return none;
	key.prefixlen = AGENTD_KEY_FIXED_BITS + ((key_family & ~AGENTD_FAMILY_INBOUND) == AGENTD_FAMILY_IPV4 ? 32 : 128);
	key.class_id = class_id;
	key.family = key_family;
	__builtin_memcpy(key.addr, addr, sizeof(key.addr));
	value = bpf_map_lookup_elem(&agentd_rules, &key);
	return value ? judge_value(value, port, proto_bit) : none;
}

/*
 * Whether the sandbox may send to dest: the class's rules, then what DNS
 * taught, then what an operator granted. On a denial *reason says why
 * (an explicit deny: AGENTD_REASON_DENY_RULE) and *verdict which range.
 * *verify: AGENTD_VERIFY_OFF unless only a name allowed it (a learned
 * address), then what that name's rule asks of the connection.
 */
/*
 * Whether dest is one of the host's own addresses in the socket's network
 * namespace (agentd_hostaddr): a connection there loops back to whatever
 * listens on the host, however wide a CIDR rule covers it.
 */
static __always_inline int is_host_address(void *ctx, const struct destination *dest)
{
	struct agentd_hostaddr_key key = {};

	key.netns_cookie = bpf_get_netns_cookie(ctx);
	key.family = dest->family;
	__builtin_memcpy(key.addr, dest->addr, sizeof(key.addr));
	return bpf_map_lookup_elem(&agentd_hostaddr, &key) != 0;
}

/*
 * A bind to an address the host does not own, in a network namespace whose
 * addresses agentd lists (the entry with family 0 says so): the kernel
 * refuses that itself unless ip_nonlocal_bind is on, and then a sandbox
 * could claim a forbidden host's address as its source and have an allowed
 * service answer (or reflect) there. Loopback, multicast (a group to
 * receive) and the unspecified addresses are not claims.
 */
static __always_inline int binds_foreign_source(void *ctx, const struct destination *dest)
{
	struct agentd_hostaddr_key key = {};

	if (dest->family == AGENTD_FAMILY_IPV4 && (dest->addr[0] == 127 || (dest->addr[0] & 0xf0) == 0xe0))
		return 0;
	if (dest->family == AGENTD_FAMILY_IPV6 && (is_ipv6_loopback(dest->addr) || dest->addr[0] == 0xff))
		return 0;
	key.netns_cookie = bpf_get_netns_cookie(ctx);
	if (!bpf_map_lookup_elem(&agentd_hostaddr, &key))
		return 0;
	return !is_host_address(ctx, dest);
}

/* The traffic class of what allowed it (enum agentd_traffic_class). */
static __always_inline __u8 traffic_of(const struct agentd_verdict *verdict, __u8 otherwise)
{
	return verdict->action == AGENTD_ACTION_INFERENCE ? AGENTD_TRAFFIC_INFERENCE : otherwise;
}

/*
 * The host's own address is judged as loopback: the rules for 127.0.0.1 or
 * ::1 on that port, or an operator's grant of that exact address. Never a
 * CIDR that happens to cover the host, nor what DNS taught (agentd never
 * learns the host's addresses).
 */
static __always_inline int host_address_allowed(__u32 slot, __u32 class_id, const struct destination *dest,
						struct agentd_verdict *verdict, __u8 *reason, __u8 *traffic)
{
	__u8 loopback[16] = {};

	if (dest->family == AGENTD_FAMILY_IPV4) {
		loopback[0] = 127;
		loopback[3] = 1;
	} else {
		loopback[15] = 1;
	}
	*verdict = judge_rules(class_id, dest->family, loopback, dest->port, dest->proto_bit);
	if (verdict->action == AGENTD_ACTION_ALLOW || verdict->action == AGENTD_ACTION_INFERENCE) {
		*traffic = traffic_of(verdict, AGENTD_TRAFFIC_RULE);
		return 1;
	}
	if (verdict->action == AGENTD_ACTION_DENY) {
		*reason = AGENTD_REASON_DENY_RULE;
		return 0;
	}
	*reason = AGENTD_REASON_HOST_ADDRESS;
	*traffic = AGENTD_TRAFFIC_OTHER;
	return judge_granted(slot, dest->family, dest->addr, dest->port, dest->proto_bit);
}

static __always_inline int egress_allowed(__u32 slot, __u32 class_id, const struct destination *dest,
					  struct agentd_verdict *verdict, __u8 *reason, __u8 *verify, __u8 *traffic)
{
	*verdict = judge_rules(class_id, dest->family, dest->addr, dest->port, dest->proto_bit);
	if (verdict->action == AGENTD_ACTION_ALLOW || verdict->action == AGENTD_ACTION_INFERENCE) {
		*traffic = traffic_of(verdict, AGENTD_TRAFFIC_RULE);
		return 1;
	}
	if (verdict->action == AGENTD_ACTION_DENY) {
		*reason = AGENTD_REASON_DENY_RULE;
		return 0;
	}
	if (judge_learned(slot, dest, verdict, reason, verify)) {
		*traffic = traffic_of(verdict, AGENTD_TRAFFIC_NAME);
		return 1;
	}
	*traffic = AGENTD_TRAFFIC_OTHER;
	return judge_granted(slot, dest->family, dest->addr, dest->port, dest->proto_bit);
}

static __always_inline int same_udp_peer(const struct udp_peer *noted, const struct destination *peer)
{
	/* Word by word: both addresses are 4-byte aligned, and BPF has no memcmp. */
	const __u32 *a = (const __u32 *)noted->addr, *b = (const __u32 *)peer->addr;

	return noted->family == peer->family && noted->port == peer->port && a[0] == b[0] && a[1] == b[1] &&
	       a[2] == b[2] && a[3] == b[3];
}

/* A UDP socket's peer and what allowed it (agentd_udppeer). */
static __always_inline void note_udp_peer(struct bpf_sock *sk, __u8 hook, const struct destination *dest,
					  __u8 traffic)
{
	struct udp_peers *peers = bpf_sk_storage_get(&agentd_udppeer, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	struct udp_peer *peer;

	if (!peers)
		return;
	peer = hook == AGENTD_HOOK_CONNECT4 || hook == AGENTD_HOOK_CONNECT6 ? &peers->connected : &peers->sent;
	/* A socket sending to one peer again (the common case) writes nothing
	 * and takes no lock. Read unlocked: should another thread's send be
	 * changing the entry meanwhile, the datagram's peer is checked again,
	 * under the lock, on the packet path; at worst it counts as other. */
	if (same_udp_peer(peer, dest) && peer->traffic == traffic)
		return;
	bpf_spin_lock(&peers->lock);
	peer->family = (__u8)dest->family;
	peer->traffic = traffic;
	peer->port = dest->port;
	__builtin_memcpy(peer->addr, dest->addr, sizeof(peer->addr));
	bpf_spin_unlock(&peers->lock);
}

/*
 * What allowed the socket's connect or send: the class its bytes count
 * under (packet_path.bpf.h): the peer's for UDP (agentd_udppeer); for TCP
 * the connection's, in the socket's storage, made here only for the
 * connections that count under a class of their own (none is other).
 */
static __always_inline void note_traffic(struct bpf_sock *sk, __u32 slot, __u8 hook, const struct destination *dest,
					 __u8 traffic)
{
	struct agentd_sock_info *info;

	if (dest->proto_bit == AGENTD_PROTO_UDP) {
		note_udp_peer(sk, hook, dest, traffic);
		return;
	}
	info = bpf_sk_storage_get(&agentd_socks, sk, 0,
				  traffic == AGENTD_TRAFFIC_OTHER ? 0 : BPF_SK_STORAGE_GET_F_CREATE);
	if (!info)
		return;
	info->traffic = traffic;
	/* The entry names the socket's sandbox too, as one made at socket()
	 * would (what cgroup/setsockopt reads: option_slot). */
	info->slot = slot;
	info->generation = slot_generation(slot);
}

/*
 * A UDP server's answer: from a port that an `inbound:` rule opens to this
 * peer, back to that peer (TCP answers travel on the accepted socket,
 * which no hook judges). Never over an explicit egress deny.
 */
static __always_inline int answers_inbound_peer(struct bpf_sock *sk, __u32 class_id, const struct destination *dest,
						__u8 reason)
{
	struct agentd_verdict verdict;
	__u32 local_port = sk->src_port;

	if (reason == AGENTD_REASON_DENY_RULE || dest->proto_bit != AGENTD_PROTO_UDP || !local_port)
		return 0;
	verdict = judge_rules(class_id, dest->family | AGENTD_FAMILY_INBOUND, dest->addr, (__u16)local_port,
			      AGENTD_PROTO_UDP);
	return verdict.action == AGENTD_ACTION_ALLOW;
}

/*
 * The egress decision for one socket operation: the socket's sandbox, its
 * class, one longest-prefix lookup, the port ranges; then what DNS taught.
 * Default deny.
 */
static __always_inline int judge_egress(struct bpf_sock_addr *ctx, __u8 hook,
					const struct destination *dest)
{
	struct agentd_sandbox_state *state;
	struct agentd_verdict verdict = { 0, AGENTD_RANGE_NONE };
	__u8 reason = AGENTD_REASON_NO_RULE, verify = AGENTD_VERIFY_OFF, traffic = AGENTD_TRAFFIC_OTHER;
	__u32 slot, class_id = AGENTD_CLASS_EMPTY;
	struct bpf_sock *sk = ctx->sk;

	if (!sk)
		return VERDICT_DENY;
	slot = socket_slot(sk);
	if (slot == AGENTD_SLOT_UNKNOWN)
		return deny_egress(ctx, hook, slot, class_id, AGENTD_REASON_UNKNOWN_CGROUP, AGENTD_RANGE_NONE, dest);
	state = bpf_map_lookup_elem(&agentd_state, &slot);
	if (!state || !(state->flags & AGENTD_SANDBOX_ACTIVE))
		return deny_egress(ctx, hook, slot, class_id, AGENTD_REASON_UNKNOWN_CGROUP, AGENTD_RANGE_NONE, dest);
	class_id = state->class_id;
	if (!dest->proto_bit)
		goto deny;
	switch (aims_at_proxy(dest, slot)) {
	case PROXY_OWN:
		note_traffic(sk, slot, hook, dest, AGENTD_TRAFFIC_OTHER);
		count(slot, 1);
		return VERDICT_ALLOW;
	case PROXY_OTHER:
		return deny_egress(ctx, hook, slot, class_id, AGENTD_REASON_PROXY_SPOOF, AGENTD_RANGE_NONE, dest);
	}
	if (is_host_address(ctx, dest) ? host_address_allowed(slot, class_id, dest, &verdict, &reason, &traffic)
				       : egress_allowed(slot, class_id, dest, &verdict, &reason, &verify, &traffic)) {
		/* Allowed only by a name: the connection must show it (name_check.bpf.h). */
		if (verify == AGENTD_VERIFY_OFF)
			expect_no_name(sk, dest);
		else if (!expect_name(sk, slot, dest, verify, verdict.index, &reason))
			goto deny;
		note_traffic(sk, slot, hook, dest, traffic);
		count(slot, 1);
		return VERDICT_ALLOW;
	}
	if (answers_inbound_peer(sk, class_id, dest, reason)) {
		note_traffic(sk, slot, hook, dest, AGENTD_TRAFFIC_OTHER);
		count(slot, 1);
		return VERDICT_ALLOW;
	}
deny:
	return deny_egress(ctx, hook, slot, class_id, reason, verdict.index, dest);
}

/* TCP for stream sockets, UDP for datagram sockets, nothing else. */
static __always_inline void set_protocol(struct bpf_sock_addr *ctx, struct destination *dest)
{
	__u32 type = ctx->type;

	if (type == SOCK_STREAM_TYPE) {
		dest->proto_bit = AGENTD_PROTO_TCP;
		dest->protocol = IPPROTO_TCP;
	} else if (type == SOCK_DGRAM_TYPE) {
		dest->proto_bit = AGENTD_PROTO_UDP;
		dest->protocol = IPPROTO_UDP;
	} else {
		dest->proto_bit = 0; /* refused: no rule speaks for it */
		dest->protocol = (__u8)ctx->protocol;
	}
}

static __always_inline void dest_from_ipv4(struct bpf_sock_addr *ctx, struct destination *dest)
{
	__u32 ip4 = ctx->user_ip4;

	dest->family = AGENTD_FAMILY_IPV4;
	__builtin_memcpy(dest->addr, &ip4, sizeof(ip4));
	dest->port = bpf_ntohs((__u16)ctx->user_port);
	set_protocol(ctx, dest);
}

/* IPv4-mapped IPv6 (::ffff:a.b.c.d) is judged as the IPv4 address. */
static __always_inline void dest_from_ipv6(struct bpf_sock_addr *ctx, struct destination *dest)
{
	__u32 w0 = ctx->user_ip6[0], w1 = ctx->user_ip6[1];
	__u32 w2 = ctx->user_ip6[2], w3 = ctx->user_ip6[3];

	if (w0 == 0 && w1 == 0 && w2 == bpf_htonl(0x0000ffff)) {
		dest->family = AGENTD_FAMILY_IPV4;
		__builtin_memcpy(dest->addr, &w3, sizeof(w3));
	} else {
		dest->family = AGENTD_FAMILY_IPV6;
		__builtin_memcpy(dest->addr, &w0, 4);
		__builtin_memcpy(dest->addr + 4, &w1, 4);
		__builtin_memcpy(dest->addr + 8, &w2, 4);
		__builtin_memcpy(dest->addr + 12, &w3, 4);
	}
	dest->port = bpf_ntohs((__u16)ctx->user_port);
	set_protocol(ctx, dest);
}

#endif /* AGENTD_EGRESS_BPF_H */
