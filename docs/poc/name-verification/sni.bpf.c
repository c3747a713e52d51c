// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * PoC for issue 13: verify the first bytes of a TCP connection that was
 * allowed only by name (TLS SNI / HTTP Host) in the kernel, no proxy.
 *
 *  cgroup/connect4,6  marks the socket PENDING in sk_storage (the PoC marks
 *                     every connect to a port listed in poc_ports; agentd
 *                     would mark what judge_learned / a name grant allowed)
 *  sockops            on ACTIVE_ESTABLISHED puts PENDING sockets in a sockhash
 *  sk_msg             on that sockhash parses the first message (cork until
 *                     complete), matches the name in an LPM trie keyed by the
 *                     reversed name, then VERIFIED (+ removed from the
 *                     sockhash, so later sends run at native speed) or
 *                     REFUSED (SK_DROP now and for every later send)
 *  cgroup_skb/egress  backstop: drops TCP payload of a socket still PENDING
 *                     or REFUSED (data that never passed sk_msg: TFO, a send
 *                     that was waiting for the handshake)
 *
 * Built against Debian 12's UAPI headers (6.1), no CO-RE needed.
 */
#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "poc_abi.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct poc_sock);
} poc_socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);
	__type(key, __u64); /* socket cookie */
	__type(value, __u64);
} poc_verify SEC(".maps");

/* (scope, reversed lower-case name) -> verdict, longest prefix wins. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 65536);
	__type(key, struct poc_name_key);
	__type(value, struct poc_name_value);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} poc_names SEC(".maps");

/* dest port -> 1: "allowed by name" in this PoC. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u16);
	__type(value, __u8);
} poc_ports SEC(".maps");

/* [0] = 1: remove verified sockets from the sockhash; [1] = 1: PoC bench mode,
 * every socket is VERIFIED at once and kept in the map (per-send cost). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} poc_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 16);
} poc_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, POC_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} poc_stats SEC(".maps");

static __always_inline void stat(__u32 i)
{
	__u64 *v = bpf_map_lookup_elem(&poc_stats, &i);

	if (v)
		*v += 1;
}

static __always_inline __u32 cfg(__u32 i)
{
	__u32 *v = bpf_map_lookup_elem(&poc_cfg, &i);

	return v ? *v : 0;
}

/* ---------------------------------------------------------------- connect */

static __always_inline int mark(struct bpf_sock_addr *ctx, __u8 family, const __u32 *addr)
{
	__u16 port = bpf_ntohs((__u16)ctx->user_port);
	struct poc_sock *s;

	if (ctx->type != 1 /* SOCK_STREAM */ || !bpf_map_lookup_elem(&poc_ports, &port))
		return 1;
	s = bpf_sk_storage_get(&poc_socks, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!s)
		return 0; /* fail closed: cannot remember that it must be verified */
	s->state = POC_PENDING;
	s->port = port;
	s->family = family;
	__builtin_memcpy(s->addr, addr, 16);
	stat(POC_STAT_MARKED);
	return 1;
}

SEC("cgroup/connect4")
int poc_connect4(struct bpf_sock_addr *ctx)
{
	__u32 a[4] = { ctx->user_ip4, 0, 0, 0 };

	return mark(ctx, 4, a);
}

SEC("cgroup/connect6")
int poc_connect6(struct bpf_sock_addr *ctx)
{
	__u32 a[4] = { ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3] };

	return mark(ctx, 6, a);
}

/* ---------------------------------------------------------------- sockops */

