/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Names, not addresses. A TCP connection that only a host rule or a name
 * grant allowed (its address was learned through DNS) must carry an
 * allowed name on its first bytes: a TLS ClientHello's SNI, an HTTP
 * request's Host. Otherwise "allow api.example.com" would open every site
 * that shares its CDN address.
 *
 *  connect      marks the socket PENDING (expect_name, from judge_egress);
 *  sockops      puts a PENDING socket into agentd_verifying when it is
 *               established, and takes it out again once VERIFIED (sk_msg
 *               may not delete from a sockhash), so a verified connection
 *               runs at full speed and only waiting ones pay;
 *  sk_msg       parses the first message (first_bytes.h), corks what is
 *               not whole yet, judges the name in agentd_names: VERIFIED
 *               and on, or REFUSED: the send fails (EACCES) now and later;
 *  packet wall  drops TCP payload of a socket still PENDING or REFUSED:
 *               what never passed sk_msg (TCP fast open data in the SYN,
 *               a send that was waiting for the handshake).
 */
#ifndef AGENTD_NAME_CHECK_BPF_H
#define AGENTD_NAME_CHECK_BPF_H

#include "egress.bpf.h"

#define FB_MSG struct sk_msg_md
#define fb_pull(msg, n) bpf_msg_pull_data(msg, 0, n, 0)
#define fb_cork(msg, n) bpf_msg_cork_bytes(msg, n)
#define fb_loop(n, cb, ctx) bpf_loop(n, cb, ctx, 0)
#include "first_bytes.h"

#define QUIC_PORT 443
#define AF_INET_NUM 2
#define AF_INET6_NUM 10

/* Per-CPU scratch: the name key is too big for the stack beside a record. */
struct name_scratch {
	struct agentd_name_key key;
	struct fb_scan scan;
	__u32 name_off, name_len; /* where the first bytes carry the name */
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct name_scratch);
} agentd_namescr SEC(".maps");

#define NAME_VERIFIED 0
#define NAME_REFUSED 1
#define NAME_UNVERIFIABLE 2

static __always_inline void count_name(__u32 slot, int what)
{
	struct agentd_name_counts *c = bpf_map_lookup_elem(&agentd_namecnt, &slot);

	if (!c)
		return;
	if (what == NAME_VERIFIED)
		c->verified += 1;
	else if (what == NAME_REFUSED)
		c->refused += 1;
	else
		c->unverifiable += 1;
}

/*
 * At connect, for a destination only a name allowed. UDP: port 443 is
 * QUIC, whose name is encrypted: refused unless the rule named UDP, so
 * clients fall back to TCP where the name shows. TCP: the socket is
 * marked; without storage it could not be checked, so it is refused.
 */
static __always_inline int expect_name(struct bpf_sock *sk, __u32 slot, const struct destination *dest, __u8 verify,
				       __u8 range_index, __u8 *reason)
{
	struct agentd_name_sock *s;

	if (dest->proto_bit == AGENTD_PROTO_UDP) {
		if (dest->port == QUIC_PORT && !(verify & VERIFY_UDP_NAMED)) {
			*reason = AGENTD_REASON_QUIC;
			return 0;
		}
		return 1;
	}
	if (dest->proto_bit != AGENTD_PROTO_TCP)
		return 1;
	s = bpf_sk_storage_get(&agentd_namesk, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!s) {
		*reason = AGENTD_REASON_UNVERIFIED_DATA;
		return 0;
	}
	/* A refused socket stays refused, whatever it connects to next. */
	if (s->state == AGENTD_NAME_REFUSED)
		return 1;
	s->state = AGENTD_NAME_PENDING;
	s->cookie = 0;
	s->slot = slot;
	__builtin_memcpy(s->addr, dest->addr, sizeof(s->addr));
	s->family = dest->family;
	s->port = dest->port;
	s->verify = verify & ~VERIFY_UDP_NAMED;
	s->range_index = range_index;
	bpf_get_current_comm(s->comm, sizeof(s->comm));
	return 1;
}

