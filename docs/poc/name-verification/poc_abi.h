/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Types shared by sni.bpf.c and loader.c. */
#ifndef POC_ABI_H
#define POC_ABI_H
#include <linux/types.h>

#define POC_NAME_MAX 248            /* reversed name + '\0' (LPM data <= 256) */
#define POC_PARSE_MASK 0x7fff       /* offsets masked for the verifier */
#define POC_TLS_MAX_RECORD 16384
#define POC_TLS_MAX_EXTENSIONS 48
#define POC_HTTP_MAX 4096

enum { POC_NONE = 0, POC_PENDING = 1, POC_VERIFIED = 2, POC_REFUSED = 3 };
enum { POC_KIND_OTHER, POC_KIND_TLS, POC_KIND_HTTP, POC_KIND_CORK, POC_KIND_REFUSE };
enum {
	POC_REASON_OK = 0,
	POC_REASON_NAME_DENIED = 1,
	POC_REASON_NO_SNI = 2,
	POC_REASON_ECH = 3,
	POC_REASON_FRAGMENTED = 4,
	POC_REASON_UNPARSABLE = 5,
	POC_REASON_NOT_CLIENT_HELLO = 6,
	POC_REASON_BAD_NAME = 7,
	POC_REASON_ABSOLUTE_FORM = 8,
	POC_REASON_OTHER_PROTOCOL = 9,
};
enum {
	POC_STAT_MARKED, POC_STAT_INSERTED, POC_STAT_INSERT_FAILED, POC_STAT_MSG_RUNS, POC_STAT_CORKED,
	POC_STAT_VERIFIED, POC_STAT_REFUSED, POC_STAT_REMOVED, POC_STAT_SKB_DROPPED, POC_STAT_HDR_RUNS, POC_STAT_MAX
};
enum { POC_ALLOW = 1, POC_DENY = 2 };

struct poc_sock {
	__u64 cookie;
	__u32 state;
	__u32 scope; /* agentd: class id (or slot for grants) */
	__u8 addr[16];
	__u16 port;
	__u8 family;
	__u8 _pad;
};

struct poc_name_key {
	__u32 prefixlen; /* 32 (scope) + 8 * bytes of reversed name */
	__u32 scope;
	__u8 name[POC_NAME_MAX];
};

struct poc_name_value {
	__u32 action;  /* agentd: struct agentd_rule_value (port ranges) */
	__u32 rule_id;
	__u16 port_lo, port_hi;
};

struct poc_scan {
	__u32 host;    /* offset after the first "\nHost:" */
	__u32 hosts;   /* Host headers seen (saturates at 2) */
	__u32 hdr_end; /* offset of the blank line, 0: not yet */
};

struct poc_event {
	__u64 cookie;
	__u64 pid_tgid;
	__u8 addr[16];
	__u16 port;
	__u8 family;
	__u8 reason;
	__u8 verdict;
	__u8 _pad[3];
	__u32 name_len;
	__u32 msg_size;
	__u8 rname[64]; /* reversed name, first 64 bytes */
};
#endif
