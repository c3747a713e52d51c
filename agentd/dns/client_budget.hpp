// What one sandbox may hold of the DNS proxy, and how the proxy tells a
// client to let go (RFC 7766, section 6.2.3): every sandbox shares the
// proxy's event loop, its descriptors and its memory, so each has a budget
// of TCP connections, queries in flight and answer bytes waiting to be
// read, and a TCP client that sits idle, or does not read what it asked
// for, is closed rather than served at another sandbox's expense.
// Pure: the proxy keeps the sockets, this decides.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <utility>

namespace agentd::dns {

struct ClientLimits {
  size_t tcp_per_sandbox = 16;  // connections a sandbox holds at once
  size_t tcp_total = 512;       // every sandbox together (a descriptor each)
  // A connection with no query in flight and no answer owed is closed after
  // this long (RFC 7766 6.2.3: servers close idle clients after seconds).
  std::chrono::milliseconds tcp_idle{10'000};
  // A client that does not take its answers: closed when nothing it is owed
  // could be written for this long.
  std::chrono::milliseconds tcp_stall{5'000};
  size_t queries_per_connection = 16;       // in flight on one connection; its reading pauses past it
  size_t in_flight_per_sandbox = 64;        // queries upstream for a sandbox, UDP and TCP together
  size_t buffered_per_sandbox = 256 << 10;  // answer bytes owed to a sandbox's TCP clients
  size_t buffered_pause = 16 << 10;         // a connection owed this much is not read from until it takes some
  // Messages handled for one client per turn of the event loop: the loop
  // then serves every other ready client before this one again.
  size_t messages_per_turn = 8;
};

// One sandbox's use of the proxy, and what its budgets refused.
struct SandboxUse {
  size_t tcp = 0;                  // connections open
  size_t in_flight = 0;            // queries upstream
  size_t buffered = 0;             // answer bytes owed to its TCP clients
  uint64_t tcp_refused = 0;        // connections closed at accept: past its cap, or the proxy full
  uint64_t tcp_evicted = 0;        // connections closed to make room for another sandbox's
  uint64_t tcp_idle_closed = 0;    // idle past tcp_idle
  uint64_t tcp_cut_off = 0;        // did not read its answers (stalled, or past buffered_per_sandbox)
  uint64_t in_flight_refused = 0;  // SERVFAIL: past in_flight_per_sandbox
  uint64_t upstream_refused = 0;   // SERVFAIL: the proxy's queries upstream (nearly) all taken, it held its fair share
};

// The proxy's queries upstream over one transport, a socket each: bounded
// for every sandbox together, and shared fairly. While the pool has room,
// any sandbox (within its own in-flight cap) takes a place. Once it is
// nearly full (the last eighth), a sandbox holding its fair share or more
// is refused: the share is the pool over the sandboxes holding places
// (counting the one asking), never less than `floor`. A sandbox below its
// share takes one of the places left; when none is left, it takes the
// place of the sandbox holding the most, if that one holds at least two
// more than it. So a few flooding sandboxes cannot keep another from the
// upstream. Lookups and updates cost O(log sandboxes holding places).
class UpstreamPool {
 public:
  explicit UpstreamPool(size_t capacity, size_t floor = 8) : capacity_(capacity), floor_(floor) {}

  enum class Verdict { take, evict, refuse };
  struct Admission {
    Verdict verdict = Verdict::take;
    uint32_t victim = 0;  // evict: the sandbox that gives up a place (its oldest query)
  };
  // Whether `slot` may send one more query upstream now.
  Admission admit(uint32_t slot) const;
  void take(uint32_t slot);
  void release(uint32_t slot);
  // A retired sandbox: every place it held is free.
  void forget(uint32_t slot);

  size_t capacity() const { return capacity_; }
  size_t used() const { return used_; }
  size_t held(uint32_t slot) const;
  size_t holders() const { return held_.size(); }
  // What `slot` may hold once the pool is nearly full.
  size_t fair_share(uint32_t slot) const;
  // Places only a sandbox below its share takes.
  size_t headroom() const { return capacity_ / 8; }

 private:
  void set(uint32_t slot, size_t count);

  size_t capacity_, floor_;
  size_t used_ = 0;
  std::map<uint32_t, size_t> held_;                 // slot: places, only slots holding some
  std::set<std::pair<size_t, uint32_t>> by_count_;  // (places, slot): the largest last
};

// When all tcp_total connections are taken and `slot` asks for one: the
// sandbox that gives one up, the one holding the most, if it holds more
// than `slot` would once admitted. Nothing: `slot` is refused instead.
std::optional<uint32_t> tcp_victim(const std::map<uint32_t, SandboxUse>& use, uint32_t slot);

enum class TcpVerdict { keep, idle, stalled };
// A connection's fate at a sweep: `owed` answer bytes not yet written,
// `in_flight` queries upstream, the last time it sent us a byte or took one.
TcpVerdict tcp_verdict(const ClientLimits& limits, std::chrono::steady_clock::time_point now, size_t owed,
                       size_t in_flight, std::chrono::steady_clock::time_point last_read,
                       std::chrono::steady_clock::time_point last_written);

}  // namespace agentd::dns