SEC("sockops")
int poc_sockops(struct bpf_sock_ops *skops)
{
	struct poc_sock *s;
	struct bpf_sock *sk;
	__u64 cookie;
	__u32 op = skops->op;

	if (op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB && op != BPF_SOCK_OPS_HDR_OPT_LEN_CB)
		return 1;
	sk = skops->sk;
	if (!sk)
		return 1;
	s = bpf_sk_storage_get(&poc_socks, sk, 0, 0);
	if (!s)
		return 1;
	if (op == BPF_SOCK_OPS_HDR_OPT_LEN_CB) {
		stat(POC_STAT_HDR_RUNS);
		/*
		 * Runs (only for sockets that asked, below) whenever TCP sizes
		 * its options: at the latest when the verified first message
		 * is pushed. sk_msg may not delete from a sockhash (verifier:
		 * "cannot update sockmap in this context"), sock_ops may: take
		 * the socket out, so the next send is plain tcp_sendmsg, and
		 * stop asking.
		 */
		if (s->state == POC_VERIFIED && !cfg(1)) {
			if (bpf_map_delete_elem(&poc_verify, &s->cookie) == 0)
				stat(POC_STAT_REMOVED);
			bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags &
							     ~BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG);
		}
		return 1;
	}
	if (s->state != POC_PENDING)
		return 1;
	cookie = bpf_get_socket_cookie(skops);
	s->cookie = cookie;
	if (bpf_sock_hash_update(skops, &poc_verify, &cookie, BPF_NOEXIST) == 0)
		stat(POC_STAT_INSERTED);
	else
		stat(POC_STAT_INSERT_FAILED); /* stays PENDING: the skb wall drops its data */
	if (cfg(0))
		bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG);
	return 1;
}

/* ---------------------------------------------------------------- sk_msg */

#define CORK_MORE 0xffff /* parse result: need more bytes (cork set) */

