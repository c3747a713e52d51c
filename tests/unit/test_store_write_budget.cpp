// The store's budget of denial rows a second, shared fairly among the
// sandboxes writing.
#include <catch2/catch.hpp>

#include "agentd/store/write_budget.hpp"

using agentd::store::WriteBudget;
using namespace std::chrono_literals;

namespace {

const auto t0 = WriteBudget::Clock::time_point(1000s);

}  // namespace

TEST_CASE("the denial rows budget admits a lone sandbox's share a second and counts the rest as its own") {
  WriteBudget budget(100);
  int admitted = 0;
  for (int i = 0; i < 1000; ++i) admitted += budget.admit("acme/eng/a", t0 + std::chrono::microseconds(i));
  // Alone, it has half: the other half waits for a sandbox that starts writing.
  CHECK(admitted == 50);
  auto skipped = budget.take_skipped();
  REQUIRE(skipped.size() == 1);
  CHECK(skipped["acme/eng/a"] == 950);
  CHECK(budget.take_skipped().empty());  // taken once, for one summary row each
  // The next second starts afresh and reports the last.
  CHECK(budget.admit("acme/eng/a", t0 + 1s + 1ms));
  CHECK(budget.last_second() == 50);
  CHECK(budget.max_second() == 50);
  CHECK(budget.skipped_total() == 950);
  // After a quiet spell, the last second is not the one before it.
  CHECK(budget.admit("acme/eng/a", t0 + 10s));
  CHECK(budget.last_second() == 0);
  CHECK(budget.max_second() == 50);
}

TEST_CASE("ten sandboxes at their budgets never take the rows of one that is denied a few times") {
  WriteBudget budget(1000);
  auto second = [&](int s, bool quiet_too) {
    uint64_t quiet = 0;
    for (int i = 0; i < 500; ++i) {
      const auto at = t0 + std::chrono::seconds(s) + std::chrono::microseconds(i * 100);
      for (int f = 0; f < 10; ++f) budget.admit("acme/flood/f" + std::to_string(f), at);
      if (quiet_too && i % 25 == 0) quiet += budget.admit("globex/x/quiet", at);
    }
    return quiet;
  };
  second(0, false);
  // The floods filled their shares; the quiet one arrives and every row is kept.
  CHECK(second(1, true) == 20);
  CHECK(second(2, true) == 20);
  CHECK(budget.last_second() <= 1000);
  CHECK(budget.max_second() <= 1000);
  const auto skipped = budget.take_skipped();
  CHECK_FALSE(skipped.contains("globex/x/quiet"));
  CHECK(skipped.size() == 10);
  for (const auto& [sandbox, n] : skipped) CHECK(n > 0);
}

TEST_CASE("many sandboxes: each keeps the floor while the whole budget holds") {
  WriteBudget budget(100);
  uint64_t admitted = 0;
  for (int i = 0; i < 50; ++i)
    for (int s = 0; s < 30; ++s)
      admitted += budget.admit("acme/eng/s" + std::to_string(s), t0 + std::chrono::microseconds(i));
  CHECK(budget.share() == WriteBudget::kFloor);
  CHECK(admitted == 100);  // never past the budget
  CHECK(budget.take_skipped().size() == 30);
}
