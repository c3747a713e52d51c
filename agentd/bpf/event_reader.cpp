#include "agentd/bpf/event_reader.hpp"

#include "agentd/common/guard.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace agentd::bpf {
namespace {
constexpr int kBudgetSpent = -EAGAIN;
}  // namespace

Result<EventReader> EventReader::open(int ring_map_fd, Handler handler) {
  auto state = std::make_unique<State>(State{std::move(handler)});
  auto callback = [](void* ctx, void* data, size_t size) -> int {
    auto* s = static_cast<State*>(ctx);
    if (size < sizeof(agentd_deny_event)) {
      ++s->malformed;
      return 0;
    }
    agentd_deny_event event;
    std::memcpy(&event, data, sizeof(event));
    std::string_view name;
    if (event.hook == AGENTD_HOOK_NAME_CHECK && size >= sizeof(agentd_name_event)) {
      const auto* record = static_cast<const agentd_name_event*>(data);
      name = std::string_view(reinterpret_cast<const char*>(record->name),
                              std::min<size_t>(record->name_len, sizeof(record->name)));
    }
    // libbpf is C: an exception must not unwind through it. A record that
    // cannot be handled is counted and skipped; returning 0 consumes it,
    // so it never stands in front of the records after it, nor makes the
    // next agentd (which finds it still in the pinned ring) fail again.
    guarded("a denial record", s->failed, [&] { s->handler(event, name); });
    // Negative stops ring_buffer__consume; this record is consumed already.
    return --s->budget > 0 ? 0 : kBudgetSpent;
  };
  RingBufferPtr ring(ring_buffer__new(ring_map_fd, callback, state.get(), nullptr));
  if (!ring) return system_error("opening the denial ring buffer");
  return EventReader(std::move(state), std::move(ring));
}

Result<int> EventReader::drain() {
  state_->budget = kMaxRecordsPerDrain;
  int n = ring_buffer__consume(ring_.get());
  if (n == kBudgetSpent && state_->budget <= 0) return kMaxRecordsPerDrain;
  if (n < 0) {
    errno = -n;
    return system_error("reading the denial ring buffer");
  }
  return n;
}

}  // namespace agentd::bpf