static __always_inline __u8 lower(__u8 c)
{
	return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

/* Valid host-name byte (after lowering): a-z 0-9 - . _ */
static __always_inline int name_byte(__u8 c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

static __always_inline void emit(struct poc_sock *s, __u8 reason, __u8 verdict, const struct poc_name_key *k,
				 __u32 name_len, __u32 msg_size)
{
	struct poc_event *e = bpf_ringbuf_reserve(&poc_events, sizeof(*e), 0);

	if (!e)
		return;
	e->cookie = s->cookie;
	e->pid_tgid = bpf_get_current_pid_tgid();
	__builtin_memcpy(e->addr, s->addr, 16);
	e->port = s->port;
	e->family = s->family;
	e->reason = reason;
	e->verdict = verdict;
	e->name_len = name_len;
	e->msg_size = msg_size;
	__builtin_memcpy(e->rname, k->name, sizeof(e->rname));
	bpf_ringbuf_submit(e, 0);
}

/*
 * Copy the name at data[off, off+len) reversed and lower-cased into the
 * key; refuse bytes that are no host-name bytes (and strip one trailing
 * dot). Returns the length or -1.
 */
static __always_inline int copy_reversed(struct sk_msg_md *msg, __u32 off, __u32 len, struct poc_name_key *k)
{
	void *data = msg->data, *end = msg->data_end;
	__u32 i;

	if (len == 0 || len > POC_NAME_MAX - 1)
		return -1;
	for (i = 0; i < POC_NAME_MAX - 1; i++) {
		__u32 pos;
		__u8 c;

		if (i >= len)
			break;
		pos = (off + len - 1 - i) & POC_PARSE_MASK;
		if (data + pos + 1 > end)
			return -1;
		c = lower(*(__u8 *)(data + pos));
		if (!name_byte(c))
			return -1;
		k->name[i] = c;
	}
	return len;
}

/* The verdict for a name: LPM over (scope, reversed name + '\0'). */
static __always_inline int name_allowed(struct poc_name_key *k, __u32 len, __u16 port)
{
	struct poc_name_value *v;

	if (len >= POC_NAME_MAX)
		return 0;
	k->name[len] = 0; /* terminator: exact names end here */
	k->prefixlen = 32 + 8 * (len + 1);
	v = bpf_map_lookup_elem(&poc_names, k);
	if (!v)
		return 0;
	/* The real thing: agentd_judge(&v->rules, port, TCP) */
	return v->action == POC_ALLOW && port >= v->port_lo && port <= v->port_hi;
}

static __always_inline __u32 be16_at(void *p)
{
	__u8 *b = p;

	return ((__u32)b[0] << 8) | b[1];
}

/*
 * TLS: record header, ClientHello, extensions. Returns a POC_REASON_*
 * (POC_REASON_OK with name_off, name_len set) or CORK_MORE.
 */
static __always_inline int parse_tls(struct sk_msg_md *msg, __u32 size, __u32 *name_off, __u32 *name_len)
{
	void *data, *end;
	__u32 rec_len, need, hs_len, off, ext_end, i, sni = 0, ech = 0;

	if (size < 5) {
		bpf_msg_cork_bytes(msg, 5);
		return CORK_MORE;
	}
	if (bpf_msg_pull_data(msg, 0, 5, 0))
		return POC_REASON_UNPARSABLE;
	data = msg->data;
	end = msg->data_end;
	if (data + 5 > end)
		return POC_REASON_UNPARSABLE;
	rec_len = be16_at(data + 3);
	if (rec_len < 4 || rec_len > POC_TLS_MAX_RECORD)
		return POC_REASON_UNPARSABLE;
	need = 5 + rec_len;
	if (size < need) {
		bpf_msg_cork_bytes(msg, need);
		return CORK_MORE;
	}
	/* Linear [0, need): a no-op when the message sits in one page frag. */
	if (bpf_msg_pull_data(msg, 0, need, 0))
		return POC_REASON_UNPARSABLE;
	data = msg->data;
	end = msg->data_end;
	if (data + need > end || data + 9 > end)
		return POC_REASON_UNPARSABLE;
	if (*(__u8 *)(data + 5) != 1) /* handshake type ClientHello */
		return POC_REASON_NOT_CLIENT_HELLO;
	hs_len = ((__u32) * (__u8 *)(data + 6) << 16) | be16_at(data + 7);
	/* A ClientHello spread over several records: refused (fail closed). */
	if (hs_len + 4 > rec_len)
		return POC_REASON_FRAGMENTED;
	ext_end = 9 + hs_len;
	off = 9 + 2 + 32; /* legacy_version, random */
	if (data + ((off + 1) & POC_PARSE_MASK) > end)
		return POC_REASON_UNPARSABLE;
	off = off + 1 + *(__u8 *)(data + (off & POC_PARSE_MASK)); /* session id */
	off &= POC_PARSE_MASK;
	if (data + off + 2 > end)
		return POC_REASON_UNPARSABLE;
	off = off + 2 + be16_at(data + off); /* cipher suites */
	off &= POC_PARSE_MASK;
	if (data + off + 1 > end)
		return POC_REASON_UNPARSABLE;
	off = off + 1 + *(__u8 *)(data + off); /* compression methods */
	off &= POC_PARSE_MASK;
	if (data + off + 2 > end)
		return POC_REASON_UNPARSABLE;
	if (off + 2 + be16_at(data + off) != ext_end)
		return POC_REASON_UNPARSABLE;
	off += 2;
	for (i = 0; i < POC_TLS_MAX_EXTENSIONS; i++) {
		__u32 type, len;

		if (off >= ext_end)
			break;
		off &= POC_PARSE_MASK;
		if (data + off + 4 > end)
			return POC_REASON_UNPARSABLE;
		type = be16_at(data + off);
		len = be16_at(data + off + 2);
		if (type == 0) {
			if (sni)
				return POC_REASON_UNPARSABLE; /* two SNI extensions */
			sni = off + 4;
		} else if (type == 0xfe0d) {
			ech = 1;
		}
		off += 4 + len;
	}
	if (off != ext_end)
		return POC_REASON_UNPARSABLE; /* too many extensions, or overlong */
	if (ech)
		return POC_REASON_ECH;
	if (!sni)
		return POC_REASON_NO_SNI;
	/* server_name_list: u16 list length, u8 type 0 (host_name), u16 len */
	sni &= POC_PARSE_MASK;
	if (data + sni + 5 > end)
		return POC_REASON_UNPARSABLE;
	if (*(__u8 *)(data + sni + 2) != 0)
		return POC_REASON_NO_SNI;
	*name_len = be16_at(data + sni + 3);
	/* exactly one name in the list */
	if (be16_at(data + sni) != 3 + *name_len)
		return POC_REASON_UNPARSABLE;
	*name_off = sni + 5;
	return POC_REASON_OK;
}

/* Methods we recognise; "PRI " (HTTP/2 prior knowledge) is refused. */
static __always_inline int http_method(__u32 w)
{
	/* first four bytes, network order */
	return w == 0x47455420 /* "GET " */ || w == 0x504f5354 /* "POST" */ || w == 0x48454144 /* "HEAD" */ ||
	       w == 0x50555420 /* "PUT " */ || w == 0x44454c45 /* "DELE" */ || w == 0x4f505449 /* "OPTI" */ ||
	       w == 0x50415443 /* "PATC" */ || w == 0x434f4e4e /* "CONN" */ || w == 0x54524143 /* "TRAC" */;
}

struct http_scan {
	struct sk_msg_md *msg;
	struct poc_scan *out; /* in a map: the verifier does not track what the
			       * callback stores there, so its states converge */
};

/* Per-CPU scratch for the HTTP scan. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct poc_scan);
} poc_scratch SEC(".maps");

static long http_scan_step(__u32 i, void *ctx)
{
	struct http_scan *c = ctx;
	void *data = c->msg->data, *end = c->msg->data_end;
	__u32 w;

	i &= 0xfff;
	if (data + i + 4 > end)
		return 1;
	w = ((__u32) * (__u8 *)(data + i) << 24) | ((__u32) * (__u8 *)(data + i + 1) << 16) |
	    ((__u32) * (__u8 *)(data + i + 2) << 8) | *(__u8 *)(data + i + 3);
	if (w == 0x0d0a0d0a || (w >> 16) == 0x0a0a || (w >> 8) == 0x0a0d0a) {
		c->out->hdr_end = i + 1;
		return 1;
	}
	if (data + i + 6 > end)
		return 0;
	if ((w | 0x00202020) == 0x0a686f73 /* "\nhos" */ && (*(__u8 *)(data + i + 4) | 0x20) == 't' &&
	    *(__u8 *)(data + i + 5) == ':') {
		if (!c->out->hosts)
			c->out->host = i + 6;
		c->out->hosts = 1 + (c->out->hosts ? 1 : 0);
	}
	return 0;
}

