// The DNS proxy's per-sandbox budgets: which sandbox gives up a TCP
// connection when all are taken, and when a client is idle or stalled.
#include <catch2/catch.hpp>

#include "agentd/dns/client_budget.hpp"

using namespace agentd::dns;
using namespace std::chrono_literals;

TEST_CASE("dns budget: a full proxy takes a connection from the sandbox holding the most") {
  std::map<uint32_t, SandboxUse> use;
  use[1].tcp = 500;
  use[2].tcp = 12;
  CHECK(tcp_victim(use, 3) == std::optional<uint32_t>(1));
  CHECK(tcp_victim(use, 2) == std::optional<uint32_t>(1));
  // The largest holder itself is refused: nobody holds more than it.
  CHECK_FALSE(tcp_victim(use, 1));
}

TEST_CASE("dns budget: no swap between sandboxes that would end up the other way round") {
  std::map<uint32_t, SandboxUse> use;
  use[1].tcp = 4;
  use[2].tcp = 3;
  CHECK_FALSE(tcp_victim(use, 2));  // 4 vs 3 would become 3 vs 4
  use[1].tcp = 5;
  CHECK(tcp_victim(use, 2) == std::optional<uint32_t>(1));
  CHECK_FALSE(tcp_victim({}, 1));
}

TEST_CASE("dns budget: an idle client is closed after the idle timeout, a busy one is kept") {
  ClientLimits limits;
  limits.tcp_idle = 10s;
  limits.tcp_stall = 5s;
  const auto t0 = std::chrono::steady_clock::time_point{} + 1000s;
  CHECK(tcp_verdict(limits, t0 + 9s, 0, 0, t0, t0) == TcpVerdict::keep);
  CHECK(tcp_verdict(limits, t0 + 10s, 0, 0, t0, t0) == TcpVerdict::idle);
  // A query upstream: the upstream's deadline bounds it, not the idle clock.
  CHECK(tcp_verdict(limits, t0 + 60s, 0, 1, t0, t0) == TcpVerdict::keep);
  // It read a byte recently: not idle.
  CHECK(tcp_verdict(limits, t0 + 12s, 0, 0, t0 + 5s, t0) == TcpVerdict::keep);
}

TEST_CASE("dns budget: a client that does not take its answers is cut off after the stall time") {
  ClientLimits limits;
  limits.tcp_idle = 10s;
  limits.tcp_stall = 5s;
  const auto t0 = std::chrono::steady_clock::time_point{} + 1000s;
  // Owed bytes, nothing written for 5 s: stalled, however recently it wrote to us.
  CHECK(tcp_verdict(limits, t0 + 5s, 100, 3, t0 + 4s, t0) == TcpVerdict::stalled);
  CHECK(tcp_verdict(limits, t0 + 4s, 100, 3, t0, t0) == TcpVerdict::keep);
}
