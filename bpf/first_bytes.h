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
#define FB_HTTP_METHOD_MAX 16   /* the request line's first blank, at most */
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
	__u32 flags;   /* FB_TLS_SEEN_*; HTTP: FB_HTTP_TARGET_MATCHES */
	/* HTTP: an absolute-form target's authority, 0: origin form */
	__u32 target;
	__u32 _pad2;
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

/* A byte of an HTTP token (RFC 9110 5.6.2): what a method is made of. */
AGENTD_INLINE int fb_tchar(__u8 c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '!' || c == '#' ||
	       c == '$' || c == '%' || c == '&' || c == '\'' || c == '*' || c == '+' || c == '-' || c == '.' ||
	       c == '^' || c == '_' || c == '`' || c == '|' || c == '~';
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

	(void)i;
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

#define FB_HTTP_TARGET_MATCHES 1

/* The end of an absolute-form target's host: what may follow it. */
AGENTD_INLINE int fb_authority_end(__u8 c)
{
	return c == '/' || c == '?' || c == '#' || c == ' ' || c == ':';
}

/*
 * One byte of an absolute-form target's host against the same byte of the
 * Host value (hosts: its start, hdr_end: its length), case aside. They
 * match when the target's host ends exactly where the Host value does.
 */
static long fb_http_target_step(__u32 i, void *ctx)
{
	struct fb_scan_ctx *c = (struct fb_scan_ctx *)ctx;
	void *data = c->msg->data, *end = c->msg->data_end;
	__u32 t = (c->out->target + i) & FB_HTTP_MASK;
	__u32 h = (c->out->hosts + i) & FB_HTTP_MASK;
	__u8 tc;

	if (data + t + 1 > end)
		return 1;
	tc = *(__u8 *)(data + t);
	if (i == c->out->hdr_end) {
		if (fb_authority_end(tc))
			c->out->flags = FB_HTTP_TARGET_MATCHES;
		return 1;
	}
	if (data + h + 1 > end || fb_authority_end(tc))
		return 1;
	return fb_lower(tc) != fb_lower(*(__u8 *)(data + h));
}

/* "http://" or "https://", any case, at off: the authority's offset, or 0. */
AGENTD_INLINE __u32 fb_http_absolute_target(void *data, void *end, __u32 off)
{
	__u32 w;

	off &= 0x1f;
	if (data + off + 8 > end)
		return 0;
	w = ((__u32) * (__u8 *)(data + off) << 24) | ((__u32) * (__u8 *)(data + off + 1) << 16) |
	    ((__u32) * (__u8 *)(data + off + 2) << 8) | *(__u8 *)(data + off + 3);
	if ((w | 0x20202020) != 0x68747470 /* "http" */)
		return 0;
	off += 4;
	if ((*(__u8 *)(data + off) | 0x20) == 's')
		off += 1;
	if (data + off + 3 > end)
		return 0;
	if (*(__u8 *)(data + off) != ':' || *(__u8 *)(data + off + 1) != '/' || *(__u8 *)(data + off + 2) != '/')
		return 0;
	return off + 3;
}

/*
 * HTTP/1.x: the header block must be whole (corked a byte at a time, up to
 * FB_HTTP_MAX), with exactly one Host header. An absolute-form target
 * ("GET http://host/", as sent to proxies) is taken only when its host is
 * the Host header's: servers route by the target's host over Host's
 * (RFC 9112 3.2.2), front ends sometimes by Host, so both must name the
 * same, checked site. Any other target form (authority-form CONNECT,
 * userinfo, an IP literal, another scheme) is refused.
 */
AGENTD_INLINE int fb_parse_http(FB_MSG *msg, __u32 size, struct fb_scan *scan, __u32 *name_off, __u32 *name_len)
{
	struct fb_scan_ctx c = { msg, scan };
	__u32 i, lim, first_sp = 0;
	void *data, *end;

	lim = size < FB_HTTP_MAX ? size : FB_HTTP_MAX;
	if (fb_pull(msg, lim))
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
	/* The block is whole: the request line's target, after the method
	 * (a token; a tab or other byte where a lenient server might see a
	 * blank is refused). */
	data = msg->data;
	end = msg->data_end;
	for (i = 1; i < FB_HTTP_METHOD_MAX + 1; i++) {
		__u8 ch;

		if (data + i + 2 > end)
			break;
		ch = *(__u8 *)(data + i);
		if (ch == ' ') {
			first_sp = i;
			break;
		}
		if (!fb_tchar(ch))
			return FB_UNPARSABLE;
	}
	if (!first_sp || data + first_sp + 2 > end)
		return FB_UNPARSABLE;
	scan->target = 0;
	if (*(__u8 *)(data + first_sp + 1) != '/' && *(__u8 *)(data + first_sp + 1) != '*') {
		scan->target = fb_http_absolute_target(data, end, first_sp + 1);
		if (!scan->target)
			return FB_UNPARSABLE;
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
	if (scan->target) {
		scan->flags = 0;
		fb_loop(AGENTD_NAME_MAX + 1, fb_http_target_step, &c);
		if (scan->flags != FB_HTTP_TARGET_MATCHES)
			return FB_UNPARSABLE;
	}
	*name_off = scan->hosts;
	*name_len = scan->hdr_end;
	return FB_NAME;
}

#define FB_KIND_OTHER 0
#define FB_KIND_TLS 1
#define FB_KIND_HTTP 2
#define FB_KIND_MORE 3
#define FB_KIND_REFUSE 4

/* One byte of the first line: where it ends (hdr_end: one past its \n). */
static long fb_line_end_step(__u32 i, void *ctx)
{
	struct fb_scan_ctx *c = (struct fb_scan_ctx *)ctx;
	void *data = c->msg->data, *end = c->msg->data_end;

	i &= FB_HTTP_MASK;
	if (data + i + 1 > end)
		return 1;
	if (*(__u8 *)(data + i) == '\n') {
		c->out->hdr_end = i + 1;
		return 1;
	}
	return 0;
}

/*
 * A line that begins with a method we do not know ("XPOST / HTTP/1.1"):
 * HTTP if it ends in a version, as every server reads it (nginx takes any
 * upper-case method, Go any token, and routes by Host). Held until the
 * line is whole; IMAP's "a1 LOGIN ..." and the like pass as another protocol.
 */
AGENTD_INLINE int fb_classify_line(FB_MSG *msg, __u32 size, struct fb_scan *scan)
{
	struct fb_scan_ctx c = { msg, scan };
	void *data, *end;
	__u32 e, i;

	if (fb_pull(msg, size < FB_HTTP_MAX ? size : FB_HTTP_MAX))
		return FB_KIND_REFUSE;
	scan->hdr_end = 0;
	fb_loop(FB_HTTP_MAX, fb_line_end_step, &c);
	if (!scan->hdr_end) {
		if (size >= FB_HTTP_MAX)
			return FB_KIND_REFUSE; /* a request line longer than we read */
		fb_cork(msg, size + 1);
		return FB_KIND_MORE;
	}
	data = msg->data;
	end = msg->data_end;
	e = scan->hdr_end - 1; /* the \n */
	for (i = 0; i < 8 && e > 0; i++) {
		__u32 j = (e - 1) & FB_HTTP_MASK;
		__u8 ch;

		if (data + j + 1 > end)
			return FB_KIND_OTHER;
		ch = *(__u8 *)(data + j);
		if (ch != '\r' && ch != ' ' && ch != '\t')
			break;
		e = j;
	}
	/* " HTTP/d.d" before the line's end, any case */
	e &= FB_HTTP_MASK;
	if (e < 9 || data + e > end)
		return FB_KIND_OTHER;
	{
		__u32 v = e - 9;
		__u32 w;

		if (data + v + 9 > end)
			return FB_KIND_OTHER;
		w = ((__u32) * (__u8 *)(data + v + 1) << 24) | ((__u32) * (__u8 *)(data + v + 2) << 16) |
		    ((__u32) * (__u8 *)(data + v + 3) << 8) | *(__u8 *)(data + v + 4);
		if ((*(__u8 *)(data + v) == ' ' || *(__u8 *)(data + v) == '\t') && (w | 0x20202020) == 0x68747470 &&
		    *(__u8 *)(data + v + 5) == '/' && *(__u8 *)(data + v + 7) == '.')
			return FB_KIND_HTTP;
	}
	return FB_KIND_OTHER;
}
/*
 * Which protocol the bytes start. What could still become a request is
 * held, not passed as "another protocol": a first write of "G" may be
 * "GET ...", and servers skip a leading CRLF before the request line
 * (RFC 9112 2.2), so a leading CR or LF is refused. A token and a blank
 * start a request line when the line ends in an HTTP version, whatever
 * the method.
 */
AGENTD_INLINE int fb_classify(FB_MSG *msg, __u32 size, struct fb_scan *scan)
{
	__u32 head = size < FB_HTTP_METHOD_MAX + 1 ? size : FB_HTTP_METHOD_MAX + 1;
	void *data, *end;
	__u32 i, w;

	if (fb_pull(msg, head))
		return FB_KIND_REFUSE;
	data = msg->data;
	end = msg->data_end;
	if (data + 1 > end)
		return FB_KIND_REFUSE;
	if (*(__u8 *)data == FB_TLS_HANDSHAKE)
		return FB_KIND_TLS;
	if (*(__u8 *)data == '\r' || *(__u8 *)data == '\n')
		return FB_KIND_REFUSE;
	if (data + 4 <= end) {
		w = ((__u32) * (__u8 *)data << 24) | ((__u32) * (__u8 *)(data + 1) << 16) |
		    ((__u32) * (__u8 *)(data + 2) << 8) | *(__u8 *)(data + 3);
		if (w == 0x50524920 /* "PRI " */)
			return FB_KIND_REFUSE;
		if (fb_http_method(w))
			return FB_KIND_HTTP;
	}
	for (i = 0; i < FB_HTTP_METHOD_MAX + 1; i++) {
		__u8 ch;

		if (data + i + 1 > end) {
			if (i < size)
				return FB_KIND_REFUSE; /* pulled less than asked */
			fb_cork(msg, size + 1); /* a token so far: maybe a method */
			return FB_KIND_MORE;
		}
		ch = *(__u8 *)(data + i);
		if ((ch == ' ' || ch == '\t') && i > 0) /* a tab, for lenient servers */
			return fb_classify_line(msg, size, scan);
		if (!fb_tchar(ch))
			return FB_KIND_OTHER;
	}
	/* A token longer than the methods we read: nginx takes an upper-case
	 * method of any length, so it is HTTP too when its line says so. */
	return fb_classify_line(msg, size, scan);
}

/* The name the first bytes carry, or why there is none (enum fb_result). */
AGENTD_INLINE int fb_first_name(FB_MSG *msg, __u32 size, struct fb_scan *scan, __u32 *name_off, __u32 *name_len)
{
	switch (fb_classify(msg, size, scan)) {
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