static long http_value_step(__u32 i, void *ctx)
{
	struct http_scan *c = ctx;
	void *data = c->msg->data, *end = c->msg->data_end;
	__u32 p = (c->out->host + i) & POC_PARSE_MASK;
	__u8 ch;

	if (data + p + 1 > end)
		return 1;
	ch = *(__u8 *)(data + p);
	if (!c->out->hosts) {
		if (ch == ' ' || ch == '\t')
			return 0;
		c->out->hosts = p; /* start of the value (> 0) */
	}
	if (ch == '\r' || ch == '\n' || ch == ':' || ch == ' ' || ch == '\t') {
		c->out->hdr_end = p - c->out->hosts;
		return 1;
	}
	return 0;
}

/*
 * HTTP/1.x: the header block must be complete (cork a byte at a time until
 * it is, up to POC_HTTP_MAX), exactly one Host header, and no absolute-form
 * target (PoC: refused; agentd would verify its host too).
 */
static __always_inline int parse_http(struct sk_msg_md *msg, __u32 size, __u32 *name_off, __u32 *name_len)
{
	void *data, *end;
	__u32 i, host = 0, hdr_end = 0, lim, first_sp = 0;
	struct http_scan scan = {};
	__u32 zero = 0, hosts;

	lim = size < POC_HTTP_MAX ? size : POC_HTTP_MAX;
	if (bpf_msg_pull_data(msg, 0, lim, 0))
		return POC_REASON_UNPARSABLE;
	data = msg->data;
	end = msg->data_end;
	/* request target: "METHOD SP target": origin-form starts with '/' */
	for (i = 3; i < 10; i++) {
		if (data + i + 2 > end)
			break;
		if (*(__u8 *)(data + i) == ' ') {
			first_sp = i;
			break;
		}
	}
	if (first_sp && data + first_sp + 2 <= end && *(__u8 *)(data + first_sp + 1) != '/' &&
	    *(__u8 *)(data + first_sp + 1) != '*')
		return POC_REASON_ABSOLUTE_FORM;
	/* One pass (bpf_loop: the verifier checks the callback once, a
	 * 4096-step open loop blows its branch stack): the end of the header
	 * block, the first Host header and how many there are. */
	scan.msg = msg;
	scan.out = bpf_map_lookup_elem(&poc_scratch, &zero);
	if (!scan.out)
		return POC_REASON_UNPARSABLE;
	scan.out->host = 0;
	scan.out->hosts = 0;
	scan.out->hdr_end = 0;
	bpf_loop(POC_HTTP_MAX - 4, http_scan_step, &scan, 0);
	host = scan.out->host;
	hdr_end = scan.out->hdr_end;
	hosts = scan.out->hosts;
	data = msg->data;
	end = msg->data_end;
	if (!hdr_end) {
		if (size >= POC_HTTP_MAX)
			return POC_REASON_UNPARSABLE;
		bpf_msg_cork_bytes(msg, size + 1); /* wait for the rest of the headers */
		return CORK_MORE;
	}
	if (!host)
		return POC_REASON_NO_SNI;
	/* a second Host header: refused (servers disagree which one counts) */
	if (hosts != 1)
		return POC_REASON_UNPARSABLE;
	/* The value: skip blanks, up to '\r', '\n', ':' (port) or a blank
	 * (a callback again: an open loop here would make the verifier walk
	 * the name copy once for every possible length). */
	scan.out->host = host;
	scan.out->hosts = 0; /* reused: the value's start */
	scan.out->hdr_end = 0; /* reused: the value's length */
	bpf_loop(8 + POC_NAME_MAX, http_value_step, &scan, 0);
	if (!scan.out->hdr_end)
		return POC_REASON_UNPARSABLE;
	*name_off = scan.out->hosts;
	*name_len = scan.out->hdr_end;
	return POC_REASON_OK;
}

