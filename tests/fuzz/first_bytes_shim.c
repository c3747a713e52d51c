// bpf/first_bytes.h over a userspace buffer: fb_pull succeeds within the
// message (it is linear), fb_cork notes the length, fb_loop is a loop.
// The buffer is a copy of exactly `size` bytes, so a sanitizer catches
// any read past what the kernel would let the program see.
#include "first_bytes_shim.h"

#include <stdlib.h>
#include <string.h>

#include <linux/types.h>

struct fb_user_msg {
  void* data;
  void* data_end;
  __u32 size;
  __u32 cork;
};

static long fb_user_pull(struct fb_user_msg* msg, __u32 n) { return n <= msg->size ? 0 : -22; }

static long fb_user_loop(__u32 n, long (*step)(__u32, void*), void* ctx) {
  for (__u32 i = 0; i < n; i++)
    if (step(i, ctx)) return i + 1;
  return n;
}

#define FB_MSG struct fb_user_msg
#define fb_pull(msg, n) fb_user_pull(msg, n)
#define fb_cork(msg, n) ((msg)->cork = (n))
#define fb_loop(n, cb, ctx) fb_user_loop(n, cb, ctx)
#include "first_bytes.h"

void agentd_parse_first_bytes(const unsigned char* bytes, unsigned size, struct agentd_first_name* out) {
  unsigned char* copy = malloc(size ? size : 1);
  struct fb_user_msg msg;
  struct fb_scan scan;
  __u8 reversed[AGENTD_NAME_MAX];
  __u32 off = 0, len = 0;

  memset(out, 0, sizeof(*out));
  memset(&scan, 0, sizeof(scan));
  if (!copy) abort();
  if (size) memcpy(copy, bytes, size);
  msg.data = copy;
  msg.data_end = copy + size;
  msg.size = size;
  msg.cork = 0;
  out->result = fb_first_name(&msg, size, &scan, &off, &len);
  out->cork = msg.cork;
  if (out->result == FB_NAME) {
    out->stored = fb_copy_reversed(&msg, off, len, reversed);
    for (int i = 0; i < out->stored; i++) out->name[i] = (char)reversed[out->stored - 1 - i];
  }
  free(copy);
}
