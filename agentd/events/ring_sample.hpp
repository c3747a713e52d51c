// One sample of the denial ring as the kernel wrote it: a deny event, and
// for a name check the name its first bytes carried. Pure, so the fuzz
// target reads arbitrary bytes exactly as the daemon's ring callback does.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "agentd_abi.h"

namespace agentd::events {

struct RingSample {
  agentd_deny_event event;
  std::string_view name;  // reversed, as the names trie holds it; into the sample's bytes
};

// nullopt: too short to be a record (counted as malformed, skipped). A
// name check's name_len is trusted no further than the record's own size.
std::optional<RingSample> decode_ring_sample(const void* data, size_t size);

}  // namespace agentd::events