/* A TCP socket that connects where no name is needed (a CIDR rule, after
 * a failed connect to a name-allowed address) carries no mark. */
static __always_inline void expect_no_name(struct bpf_sock *sk, const struct destination *dest)
{
	struct agentd_name_sock *s;

	if (dest->proto_bit != AGENTD_PROTO_TCP)
		return;
	s = bpf_sk_storage_get(&agentd_namesk, sk, 0, 0);
	if (s && s->state == AGENTD_NAME_PENDING)
		s->state = AGENTD_NAME_VERIFIED;
}

/* sockops: into the sockhash when established, out once verified. */
static __always_inline int track_name_socket(struct bpf_sock_ops *skops)
{
	struct agentd_name_sock *s;
	struct bpf_sock *sk;
	__u32 op = skops->op;
	__u64 cookie;

	if (op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB && op != BPF_SOCK_OPS_HDR_OPT_LEN_CB)
		return 1;
	sk = skops->sk;
	if (!sk)
		return 1;
	s = bpf_sk_storage_get(&agentd_namesk, sk, 0, 0);
	if (!s)
		return 1;
	if (op == BPF_SOCK_OPS_HDR_OPT_LEN_CB) {
		/* Asked for below, so it runs when TCP sizes the options of
		 * the next segment: at the latest when the verified first
		 * message goes out. Take the socket out; stop asking. */
		if (s->state == AGENTD_NAME_VERIFIED) {
			bpf_map_delete_elem(&agentd_verifying, &s->cookie);
			bpf_sock_ops_cb_flags_set(skops,
						  skops->bpf_sock_ops_cb_flags & ~BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG);
		}
		return 1;
	}
	if (s->state != AGENTD_NAME_PENDING)
		return 1;
	cookie = bpf_get_socket_cookie(skops);
	s->cookie = cookie;
	/* On failure (the sockhash is full) it stays PENDING: the packet
	 * wall drops whatever it sends, and says so. */
	bpf_sock_hash_update(skops, &agentd_verifying, &cookie, BPF_NOEXIST);
	bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG);
	return 1;
}

/* One scope's verdict on the name in scratch->key (its prefix set). */
static __always_inline __u8 name_action(struct name_scratch *scr, __u32 scope, __u16 port)
{
	struct agentd_learned_value *v;
	struct agentd_verdict verdict;

	scr->key.scope = scope;
	v = bpf_map_lookup_elem(&agentd_names, &scr->key);
	if (!v || v->expires_ns <= bpf_ktime_get_ns())
		return 0;
	verdict = judge_value(&v->rules, port, AGENTD_PROTO_TCP);
	return verdict.action;
}

/*
 * The name (reversed, `len` bytes in scratch) against the sandbox's host
 * patterns, then its operators' name grants; a matching host deny wins
 * over both. Returns 0 (allowed) or the reason it is refused.
 */
static __always_inline __u8 judge_name(struct name_scratch *scr, __u32 len, const struct agentd_name_sock *s,
				       __u32 class_id)
{
	__u8 action;

	/* The check on the register the index uses (the compiler may
	 * otherwise test a copy the verifier does not connect to it). */
	asm volatile("" : "+r"(len));
	if (len >= AGENTD_NAME_MAX)
		return AGENTD_REASON_UNPARSABLE;
	scr->key.name[len] = 0; /* exact names end here */
	scr->key.prefixlen = 32 + 8 * (len + 1);
	action = class_id == AGENTD_CLASS_EMPTY ? 0 : name_action(scr, class_id, s->port);
	if (action == AGENTD_ACTION_ALLOW || action == AGENTD_ACTION_INFERENCE)
		return 0;
	if (action == AGENTD_ACTION_DENY)
		return AGENTD_REASON_NAME_DENIED;
	if (name_action(scr, AGENTD_NAME_GRANT_SCOPE | s->slot, s->port) == AGENTD_ACTION_ALLOW)
		return 0;
	return AGENTD_REASON_NAME_NOT_ALLOWED;
}

