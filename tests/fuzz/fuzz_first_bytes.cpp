// Fuzz target for the kernel's first-bytes parser (bpf/first_bytes.h,
// through first_bytes_shim.c: the same code the sk_msg program runs), fed
// what a sandbox controls: a connection's first bytes. The parser must
// never read outside them (the shim hands it an exact-size copy, so ASan
// sees any overread), and a name it returns is lower-case host-name bytes
// only, shorter than the names trie's limit. Built with libFuzzer by
// scripts/fuzz; with a replay main in every build (first_bytes_replay).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "agentd_abi.h"
#include "first_bytes.h"
#include "first_bytes_shim.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 20000) return 0;
  agentd_first_name out{};
  agentd_parse_first_bytes(data, static_cast<unsigned>(size), &out);
  if (out.result < FB_NAME || out.result > FB_UNPARSABLE) std::abort();
  if (out.result == FB_MORE && out.cork <= size) std::abort();  // it waits for more than it has
  if (out.result == FB_NAME && out.stored >= 0) {
    if (out.stored == 0 || out.stored >= AGENTD_NAME_MAX || std::strlen(out.name) != static_cast<size_t>(out.stored))
      std::abort();
    for (int i = 0; i < out.stored; ++i) {
      const char c = out.name[i];
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_')) std::abort();
    }
  }
  return 0;
}
