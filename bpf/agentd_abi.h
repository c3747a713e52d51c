/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one ABI shared by the kernel side (bpf/) and userspace (agentd/).
 * Fixed-width types only; every struct has a size check on both sides, so
 * a change that breaks the layout fails the build instead of the verdicts.
 *
 * Included from BPF C (with <linux/types.h>) and from C++ (with <cstdint>
 * through <linux/types.h> as well), so only __u8/__u16/__u32/__u64 here.
 */
#ifndef AGENTD_ABI_H
#define AGENTD_ABI_H

#include <linux/types.h>

/* Bumped whenever a pinned map's key or value layout changes: a daemon
 * refuses to adopt pins made with another ABI instead of misreading them. */
#define AGENTD_ABI_VERSION 4

/* ---- sizes ------------------------------------------------------------ */

#define AGENTD_MAX_SANDBOXES   16384   /* slots in the sandbox state array */
#define AGENTD_MAX_RULES       1048576 /* LPM entries across every policy class */
#define AGENTD_MAX_PORT_RANGES 16      /* port ranges in one flattened rule value */
#define AGENTD_MAX_CGROUP_DEPTH 32     /* ancestors searched for a sandbox */
#define AGENTD_EVENT_RING_BYTES (1 << 22)
#define AGENTD_MAX_LEARNED     262144  /* addresses learned through DNS, all sandboxes */
#define AGENTD_MAX_GRANTS      65536   /* (sandbox, address) pairs opened by operators */
#define AGENTD_MAX_VERIFYING   65536   /* name-allowed connections waiting for their first bytes' check */
#define AGENTD_RATELIMIT_KEYS  65536   /* denial streams tracked by the record rate limit (LRU) */
/* At most this many denial records per second for one (sandbox,
 * destination, port, protocol); the rest are counted per sandbox
 * (agentd_counters.suppressed) and reported in the next record. */
#define AGENTD_RECORDS_PER_SECOND 5
/* Defaults of one sandbox's denial record budget, any destinations: a
 * burst of this many records, then this many a second (agentd's
 * --sandbox-records-per-second, --sandbox-record-burst). Held-back
 * denials are counted (agentd_record_counts.held) and reported in the
 * sandbox's next record. The ring holds about 37,000 records: it takes
 * well over a hundred sandboxes spending their whole burst at once,
 * between two drains, to fill it. */
#define AGENTD_SANDBOX_RECORDS_PER_SECOND 100
#define AGENTD_SANDBOX_RECORD_BURST 200
#define AGENTD_NEVER_EXPIRES   0xffffffffffffffffULL

/* Slot 0 is never a sandbox: a socket classified to slot 0 sits in a
 * cgroup under the root that agentd does not know, and is denied. */
#define AGENTD_SLOT_UNKNOWN 0
/* Class 0 holds no rules: a sandbox whose tenant has no policy is denied. */
#define AGENTD_CLASS_EMPTY 0

/* ---- verdict vocabulary ----------------------------------------------- */

enum agentd_action {
	AGENTD_ACTION_ALLOW = 1,
	/* explicit deny: beats every allow */
	AGENTD_ACTION_DENY = 2,
	/* the tenant's inference endpoint: beats every deny of a team or agent */
	AGENTD_ACTION_INFERENCE = 3,
};

/* protocol bits of a port range */
#define AGENTD_PROTO_TCP (1u << 0)
#define AGENTD_PROTO_UDP (1u << 1)
#define AGENTD_PROTO_ANY (AGENTD_PROTO_TCP | AGENTD_PROTO_UDP)

enum agentd_hook {
	AGENTD_HOOK_CONNECT4 = 1,
	AGENTD_HOOK_CONNECT6 = 2,
	AGENTD_HOOK_SENDMSG4 = 3,
	AGENTD_HOOK_SENDMSG6 = 4,
	AGENTD_HOOK_SOCK_CREATE = 5,
	AGENTD_HOOK_BIND4 = 6,
	AGENTD_HOOK_BIND6 = 7,
	AGENTD_HOOK_SETSOCKOPT = 8,  /* an option that reroutes or respoofs (route_options.h) */
	AGENTD_HOOK_SKB_EGRESS = 9,  /* a packet the second wall dropped (packet_path.bpf.h) */
	AGENTD_HOOK_SKB_INGRESS = 10, /* a connection or datagram into the sandbox (inbound.bpf.h) */
	AGENTD_HOOK_NAME_CHECK = 11,  /* the first bytes of a name-allowed connection (name_check.bpf.h) */
};