/*
 * The parser and the name's copy as global functions: the verifier checks
 * each once, on its own, rather than again for every state the caller
 * brings to it (the copy alone was walked once per way to a name).
 * Neither leaves the caller a packet pointer: both read msg->data anew.
 */
__attribute__((noinline)) int first_name_once(struct sk_msg_md *msg, struct name_scratch *scr)
{
	if (!scr)
		return FB_UNPARSABLE;
	return fb_first_name(msg, msg->size, &scr->scan, &scr->name_off, &scr->name_len);
}

__attribute__((noinline)) int copy_name_once(struct sk_msg_md *msg, struct name_scratch *scr)
{
	if (!scr)
		return -1;
	return fb_copy_reversed(msg, scr->name_off, scr->name_len, scr->key.name);
}

/* A refusal's record: the denial and the name the bytes carried. */
static __always_inline void record_name_refusal(const struct agentd_name_sock *s, __u32 class_id, __u8 reason,
						__u8 sock_family, const int from_task, const struct name_scratch *scr,
						__u32 name_len)
{
	struct agentd_ratelimit_value *stream = 0;
	struct agentd_record_budget *budget = 0;
	struct destination dest = {};
	struct agentd_name_event *e;
	__u64 now = bpf_ktime_get_ns();

	dest.family = s->family;
	__builtin_memcpy(dest.addr, s->addr, sizeof(dest.addr));
	dest.port = s->port;
	dest.proto_bit = AGENTD_PROTO_TCP;
	dest.protocol = IPPROTO_TCP;
	if (!record_admitted(s->slot, AGENTD_HOOK_NAME_CHECK, &dest, now, &stream, &budget))
		return;
	e = bpf_ringbuf_reserve(&agentd_events, sizeof(*e), 0);
	if (!e) {
		record_lost(s->slot);
		return;
	}
	fill_record(&e->event, s->slot, class_id, AGENTD_HOOK_NAME_CHECK, reason, s->range_index, sock_family,
		    SOCK_STREAM_TYPE, &dest, 0, from_task ? FROM_TASK_IDS : 0, now, stream, budget);
	if (from_task)
		__builtin_memcpy(e->event.comm, s->comm, sizeof(e->event.comm));
	e->name_len = scr && name_len < AGENTD_NAME_MAX ? name_len : 0;
	e->_pad = 0;
	if (scr)
		__builtin_memcpy(e->name, scr->key.name, sizeof(e->name));
	else
		__builtin_memset(e->name, 0, sizeof(e->name));
	submit_record(e);
}

static __always_inline __u32 class_of(__u32 slot)
{
	struct agentd_sandbox_state *state = bpf_map_lookup_elem(&agentd_state, &slot);

	return state && (state->flags & AGENTD_SANDBOX_ACTIVE) ? state->class_id : AGENTD_CLASS_EMPTY;
}

/* The sandbox that made the socket still holds its slot: its cgroup still
 * maps to it (sandbox.bpf.h). */
static __always_inline int sandbox_still_holds(struct bpf_sock *sk, __u32 slot)
{
	return tcp_socket_slot(sk) == slot;
}

