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
  size_t queries_per_connection = 16;    // in flight on one connection; its reading pauses past it
  size_t in_flight_per_sandbox = 64;     // queries upstream for a sandbox, UDP and TCP together
  size_t buffered_per_sandbox = 256 << 10;  // answer bytes owed to a sandbox's TCP clients
  size_t buffered_pause = 16 << 10;      // a connection owed this much is not read from until it takes some
  // Messages handled for one client per turn of the event loop: the loop
  // then serves every other ready client before this one again.
  size_t messages_per_turn = 8;
};

// One sandbox's use of the proxy, and what its budgets refused.
struct SandboxUse {
  size_t tcp = 0;        // connections open
  size_t in_flight = 0;  // queries upstream
  size_t buffered = 0;   // answer bytes owed to its TCP clients
  uint64_t tcp_refused = 0;      // connections closed at accept: past its cap, or the proxy full
  uint64_t tcp_evicted = 0;      // connections closed to make room for another sandbox's
  uint64_t tcp_idle_closed = 0;  // idle past tcp_idle
  uint64_t tcp_cut_off = 0;      // did not read its answers (stalled, or past buffered_per_sandbox)
  uint64_t in_flight_refused = 0;  // SERVFAIL: past in_flight_per_sandbox
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