/*
 * DNS: every query a sandbox sends to port 53 (UDP or TCP, any server) is
 * redirected to agentd's proxy at 127.64.<slot>:<proxy port>: the address
 * tells the proxy which sandbox asked. Replies get the server's address
 * back as their source (recvmsg/getpeername hooks).
 */
/*
 * A query to an IPv6 server on an IPv6 socket cannot go to an IPv4
 * address (IPv6-only sockets; unconnected sends, where the kernel refuses
 * a v4-mapped rewrite), and IPv6 has no 127/8 to spread sandboxes over:
 * such a query goes to [::1]:<base + slot> instead, one port per sandbox,
 * each served by its own proxy socket. agentd_dns6[0] holds the base
 * (0: off); agentd_dns6[slot] the port serving that slot, 0 while none
 * does (then the query is refused, never let through).
 */
#define AGENTD_DNS_NET  0x7f400000u /* 127.64.0.0, host order */
#define AGENTD_DNS_MASK 0xffff0000u /* /16: slots below 65536 */
#define AGENTD_DNS_PORT 53

enum agentd_deny_reason {
	AGENTD_REASON_NO_RULE = 1,        /* default deny: nothing allowed it */
	AGENTD_REASON_DENY_RULE = 2,      /* an explicit deny rule matched */
	AGENTD_REASON_UNKNOWN_CGROUP = 3, /* a cgroup under the root that is no sandbox */
	AGENTD_REASON_SOCKET_TYPE = 4,    /* socket family/type/protocol not permitted */
	AGENTD_REASON_DNS_EXPIRED = 5,    /* learned through DNS, but its TTL ran out */
	AGENTD_REASON_DNS_UNSUPPORTED = 6,/* a DNS query the proxy cannot take (IPv6 server, no [::1] port serving the sandbox) */
	AGENTD_REASON_PROXY_SPOOF = 7,    /* aimed at, or bound to, the DNS proxy's addresses or ports */
	AGENTD_REASON_ROUTE_OPTION = 8,   /* a socket option that changes the route or the claimed source */
	AGENTD_REASON_ROUTE_HEADER = 9,   /* a packet with an IPv6 routing header or IPv4 options */
	/* Name verification (name_check.bpf.h): the connection was allowed
	 * only by a host rule or a name grant, and its first bytes ... */
	AGENTD_REASON_NAME_NOT_ALLOWED = 10, /* ... name a host no rule or grant allows */
	AGENTD_REASON_NAME_DENIED = 11,      /* ... name a host an explicit deny matches */
	AGENTD_REASON_NO_NAME = 12,          /* ... are a ClientHello without SNI or an HTTP request without Host */
	AGENTD_REASON_ECH = 13,              /* ... are a ClientHello with Encrypted Client Hello (the outer name hides the real one) */
	AGENTD_REASON_UNPARSABLE = 14,       /* ... look like TLS or HTTP but do not parse (split records, two Host headers, ...) */
	AGENTD_REASON_NAMELESS = 15,         /* ... are another protocol, under `verify: strict` */
	AGENTD_REASON_UNVERIFIED_DATA = 16,  /* ... left before the check (TCP fast open, a send racing the handshake) */
	AGENTD_REASON_QUIC = 17,             /* UDP to port 443 of an address allowed only by name: QUIC hides the name */
	AGENTD_REASON_DNS_NETNS = 18,        /* DNS from a network namespace the proxy does not serve yet (a container's): agentd starts serving it */
	AGENTD_REASON_HOST_ADDRESS = 19,     /* one of the host's own addresses, judged as loopback: no 127.0.0.1/::1 rule allows the port */
	AGENTD_REASON_FOREIGN_SOURCE = 20,   /* a bind to an address the host does not own (possible with ip_nonlocal_bind) */
};