/*
 * Ambiguous starts cork: a first write of "G" may become "GET ...", a
 * leading CRLF is skipped by HTTP servers (RFC 9112 2.2) before the
 * request line, so neither may count as "another protocol".
 */
static __always_inline int classify(struct sk_msg_md *msg, __u32 size)
{
	void *data, *end;
	__u32 w;

	if (bpf_msg_pull_data(msg, 0, size < 4 ? size : 4, 0))
		return POC_KIND_OTHER;
	data = msg->data;
	end = msg->data_end;
	if (data + 1 > end)
		return POC_KIND_OTHER;
	if (*(__u8 *)data == 0x16)
		return POC_KIND_TLS;
	if (*(__u8 *)data == '\r' || *(__u8 *)data == '\n')
		return POC_KIND_REFUSE;
	if (data + 4 > end) {
		__u8 c = *(__u8 *)data;

		if (c >= 'A' && c <= 'Z') {
			bpf_msg_cork_bytes(msg, 4);
			return POC_KIND_CORK;
		}
		return POC_KIND_OTHER;
	}
	w = bpf_ntohl(*(__u32 *)data);
	if (w == 0x50524920 /* "PRI " */)
		return POC_KIND_REFUSE;
	return http_method(w) ? POC_KIND_HTTP : POC_KIND_OTHER;
}

