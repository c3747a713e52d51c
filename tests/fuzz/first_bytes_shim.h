// The kernel's first-bytes parser (bpf/first_bytes.h) built for userspace:
// the same code, over a buffer instead of an sk_msg. Used by the unit
// tests and the fuzz target.
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

struct agentd_first_name {
  int result;      // enum fb_result
  unsigned cork;   // FB_MORE: the bytes the kernel would wait for
  int stored;      // FB_NAME: the name's length as stored, -1 when refused
  char name[256];  // FB_NAME: the name in reading order, NUL-terminated
};

// What the sk_msg program finds in the first `size` bytes of a connection.
void agentd_parse_first_bytes(const unsigned char* bytes, unsigned size, struct agentd_first_name* out);

#ifdef __cplusplus
}
#endif