/*
 * Name verification of one port range (agentd_port_range.verify): what a
 * TCP connection that this range allowed must show on its first bytes.
 * Only host rules and name grants set it; a CIDR range is 0 (by address).
 */
enum agentd_verify {
	AGENTD_VERIFY_OFF = 0,     /* the address is enough (CIDR rules; `verify: off`) */
	AGENTD_VERIFY_NAME = 1,    /* TLS needs an allowed SNI, HTTP an allowed Host; other protocols by address */
	AGENTD_VERIFY_LENIENT = 2, /* as NAME, but a ClientHello without SNI or with ECH passes by address */
	AGENTD_VERIFY_STRICT = 3,  /* as NAME, and other protocols are refused */
};

/* ---- map keys and values ---------------------------------------------- */

/*
 * Key of the rules LPM trie. The family is part of the key, so an IPv6 rule
 * such as ::/0 never covers IPv4, and an IPv4-mapped IPv6 destination
 * (::ffff:a.b.c.d) is looked up as the IPv4 address it carries.
 * prefixlen counts bits after the prefixlen field: 32 (class) + 32 (family)
 * + address bits (0..32 for IPv4, 0..128 for IPv6). IPv4 addresses sit in
 * addr[0..3], network byte order; the rest is zero.
 */
struct agentd_rule_key {
	__u32 prefixlen;
	__u32 class_id;
	__u32 family; /* AGENTD_FAMILY_* */
	__u8 addr[16];
};
#define AGENTD_FAMILY_IPV4 4
#define AGENTD_FAMILY_IPV6 6
/* Or'ed into a rule key's family: an `inbound:` rule, judging the peer of
 * a connection or datagram into the sandbox. Egress lookups never carry
 * it, so the two directions share the trie and never meet. */
#define AGENTD_FAMILY_INBOUND 0x100
#define AGENTD_KEY_FIXED_BITS 64 /* class_id + family */

struct agentd_port_range {
	__u16 lo;
	__u16 hi;
	__u8 proto_mask; /* AGENTD_PROTO_* */
	__u8 action;     /* enum agentd_action */
	__u8 verify;     /* enum agentd_verify: the first bytes a connection allowed by this range must show */
	__u8 _pad;       /* userspace keeps which rule made each range */
};

/*
 * Value of the rules trie: every range of every rule whose prefix covers the
 * key's prefix, flattened at compile time, so the single longest-prefix
 * lookup the kernel makes sees all that applies.
 */
struct agentd_rule_value {
	__u32 count;
	__u32 _pad;
	struct agentd_port_range ranges[AGENTD_MAX_PORT_RANGES];
};

/* Value of the sandbox state array, indexed by slot. */
struct agentd_sandbox_state {
	__u32 class_id; /* policy class in force; AGENTD_CLASS_EMPTY denies all */
	__u32 flags;    /* AGENTD_SANDBOX_* */
};
#define AGENTD_SANDBOX_ACTIVE (1u << 0)
/* The tenant's `refuse_with: econnrefused`: a denied connect or send fails
 * with ECONNREFUSED instead of EPERM (where the kernel lets a program say
 * so: bpf_set_retval, probed at start). */
#define AGENTD_SANDBOX_REFUSE_CONNREFUSED (1u << 1)
/*
 * The upper half of flags: the slot's generation, one more each time the
 * slot is given to a new sandbox. A socket remembers the generation it was
 * made under, so a socket that outlives its sandbox (passed to a process
 * outside it) is never judged as the slot's next sandbox.
 */
#define AGENTD_SANDBOX_GEN_SHIFT 16

/* Per-CPU counters of one sandbox slot. */
struct agentd_counters {
	__u64 allowed;
	__u64 denied;
	__u64 suppressed; /* denials whose record the rate limit held back (counted, never silent) */
};

/* Per-CPU counters of one slot: what became of the denials that the
 * stream limit let through. Per slot, summed over CPUs:
 * denied = recorded + suppressed + held + dropped. */
struct agentd_record_counts {
	__u64 recorded; /* written into the ring */
	__u64 held;     /* held back by the sandbox's record budget */
	__u64 dropped;  /* the ring was full */
};

