/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The name a connection's first bytes carry: a TLS ClientHello's SNI or an
 * HTTP/1.x request's Host. Shared word for word by the sk_msg program
 * (name_check.bpf.h) and by userspace (the unit tests, the fuzz target),
 * so what they test is what the kernel runs. The includer supplies:
 *
 *   FB_MSG               the message: `data` and `data_end` byte pointers
 *   fb_pull(msg, n)      makes bytes [0, n) linear at data; nonzero: cannot
 *   fb_cork(msg, n)      holds the message until n bytes are there, then
 *                        runs the check again over all of them
 *   fb_loop(n, cb, ctx)  bpf_loop: cb(i, ctx) for i < n until it returns 1
 *
 * Every offset is masked and every read bounds-checked against data_end:
 * the verifier needs it, and it is what keeps a hostile message from
 * reading out of bounds in userspace too.
 */
#ifndef AGENTD_FIRST_BYTES_H
#define AGENTD_FIRST_BYTES_H

#include "agentd_abi.h"

#ifndef AGENTD_INLINE
#define AGENTD_INLINE static inline
#endif

#define FB_PARSE_MASK 0x7fff      /* offsets within a TLS record (16 KiB + 5) */
#define FB_TLS_MAX_RECORD 16384
#define FB_TLS_MAX_EXTENSIONS 48
#define FB_HTTP_MAX 4096          /* an HTTP request's header block, at most */
#define FB_HTTP_MASK 0xfff
#define FB_TLS_HANDSHAKE 0x16
#define FB_TLS_CLIENT_HELLO 1
#define FB_TLS_EXT_SERVER_NAME 0
#define FB_TLS_EXT_ECH 0xfe0d

enum fb_result {
	FB_NAME = 0,       /* the name is at [*name_off, *name_off + *name_len) */
	FB_MORE = 1,       /* corked: the check runs again with more bytes */
	FB_OTHER = 2,      /* neither TLS nor HTTP: another protocol */
	FB_NO_NAME = 3,    /* a ClientHello without SNI, a request without Host */
	FB_ECH = 4,        /* a ClientHello with Encrypted Client Hello */
	FB_UNPARSABLE = 5, /* TLS or HTTP that does not parse, or that we will not guess at */
};

/* The parser itself needs the includer's accessors; the constants above
 * are enough for code that only reads its results. */
#ifdef FB_MSG

/* The HTTP scan's state: kept outside the stack (a map value in the
 * kernel), or the verifier walks every state a bpf_loop callback leaves. */
struct fb_scan {
	__u32 host;    /* offset after the first "\nHost:"; then the value's start */
	__u32 hosts;   /* Host headers seen (saturates at 2) */
	__u32 hdr_end; /* offset of the blank line, 0: not yet; then the value's length */
	__u32 _pad;
	/* TLS: the extension walk */
	__u32 off;     /* the next extension */
	__u32 ext_end; /* where the extensions end */
	__u32 sni;     /* the server_name extension's body, 0: none */
	__u32 flags;   /* FB_TLS_SEEN_* */
};

#define FB_TLS_SEEN_ECH 1
#define FB_TLS_SEEN_BAD 2

struct fb_scan_ctx {
	FB_MSG *msg;
	struct fb_scan *out;
};

AGENTD_INLINE __u32 fb_be16(const void *p)
{
	const __u8 *b = (const __u8 *)p;

	return ((__u32)b[0] << 8) | b[1];
}