SEC("sk_msg")
int poc_msg(struct sk_msg_md *msg)
{
	struct poc_name_key k = {};
	struct poc_sock *s;
	__u32 size = msg->size, name_off = 0, name_len = 0;
	int kind, r = POC_REASON_OK, len = 0;
	struct bpf_sock *sk = msg->sk;

	if (!sk)
		return SK_DROP;
	s = bpf_sk_storage_get(&poc_socks, sk, 0, 0);
	if (!s)
		return SK_DROP;
	stat(POC_STAT_MSG_RUNS);
	if (s->state == POC_VERIFIED)
		return SK_PASS; /* only while still in the map (bench mode) */
	if (s->state != POC_PENDING)
		return SK_DROP; /* REFUSED: every later send too */
	if (cfg(1)) { /* bench: verify at once, keep in the map */
		s->state = POC_VERIFIED;
		return SK_PASS;
	}
	kind = classify(msg, size);
	if (kind == POC_KIND_CORK) {
		stat(POC_STAT_CORKED);
		return SK_PASS;
	}
	if (kind == POC_KIND_TLS)
		r = parse_tls(msg, size, &name_off, &name_len);
	else if (kind == POC_KIND_HTTP)
		r = parse_http(msg, size, &name_off, &name_len);
	else if (kind == POC_KIND_REFUSE)
		r = POC_REASON_UNPARSABLE;
	else
		r = POC_REASON_OTHER_PROTOCOL;
	if (r == CORK_MORE) {
		stat(POC_STAT_CORKED);
		return SK_PASS; /* the kernel holds the bytes and reruns us */
	}
	k.scope = s->scope;
	if (r == POC_REASON_OK) {
		len = copy_reversed(msg, name_off, name_len, &k);
		if (len < 0)
			r = POC_REASON_BAD_NAME;
		else if (!name_allowed(&k, (__u32)len, s->port))
			r = POC_REASON_NAME_DENIED;
	}
	if (r == POC_REASON_OK || r == POC_REASON_OTHER_PROTOCOL /* by address, as today */) {
		s->state = POC_VERIFIED;
		stat(POC_STAT_VERIFIED);
		emit(s, (__u8)r, 1, &k, len > 0 ? len : 0, size);
		return SK_PASS;
	}
	s->state = POC_REFUSED;
	stat(POC_STAT_REFUSED);
	emit(s, (__u8)r, 0, &k, len > 0 ? len : 0, size);
	return SK_DROP;
}

/* ---------------------------------------------------------------- backstop */

/*
 * Payload from a socket that is still PENDING never went through sk_msg
 * (TCP fast open data in the SYN, a send that sat in tcp_sendmsg waiting
 * for the handshake while sockops put the socket in the map): drop it.
 * Unmarked sockets pay one sk_storage lookup.
 */
SEC("cgroup_skb/egress")
int poc_skb_egress(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;
	struct poc_sock *s;
	__u32 hl, ip_len, doff;
	__u8 b;

	if (!sk)
		return 1;
	sk = bpf_sk_fullsock(sk);
	if (!sk || sk->protocol != IPPROTO_TCP)
		return 1;
	s = bpf_sk_storage_get(&poc_socks, sk, 0, 0);
	if (!s || s->state == POC_VERIFIED)
		return 1;
	/* TCP payload length from the headers */
	if (skb->protocol == bpf_htons(0x0800)) {
		if (bpf_skb_load_bytes(skb, 0, &b, 1))
			return 1;
		hl = (b & 0xf) * 4;
		ip_len = skb->len - hl;
	} else {
		hl = 40; /* the kernel adds no extension headers to TCP here
			  * (route options are refused by agentd) */
		ip_len = skb->len - hl;
	}
	if (bpf_skb_load_bytes(skb, hl + 12, &b, 1))
		return 1;
	doff = (b >> 4) * 4;
	if (ip_len <= doff)
		return 1; /* no payload: SYN, ACK, FIN, RST */
	stat(POC_STAT_SKB_DROPPED);
	return 0;
}
