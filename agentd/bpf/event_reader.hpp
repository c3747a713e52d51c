// Drains the denial ring buffer. The BPF side wakes us only when the ring
// fills up (waking per record was costly), so the owner also calls drain()
// on a short timer.
#pragma once

#include <functional>
#include <string_view>

#include "agentd/bpf/libbpf_ptr.hpp"
#include "agentd/common/result.hpp"
#include "agentd_abi.h"

namespace agentd::bpf {

class EventReader {
 public:
  // `name`: what a name check's record says the connection's first bytes
  // carried (reversed, as the names trie holds it); empty for the rest.
  using Handler = std::function<void(const agentd_deny_event&, std::string_view name)>;

  static Result<EventReader> open(int ring_map_fd, Handler handler);

  // For the event loop: readable when the kernel forced a wakeup.
  int fd() const { return ring_buffer__epoll_fd(ring_.get()); }
  // Hands pending records to the handler, at most kMaxRecordsPerDrain, and
  // returns how many. The cap keeps a flood of denials (an agent hammering
  // a closed door) from holding the event loop: what is left waits for the
  // next turn, after the control socket and reloads had theirs.
  Result<int> drain();
  static constexpr int kMaxRecordsPerDrain = 1024;
  // Records shorter than the ABI's: a kernel/daemon mismatch, counted.
  uint64_t malformed() const { return state_->malformed; }
  // Records whose handler threw: logged with the cause and skipped.
  uint64_t failed() const { return state_->failed; }

  struct State {
    Handler handler;
    uint64_t malformed = 0;
    uint64_t failed = 0;
    int budget = 0;  // records this drain may still hand out
  };

 private:
  EventReader(std::unique_ptr<State> state, RingBufferPtr ring) : state_(std::move(state)), ring_(std::move(ring)) {}

  // Heap-held: the ring's callback keeps a pointer to it across moves.
  // Declared before ring_ so the ring is freed first.
  std::unique_ptr<State> state_;
  RingBufferPtr ring_;
};

}  // namespace agentd::bpf
