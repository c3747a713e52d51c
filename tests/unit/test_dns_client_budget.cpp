// The DNS proxy's per-sandbox budgets: which sandbox gives up a TCP
// connection when all are taken, when a client is idle or stalled, and
// who may send a query upstream when the pool of them is nearly full.
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

TEST_CASE("upstream pool: the fair share is the pool over the sandboxes holding places, with a floor") {
  UpstreamPool pool(384, 8);
  CHECK(pool.fair_share(1) == 384);  // alone: all of it
  for (int i = 0; i < 64; ++i)
    for (uint32_t s = 1; s <= 7; ++s) pool.take(s);
  CHECK(pool.used() == 448);  // past the pool: take() only counts; admit() decides
  CHECK(pool.holders() == 7);
  CHECK(pool.fair_share(1) == 384 / 7);
  CHECK(pool.fair_share(9) == 384 / 8);  // one asking counts among them
  UpstreamPool many(384, 8);
  for (uint32_t s = 1; s <= 100; ++s) many.take(s);
  CHECK(many.fair_share(1) == 8);  // 384 / 100 is 3: the floor
  for (uint32_t s = 1; s <= 100; ++s) many.release(s);
  CHECK(many.used() == 0);
  CHECK(many.holders() == 0);
}

TEST_CASE("upstream pool: anyone takes a place while there is room, none past a fair share once nearly full") {
  UpstreamPool pool(384, 8);
  CHECK(pool.headroom() == 48);
  // Seven flooders at 48 each: 336, the pool nearly full.
  for (int i = 0; i < 48; ++i)
    for (uint32_t s = 1; s <= 7; ++s) {
      REQUIRE(pool.admit(s).verdict == UpstreamPool::Verdict::take);
      pool.take(s);
    }
  CHECK(pool.used() == 336);
  // Within the last eighth now: each flooder takes places up to its share,
  // 384 / 7 = 54, and is refused past it.
  CHECK(pool.admit(1).verdict == UpstreamPool::Verdict::take);
  for (uint32_t s = 1; s <= 7; ++s)
    while (pool.admit(s).verdict == UpstreamPool::Verdict::take) pool.take(s);
  CHECK(pool.held(1) == 54);
  CHECK(pool.used() == size_t{7} * 54);
  CHECK(pool.admit(1).verdict == UpstreamPool::Verdict::refuse);
  // Another sandbox, holding nothing, is below its share: it takes a place.
  CHECK(pool.admit(9).verdict == UpstreamPool::Verdict::take);
}

TEST_CASE("upstream pool: when full, a sandbox below its share takes the place of the one holding the most") {
  UpstreamPool pool(100, 4);
  for (int i = 0; i < 60; ++i) pool.take(1);
  for (int i = 0; i < 40; ++i) pool.take(2);
  REQUIRE(pool.used() == 100);
  auto a = pool.admit(3);
  CHECK(a.verdict == UpstreamPool::Verdict::evict);
  CHECK(a.victim == 1);
  // The largest refuses itself; the other is at its share (100 / 2).
  CHECK(pool.admit(1).verdict == UpstreamPool::Verdict::refuse);
  // Sandbox 2 at 40 is below 50: it takes from 1.
  a = pool.admit(2);
  CHECK(a.verdict == UpstreamPool::Verdict::evict);
  CHECK(a.victim == 1);
  // Nobody holds two more than the asker: refused, nothing churns.
  UpstreamPool even(4, 1);
  for (uint32_t s = 1; s <= 4; ++s) even.take(s);
  CHECK(even.admit(1).verdict == UpstreamPool::Verdict::refuse);
  CHECK(even.admit(5).verdict == UpstreamPool::Verdict::refuse);  // share 4 / 5 is 0, floor 1; all hold 1
  even.take(1);                                                   // past the pool, as after an eviction race: 1 holds 2
  CHECK(even.admit(5).verdict == UpstreamPool::Verdict::evict);
  // A retired sandbox frees every place at once.
  pool.forget(1);
  CHECK(pool.used() == 40);
  CHECK(pool.held(1) == 0);
  CHECK(pool.holders() == 1);
}