/* One sandbox's denial record budget (record_budget.bpf.h). */
struct agentd_record_budget {
	__u64 tat_ns; /* CLOCK_MONOTONIC: when the bucket is full again, GCRA's theoretical arrival time */
	__u64 held;   /* held back since the sandbox's last record */
};

/* What allowed a socket's traffic (a TCP socket's connect, a datagram's
 * own peer), for the bytes each sandbox sends and receives (agentd_traffic):
 * the tenant's inference endpoints, a CIDR rule, a name (addresses learned
 * from a host rule), or anything else (an operator's grant, the DNS proxy,
 * a peer let in, a connection accepted from a listener, and every packet
 * over loopback). A power of two: the programs mask the index. */
enum agentd_traffic_class {
	AGENTD_TRAFFIC_OTHER = 0,
	AGENTD_TRAFFIC_INFERENCE = 1,
	AGENTD_TRAFFIC_RULE = 2,
	AGENTD_TRAFFIC_NAME = 3,
	AGENTD_TRAFFIC_CLASSES = 4,
};

/* Per-socket storage: the sandbox the socket was created in, the DNS
 * server it last asked (to give replies that source back), and what
 * allowed its last connect or send. */
struct agentd_sock_info {
	__u32 slot;
	__u16 dns_family; /* AGENTD_FAMILY_*, 0: no DNS query redirected */
	__u8 traffic;     /* enum agentd_traffic_class of a TCP connect (UDP: agentd_udppeer) */
	__u8 _pad;
	__u8 dns_addr[16];
	__u16 dns_port;   /* network order */
	__u16 generation; /* the slot's, when the socket was made (AGENTD_SANDBOX_GEN_SHIFT) */
};

/* Bytes and packets of one sandbox's sockets, by traffic class, as the
 * cgroup's skb programs see them (IP packets, headers included; a GSO or
 * GRO batch is one packet). Counted with atomic adds in one shared array
 * (16,384 slots x 80 bytes), not per CPU. */
struct agentd_traffic {
	__u64 sent_bytes[AGENTD_TRAFFIC_CLASSES];
	__u64 received_bytes[AGENTD_TRAFFIC_CLASSES];
	__u64 sent_packets;
	__u64 received_packets;
};

/* The DNS proxy's settings (one entry). */
struct agentd_dns_config {
	__u32 enabled;
	__u32 proxy_port; /* host order */
};

/*
 * Key of agentd_dnsns: a network namespace (its cookie) where the proxy
 * listens for one sandbox (slot), or for all of them (slot 0: agentd's
 * own namespace, where the shared sockets are).
 */
struct agentd_dnsns_key {
	__u64 netns_cookie;
	__u32 slot;
	__u32 _pad;
};
#define AGENTD_MAX_DNS_NETNS 4096

/*
 * Key of agentd_hostaddr: an address of the host itself in a network
 * namespace (its cookie), and the unspecified addresses (0.0.0.0, ::),
 * which the kernel delivers locally too. A packet to one of them never
 * leaves the host: it loops back to whatever listens there (another
 * sandbox, a host service on 0.0.0.0), so the hooks judge it as loopback.
 * The entry with family 0 (and a zero address) marks a namespace whose
 * addresses are listed: there a bind to any other address is refused.
 */
struct agentd_hostaddr_key {
	__u64 netns_cookie;
	__u32 family;  /* AGENTD_FAMILY_IPV4 or AGENTD_FAMILY_IPV6 */
	__u8 addr[16]; /* IPv4 in the first 4 bytes, the rest zero */
	__u32 _pad;
};
#define AGENTD_MAX_HOST_ADDRS 4096

/* Value of agentd_dns6 (see AGENTD_DNS_NET). */
struct agentd_dns6_port {
	__u32 port; /* host order */
};

/* An address learned through DNS for one sandbox, with its expiry. */
struct agentd_learned_key {
	__u32 slot;
	__u32 family; /* AGENTD_FAMILY_* */
	__u8 addr[16];
};

struct agentd_learned_value {
	__u64 expires_ns; /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	struct agentd_rule_value rules;
};

