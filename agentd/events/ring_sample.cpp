#include "agentd/events/ring_sample.hpp"

#include <algorithm>
#include <cstring>

namespace agentd::events {

std::optional<RingSample> decode_ring_sample(const void* data, size_t size) {
  if (size < sizeof(agentd_deny_event)) return std::nullopt;
  RingSample sample{};
  std::memcpy(&sample.event, data, sizeof(sample.event));
  if (sample.event.hook == AGENTD_HOOK_NAME_CHECK && size >= sizeof(agentd_name_event)) {
    const auto* record = static_cast<const agentd_name_event*>(data);
    sample.name = std::string_view(reinterpret_cast<const char*>(record->name),
                                   std::min<size_t>(record->name_len, sizeof(record->name)));
  }
  return sample;
}

}  // namespace agentd::events
