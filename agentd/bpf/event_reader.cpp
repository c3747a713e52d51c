#include "agentd/bpf/event_reader.hpp"

#include "agentd/common/guard.hpp"
#include "agentd/events/ring_sample.hpp"

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
    const auto sample = events::decode_ring_sample(data, size);
    if (!sample) {
      ++s->malformed;
      return 0;
    }
    // libbpf is C: an exception must not unwind through it. A record that
    // cannot be handled is counted and skipped; returning 0 consumes it,
    // so it never stands in front of the records after it, nor makes the
    // next agentd (which finds it still in the pinned ring) fail again.
    guarded("a denial record", s->failed, [&] { s->handler(sample->event, sample->name); });
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
