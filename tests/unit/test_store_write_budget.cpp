// The store's budget of denial rows a second.
#include <catch2/catch.hpp>

#include "agentd/store/write_budget.hpp"

using agentd::store::WriteBudget;
using namespace std::chrono_literals;

TEST_CASE("the denial rows budget admits its rate a second and counts the rest") {
  WriteBudget budget(100);
  const auto t0 = WriteBudget::Clock::time_point(1000s);
  int admitted = 0;
  for (int i = 0; i < 1000; ++i) admitted += budget.admit(t0 + std::chrono::microseconds(i));
  CHECK(admitted == 100);
  CHECK(budget.take_skipped() == 900);
  CHECK(budget.take_skipped() == 0);  // taken once, for one summary row
  // The next second starts afresh and reports the last.
  CHECK(budget.admit(t0 + 1s + 1ms));
  CHECK(budget.last_second() == 100);
  CHECK(budget.max_second() == 100);
  CHECK(budget.skipped_total() == 900);
  // After a quiet spell, the last second is not the one before it.
  CHECK(budget.admit(t0 + 10s));
  CHECK(budget.last_second() == 0);
  CHECK(budget.max_second() == 100);
}