/* Operator grants (agentd_grants) use the learned map's key and value:
 * one sandbox's exact address, the ports granted, when it closes again
 * (AGENTD_NEVER_EXPIRES for a permanent grant). */

/*
 * Names a sandbox's TLS SNI or HTTP Host may carry (agentd_names, an LPM
 * trie): the name lower-case and reversed, so that a pattern's suffix is
 * a key prefix. "api.example.test" is stored as "tset.elpmaxe.ipa\0" (the
 * NUL ends an exact name), "*.example.test" as "tset.elpmaxe." (a proper
 * subdomain only, as the DNS proxy matches). prefixlen counts bits after
 * itself: 32 (scope) + 8 * stored bytes. Scope: the policy class, or
 * AGENTD_NAME_GRANT_SCOPE | slot for an operator's name grants.
 */
#define AGENTD_NAME_MAX 248 /* stored bytes; names of 248 and more are refused */
#define AGENTD_NAME_GRANT_SCOPE 0x80000000u
struct agentd_name_key {
	__u32 prefixlen;
	__u32 scope;
	__u8 name[AGENTD_NAME_MAX];
};
/* Value of agentd_names: agentd_learned_value, the ports (and denies) of
 * every pattern that matches the stored name, flattened; a grant expires. */

/* A name-allowed TCP socket's verification (agentd_namesk). */
enum agentd_name_state {
	AGENTD_NAME_PENDING = 1,  /* marked at connect, its first bytes not yet seen */
	AGENTD_NAME_VERIFIED = 2, /* passed: leaves the sockhash, runs at full speed */
	AGENTD_NAME_REFUSED = 3,  /* every later send fails, every later packet is dropped */
};
struct agentd_name_sock {
	__u64 cookie;     /* the sockhash key */
	__u32 state;      /* enum agentd_name_state */
	__u32 slot;
	__u8 addr[16];    /* the destination, for the record */
	__u32 family;     /* AGENTD_FAMILY_* */
	__u16 port;       /* host order */
	__u8 verify;      /* enum agentd_verify of the range that allowed the address */
	__u8 range_index; /* that range, in the learned entry */
	char comm[16];    /* the process that connected: sk_msg may not ask (6.1) */
};

/* Per-CPU counts of one slot's verified connections. */
struct agentd_name_counts {
	__u64 verified;     /* showed an allowed name */
	__u64 refused;      /* refused on their first bytes (or by the packet wall) */
	__u64 unverifiable; /* another protocol, passed by address */
};

/* One stream of denials for the record rate limit. */
struct agentd_ratelimit_key {
	__u32 slot;
	__u32 family; /* AGENTD_FAMILY_*, 0 for socket creation */
	__u8 addr[16];
	__u16 port;   /* host order */
	__u8 protocol;
	__u8 hook;
};

struct agentd_ratelimit_value {
	__u64 window_start_ns; /* CLOCK_MONOTONIC */
	__u64 records;         /* records emitted in this window */
	__u64 suppressed;      /* held back since the last record (64-bit: BPF atomics) */
};

/* Global per-CPU counters (index into the stats array). */
enum agentd_stat {
	AGENTD_STAT_EVENTS_DROPPED = 0, /* denial records the ring could not take */
	AGENTD_STAT_UNCLASSIFIED = 1,   /* sockets judged without per-socket storage */
	AGENTD_STAT_MAX = 2,
};

/* ---- the denial record ------------------------------------------------ */

struct agentd_deny_event {
	__u64 timestamp_ns; /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	__u64 cgroup_id;    /* of the calling task */
	__u32 pid;
	__u32 tgid;
	__u32 uid;
	__u32 gid;
	__u32 slot;
	__u32 class_id;
	__u8 comm[16];
	__u8 addr[16];      /* IPv4 in addr[0..3] */
	__u32 addr_family;  /* AGENTD_FAMILY_* of addr, 0 for socket creation */
	__u16 port;         /* host byte order */
	__u8 family;        /* AF_INET / AF_INET6 (of the socket) */
	__u8 protocol;      /* IPPROTO_TCP / IPPROTO_UDP, or the socket's protocol */
	__u8 hook;          /* enum agentd_hook */
	__u8 reason;        /* enum agentd_deny_reason */
	__u8 range_index;   /* range of the rule value that decided, 0xff if none */
	__u8 _pad1;
	__u32 sock_type;    /* SOCK_STREAM, SOCK_DGRAM, SOCK_RAW ... */
	__u32 suppressed;   /* identical denials held back by the rate limit before this one */
	__u32 option;       /* setsockopt: level << 16 | optname; packet wall: the header or option type */
	__u32 held_before;  /* this sandbox's denials (any destination) its record budget held back since its last record */
	__u32 _pad2;
};