/* sk_msg: the verdict on a waiting socket's first message. */
static __always_inline int check_first_bytes(struct sk_msg_md *msg)
{
	__u32 zero = 0, class_id, stored = 0;
	struct agentd_name_sock *s;
	struct name_scratch *scr;
	struct bpf_sock *sk = msg->sk;
	__u8 reason = 0;
	int found, copied, unverifiable = 0;

	if (!sk)
		return SK_DROP;
	s = bpf_sk_storage_get(&agentd_namesk, sk, 0, 0);
	if (!s)
		return SK_DROP; /* only marked sockets enter the sockhash */
	if (s->state == AGENTD_NAME_VERIFIED)
		return SK_PASS; /* until sockops takes it out */
	if (s->state != AGENTD_NAME_PENDING)
		return SK_DROP; /* refused: every later send too */
	scr = bpf_map_lookup_elem(&agentd_namescr, &zero);
	if (!scr)
		return SK_DROP;
	found = first_name_once(msg, scr);
	if (found == FB_MORE)
		return SK_PASS; /* the kernel holds the bytes and runs us again */
	if (!sandbox_still_holds(sk, s->slot)) {
		/* Its sandbox was retired (the socket lives on elsewhere): the
		 * slot, its grants and its counts may be another sandbox's now. */
		s->state = AGENTD_NAME_REFUSED;
		return SK_DROP;
	}
	class_id = class_of(s->slot);
	switch (found) {
	case FB_NAME:
		copied = copy_name_once(msg, scr);
		if (copied < 0) {
			reason = AGENTD_REASON_UNPARSABLE;
			break;
		}
		stored = (__u32)copied;
		reason = judge_name(scr, stored, s, class_id);
		break;
	case FB_OTHER:
		if (s->verify == AGENTD_VERIFY_STRICT)
			reason = AGENTD_REASON_NAMELESS;
		unverifiable = 1;
		break;
	case FB_NO_NAME:
	case FB_ECH:
		if (s->verify != AGENTD_VERIFY_LENIENT)
			reason = found == FB_ECH ? AGENTD_REASON_ECH : AGENTD_REASON_NO_NAME;
		unverifiable = 1;
		break;
	default:
		reason = AGENTD_REASON_UNPARSABLE;
	}
	if (!reason) {
		s->state = AGENTD_NAME_VERIFIED;
		count_name(s->slot, unverifiable ? NAME_UNVERIFIABLE : NAME_VERIFIED);
		return SK_PASS;
	}
	s->state = AGENTD_NAME_REFUSED;
	count_name(s->slot, NAME_REFUSED);
	count(s->slot, 0);
	record_name_refusal(s, class_id, reason, (__u8)msg->family, 1, scr, stored);
	return SK_DROP;
}

/* The TCP payload bytes of an outgoing packet (a guess of 1 when its
 * headers cannot be read: such a packet is judged as data). */
static __always_inline __u32 tcp_payload(struct __sk_buff *skb)
{
	__u32 ip_header;
	__u8 b;

	if (skb->protocol == bpf_htons(0x0800)) {
		if (bpf_skb_load_bytes(skb, 0, &b, 1))
			return 1;
		ip_header = (b & 0x0f) * 4;
	} else {
		/* TCP right after the IPv6 header: the kernel adds no extension
		 * headers to TCP of its own, and the route wall refuses those
		 * a sandbox asks for. */
		if (bpf_skb_load_bytes(skb, 6, &b, 1) || b != IPPROTO_TCP)
			return 1;
		ip_header = 40;
	}
	if (bpf_skb_load_bytes(skb, ip_header + 12, &b, 1))
		return 1;
	ip_header += (b >> 4) * 4;
	return skb->len > ip_header ? skb->len - ip_header : 0;
}

/*
 * The packet wall's part: TCP payload of a socket still waiting for its
 * check, or refused, never passed sk_msg. Dropped; a waiting socket is
 * refused from then on. Other sockets pay one storage lookup.
 */
static __always_inline int unverified_payload(struct __sk_buff *skb)
{
	struct agentd_name_sock *s;
	struct bpf_sock *sk = skb->sk;

	if (!sk)
		return 0;
	sk = bpf_sk_fullsock(sk);
	if (!sk || sk->protocol != IPPROTO_TCP)
		return 0;
	s = bpf_sk_storage_get(&agentd_namesk, sk, 0, 0);
	if (!s || s->state == AGENTD_NAME_VERIFIED || !s->state)
		return 0;
	if (!tcp_payload(skb))
		return 0;
	if (s->state == AGENTD_NAME_PENDING) {
		s->state = AGENTD_NAME_REFUSED;
		count_name(s->slot, NAME_REFUSED);
		count(s->slot, 0);
		record_name_refusal(s, class_of(s->slot), AGENTD_REASON_UNVERIFIED_DATA,
				    s->family == AGENTD_FAMILY_IPV4 ? AF_INET_NUM : AF_INET6_NUM, 0, 0, 0);
	}
	return 1;
}

#endif /* AGENTD_NAME_CHECK_BPF_H */