AGENTD_INLINE __u8 fb_lower(__u8 c)
{
	return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

/* A host-name byte, after lowering: a-z 0-9 - . _ */
AGENTD_INLINE int fb_name_byte(__u8 c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

/*
 * TLS: the record header, the ClientHello, its extensions. A ClientHello
 * larger than the first write is corked until its record is whole (one
 * record at most: a ClientHello spread over records is refused).
 */
/* One extension: its type and length; the walk's state is in the scan
 * (a map value in the kernel), so the verifier checks one step, not 48. */
static long fb_tls_ext_step(__u32 i, void *ctx)
{
	struct fb_scan_ctx *c = (struct fb_scan_ctx *)ctx;
	void *data = c->msg->data, *end = c->msg->data_end;
	struct fb_scan *s = c->out;
	__u32 off = s->off, type, len;

	if (off >= s->ext_end)
		return 1;
	off &= FB_PARSE_MASK;
	if (data + off + 4 > end) {
		s->flags |= FB_TLS_SEEN_BAD;
		return 1;
	}
	type = fb_be16(data + off);
	len = fb_be16(data + off + 2);
	if (type == FB_TLS_EXT_SERVER_NAME) {
		if (s->sni) {
			s->flags |= FB_TLS_SEEN_BAD; /* two SNI extensions: which one counts? */
			return 1;
		}
		s->sni = off + 4;
	} else if (type == FB_TLS_EXT_ECH) {
		s->flags |= FB_TLS_SEEN_ECH;
	}
	s->off = off + 4 + len;
	return 0;
}

AGENTD_INLINE int fb_parse_tls(FB_MSG *msg, __u32 size, struct fb_scan *scan, __u32 *name_off, __u32 *name_len)
{
	struct fb_scan_ctx c = { msg, scan };
	__u32 rec_len, need, hs_len, off, ext_end, sni, ech;
	void *data, *end;

	if (size < 5) {
		fb_cork(msg, 5);
		return FB_MORE;
	}
	if (fb_pull(msg, 5))
		return FB_UNPARSABLE;
	data = msg->data;
	end = msg->data_end;
	if (data + 5 > end)
		return FB_UNPARSABLE;
	rec_len = fb_be16(data + 3);
	if (rec_len < 4 || rec_len > FB_TLS_MAX_RECORD)
		return FB_UNPARSABLE;
	need = 5 + rec_len;
	if (size < need) {
		fb_cork(msg, need);
		return FB_MORE;
	}
	/* Linear [0, need): a no-op when the message sits in one page. */
	if (fb_pull(msg, need))
		return FB_UNPARSABLE;
	data = msg->data;
	end = msg->data_end;
	if (data + need > end || data + 9 > end)
		return FB_UNPARSABLE;
	if (*(__u8 *)(data + 5) != FB_TLS_CLIENT_HELLO)
		return FB_UNPARSABLE;
	hs_len = ((__u32) * (__u8 *)(data + 6) << 16) | fb_be16(data + 7);
	if (hs_len + 4 > rec_len)
		return FB_UNPARSABLE;
	ext_end = 9 + hs_len;
	off = 9 + 2 + 32; /* legacy_version, random */
	if (data + ((off + 1) & FB_PARSE_MASK) > end)
		return FB_UNPARSABLE;
	off = off + 1 + *(__u8 *)(data + (off & FB_PARSE_MASK)); /* session id */
	off &= FB_PARSE_MASK;
	if (data + off + 2 > end)
		return FB_UNPARSABLE;
	off = off + 2 + fb_be16(data + off); /* cipher suites */
	off &= FB_PARSE_MASK;
	if (data + off + 1 > end)
		return FB_UNPARSABLE;
	off = off + 1 + *(__u8 *)(data + off); /* compression methods */
	off &= FB_PARSE_MASK;
	if (data + off + 2 > end)
		return FB_UNPARSABLE;
	if (off + 2 + fb_be16(data + off) != ext_end)
		return FB_UNPARSABLE;
	scan->off = off + 2;
	scan->ext_end = ext_end;
	scan->sni = 0;
	scan->flags = 0;
	fb_loop(FB_TLS_MAX_EXTENSIONS, fb_tls_ext_step, &c);
	if (scan->flags & FB_TLS_SEEN_BAD)
		return FB_UNPARSABLE;
	if (scan->off != ext_end)
		return FB_UNPARSABLE; /* more extensions than we walk, or an overlong one */
	ech = scan->flags & FB_TLS_SEEN_ECH;
	sni = scan->sni;
	if (ech)
		return FB_ECH;
	if (!sni)
		return FB_NO_NAME;
	/* server_name_list: u16 list length, u8 type 0 (host_name), u16 length */
	sni &= FB_PARSE_MASK;
	if (data + sni + 5 > end)
		return FB_UNPARSABLE;
	if (*(__u8 *)(data + sni + 2) != 0)
		return FB_NO_NAME;
	*name_len = fb_be16(data + sni + 3);
	if (fb_be16(data + sni) != 3 + *name_len)
		return FB_UNPARSABLE; /* exactly one name in the list */
	*name_off = sni + 5;
	return FB_NAME;
}

/* Request methods we know; "PRI " (HTTP/2 prior knowledge) is not one. */
AGENTD_INLINE int fb_http_method(__u32 w)
{
	return w == 0x47455420 /* "GET " */ || w == 0x504f5354 /* "POST" */ || w == 0x48454144 /* "HEAD" */ ||
	       w == 0x50555420 /* "PUT " */ || w == 0x44454c45 /* "DELE" */ || w == 0x4f505449 /* "OPTI" */ ||
	       w == 0x50415443 /* "PATC" */ || w == 0x434f4e4e /* "CONN" */ || w == 0x54524143 /* "TRAC" */;
}

/* One byte of the header block: its end, and the Host headers. */
static long fb_http_scan_step(__u32 i, void *ctx)
{
	struct fb_scan_ctx *c = (struct fb_scan_ctx *)ctx;
	void *data = c->msg->data, *end = c->msg->data_end;
	__u8 b0, b1, b2 = 0, b3 = 0;
	__u32 w;

	i &= FB_HTTP_MASK;
	if (data + i + 2 > end)
		return 1;
	b0 = *(__u8 *)(data + i);
	b1 = *(__u8 *)(data + i + 1);
	if (data + i + 3 <= end)
		b2 = *(__u8 *)(data + i + 2);
	if (data + i + 4 <= end)
		b3 = *(__u8 *)(data + i + 3);
	/* The blank line that ends the block, even as the message's last
	 * bytes: \r\n\r\n, or the bare \n\n and \n\r\n that servers take too. */
	if ((b0 == '\n' && b1 == '\n') || (b0 == '\n' && b1 == '\r' && b2 == '\n') ||
	    (b0 == '\r' && b1 == '\n' && b2 == '\r' && b3 == '\n')) {
		c->out->hdr_end = i + 1;
		return 1;
	}
	if (data + i + 6 > end)
		return 0;
	w = ((__u32)b0 << 24) | ((__u32)b1 << 16) | ((__u32)b2 << 8) | b3;
	if ((w | 0x00202020) == 0x0a686f73 /* "\nhos" */ && (*(__u8 *)(data + i + 4) | 0x20) == 't' &&
	    *(__u8 *)(data + i + 5) == ':') {
		if (!c->out->hosts)
			c->out->host = i + 6;
		c->out->hosts = 1 + (c->out->hosts ? 1 : 0);
	}
	return 0;
}

/* One byte of the Host value: blanks before it, then up to its end. */
static long fb_http_value_step(__u32 i, void *ctx)
{
	struct fb_scan_ctx *c = (struct fb_scan_ctx *)ctx;
	void *data = c->msg->data, *end = c->msg->data_end;
	__u32 p = (c->out->host + i) & FB_PARSE_MASK;
	__u8 ch;

	if (data + p + 1 > end)
		return 1;
	ch = *(__u8 *)(data + p);
	if (!c->out->hosts) {
		if (ch == ' ' || ch == '\t')
			return 0;
		c->out->hosts = p; /* the value's start (> 0) */
	}
	if (ch == '\r' || ch == '\n' || ch == ':' || ch == ' ' || ch == '\t') {
		c->out->hdr_end = p - c->out->hosts;
		return 1;
	}
	return 0;
}

/*
 * HTTP/1.x: the header block must be whole (corked a byte at a time, up to
 * FB_HTTP_MAX), with exactly one Host header. An absolute-form target
 * ("GET http://host/") is refused: servers take its host over Host's.
 */
AGENTD_INLINE int fb_parse_http(FB_MSG *msg, __u32 size, struct fb_scan *scan, __u32 *name_off, __u32 *name_len)
{
	struct fb_scan_ctx c = { msg, scan };
	__u32 i, lim, first_sp = 0;
	void *data, *end;

	lim = size < FB_HTTP_MAX ? size : FB_HTTP_MAX;
	if (fb_pull(msg, lim))
		return FB_UNPARSABLE;
	data = msg->data;
	end = msg->data_end;
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
		return FB_UNPARSABLE;
	scan->host = 0;
	scan->hosts = 0;
	scan->hdr_end = 0;
	fb_loop(FB_HTTP_MAX - 4, fb_http_scan_step, &c);
	if (!scan->hdr_end) {
		if (size >= FB_HTTP_MAX)
			return FB_UNPARSABLE;
		fb_cork(msg, size + 1); /* the rest of the header block */
		return FB_MORE;
	}
	if (!scan->host)
		return FB_NO_NAME;
	if (scan->hosts != 1)
		return FB_UNPARSABLE; /* two Host headers: servers disagree which counts */
	scan->hosts = 0;   /* reused: the value's start */
	scan->hdr_end = 0; /* reused: the value's length */
	fb_loop(8 + AGENTD_NAME_MAX, fb_http_value_step, &c);
	if (!scan->hdr_end)
		return FB_UNPARSABLE;
	*name_off = scan->hosts;
	*name_len = scan->hdr_end;
	return FB_NAME;
}

#define FB_KIND_OTHER 0
#define FB_KIND_TLS 1
#define FB_KIND_HTTP 2
#define FB_KIND_MORE 3
#define FB_KIND_REFUSE 4

/*
 * Which protocol the bytes start. What could still become a request is
 * held, not passed as "another protocol": a first write of "G" may be
 * "GET ...", and servers skip a leading CRLF before the request line
 * (RFC 9112 2.2), so a leading CR or LF is refused.
 */
AGENTD_INLINE int fb_classify(FB_MSG *msg, __u32 size)
{
	void *data, *end;
	__u32 w;

	if (fb_pull(msg, size < 4 ? size : 4))
		return FB_KIND_REFUSE;
	data = msg->data;
	end = msg->data_end;
	if (data + 1 > end)
		return FB_KIND_REFUSE;
	if (*(__u8 *)data == FB_TLS_HANDSHAKE)
		return FB_KIND_TLS;
	if (*(__u8 *)data == '\r' || *(__u8 *)data == '\n')
		return FB_KIND_REFUSE;
	if (data + 4 > end) {
		__u8 ch = *(__u8 *)data;

		if (ch >= 'A' && ch <= 'Z') {
			fb_cork(msg, 4);
			return FB_KIND_MORE;
		}
		return FB_KIND_OTHER;
	}
	w = ((__u32) * (__u8 *)data << 24) | ((__u32) * (__u8 *)(data + 1) << 16) |
	    ((__u32) * (__u8 *)(data + 2) << 8) | *(__u8 *)(data + 3);
	if (w == 0x50524920 /* "PRI " */)
		return FB_KIND_REFUSE;
	return fb_http_method(w) ? FB_KIND_HTTP : FB_KIND_OTHER;
}

/* The name the first bytes carry, or why there is none (enum fb_result). */
AGENTD_INLINE int fb_first_name(FB_MSG *msg, __u32 size, struct fb_scan *scan, __u32 *name_off, __u32 *name_len)
{
	switch (fb_classify(msg, size)) {
	case FB_KIND_TLS:
		return fb_parse_tls(msg, size, scan, name_off, name_len);
	case FB_KIND_HTTP:
		return fb_parse_http(msg, size, scan, name_off, name_len);
	case FB_KIND_MORE:
		return FB_MORE;
	case FB_KIND_REFUSE:
		return FB_UNPARSABLE;
	default:
		return FB_OTHER;
	}
}

/*
 * The name at [off, off + len), lower-cased and reversed into out (the
 * names trie's form, agentd_name_key), one trailing dot dropped. Returns
 * the stored length, or -1 for a byte no host name has or a name of
 * AGENTD_NAME_MAX bytes or more (no room for the NUL the caller adds).
 */
struct fb_copy_ctx {
	FB_MSG *msg;
	__u32 off, len;
	__u8 *out;
	int bad;
};

/* One byte of the name, from its end: lowered, checked, stored. */
static long fb_copy_step(__u32 i, void *ctx)
{
	struct fb_copy_ctx *c = (struct fb_copy_ctx *)ctx;
	void *data = c->msg->data, *end = c->msg->data_end;
	__u32 pos;
	__u8 ch;

	if (i >= c->len || i >= AGENTD_NAME_MAX - 1)
		return 1;
	pos = (c->off + c->len - 1 - i) & FB_PARSE_MASK;
	if (data + pos + 1 > end) {
		c->bad = 1;
		return 1;
	}
	ch = fb_lower(*(__u8 *)(data + pos));
	if (!fb_name_byte(ch)) {
		c->bad = 1;
		return 1;
	}
	/* Masked in the instruction stream: the compiler would fold it
	 * into the check above, which the verifier does not carry over. */
#ifdef __bpf__
	asm volatile("%0 &= 0xff" : "+r"(i));
#else
	i &= 0xff;
#endif
	c->out[i] = ch;
	return 0;
}

/*
 * The name at [off, off + len), lower-cased and reversed into out (the
 * names trie's form, agentd_name_key; AGENTD_NAME_MAX bytes), one trailing
 * dot dropped. Returns the stored length, or -1 for a byte no host name
 * has or a name of AGENTD_NAME_MAX bytes or more (no room for the NUL the
 * caller adds). A loop callback: the verifier checks one step, not each.
 */
AGENTD_INLINE int fb_copy_reversed(FB_MSG *msg, __u32 off, __u32 len, __u8 *out)
{
	void *data = msg->data, *end = msg->data_end;
	struct fb_copy_ctx c;

	if (len > 1 && data + ((off + len - 1) & FB_PARSE_MASK) + 1 <= end &&
	    *(__u8 *)(data + ((off + len - 1) & FB_PARSE_MASK)) == '.')
		len -= 1;
	if (len == 0 || len > AGENTD_NAME_MAX - 1)
		return -1;
	c.msg = msg;
	c.off = off;
	c.len = len;
	c.out = out;
	c.bad = 0;
	fb_loop(AGENTD_NAME_MAX - 1, fb_copy_step, &c);
	return c.bad ? -1 : (int)len;
}

#endif /* FB_MSG */

#endif /* AGENTD_FIRST_BYTES_H */