#define AGENTD_RANGE_NONE 0xff

/* A name check's record: the denial record and the name the first bytes
 * carried, if any, as the names trie holds it (lower-case, reversed). */
struct agentd_name_event {
	struct agentd_deny_event event;
	__u32 name_len;
	__u32 _pad;
	__u8 name[AGENTD_NAME_MAX];
};

/* One list for both compilers: C++ (agentd) and C (the BPF programs) must
 * agree on every layout the maps share. */
#ifdef __cplusplus
#define AGENTD_ABI_ASSERT(condition, what) static_assert(condition, what)
#else
#define AGENTD_ABI_ASSERT(condition, what) _Static_assert(condition, what)
#endif
AGENTD_ABI_ASSERT(sizeof(struct agentd_rule_key) == 28, "rule key layout");
AGENTD_ABI_ASSERT(sizeof(struct agentd_port_range) == 8, "port range layout");
AGENTD_ABI_ASSERT(sizeof(struct agentd_rule_value) == 8 + 8 * AGENTD_MAX_PORT_RANGES, "rule value layout");
AGENTD_ABI_ASSERT(sizeof(struct agentd_sandbox_state) == 8, "sandbox state layout");
AGENTD_ABI_ASSERT(sizeof(struct agentd_deny_event) == 104, "deny event layout");
AGENTD_ABI_ASSERT(sizeof(struct agentd_record_counts) == 24, "record counts layout");
AGENTD_ABI_ASSERT(sizeof(struct agentd_record_budget) == 16, "record budget layout");
AGENTD_ABI_ASSERT(sizeof(struct agentd_sock_info) == 28, "sock info layout");
AGENTD_ABI_ASSERT(sizeof(struct agentd_learned_key) == 24, "learned key layout");
AGENTD_ABI_ASSERT(sizeof(struct agentd_learned_value) == 8 + 8 + 8 * AGENTD_MAX_PORT_RANGES, "learned value layout");
AGENTD_ABI_ASSERT(sizeof(struct agentd_counters) == 24, "counters layout");
AGENTD_ABI_ASSERT(sizeof(struct agentd_name_key) == 256, "name key layout");
AGENTD_ABI_ASSERT(sizeof(struct agentd_name_sock) == 56, "name sock layout");
AGENTD_ABI_ASSERT(sizeof(struct agentd_name_counts) == 24, "name counts layout");
AGENTD_ABI_ASSERT(sizeof(struct agentd_traffic) == 80, "traffic layout");
AGENTD_ABI_ASSERT((AGENTD_TRAFFIC_CLASSES & (AGENTD_TRAFFIC_CLASSES - 1)) == 0, "traffic classes: a power of two");
AGENTD_ABI_ASSERT(sizeof(struct agentd_name_event) == 104 + 8 + AGENTD_NAME_MAX, "name event layout");
AGENTD_ABI_ASSERT(sizeof(struct agentd_dns_config) == 8, "dns config layout");
AGENTD_ABI_ASSERT(sizeof(struct agentd_dns6_port) == 4, "dns6 port layout");
AGENTD_ABI_ASSERT(sizeof(struct agentd_dnsns_key) == 16, "dns netns key layout");
AGENTD_ABI_ASSERT(sizeof(struct agentd_hostaddr_key) == 32, "host address key layout");
AGENTD_ABI_ASSERT(sizeof(struct agentd_ratelimit_key) == 28, "rate limit key layout");
AGENTD_ABI_ASSERT(sizeof(struct agentd_ratelimit_value) == 24, "rate limit value layout");

#endif /* AGENTD_ABI_H */
