// guarded(): one unit of work that throws is counted and skipped.
#include <catch2/catch.hpp>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "agentd/common/guard.hpp"

TEST_CASE("guarded counts what throws, of any type, and lets the next unit run") {
  uint64_t failures = 0;
  int ran = 0;
  CHECK(agentd::guarded("a unit", failures, [&] { ++ran; }));
  CHECK_FALSE(agentd::guarded("a unit", failures, [] { throw std::runtime_error("bad\n\x1b[2Jrecord"); }));
  // What dump() throws on a name that is not UTF-8: the crash of issue 11.
  CHECK_FALSE(agentd::guarded("a unit", failures, [] { (void)nlohmann::json("\xff").dump(); }));
  CHECK_FALSE(agentd::guarded("a unit", failures, [] { throw 42; }));
  CHECK(agentd::guarded("a unit", failures, [&] { ++ran; }));
  CHECK(failures == 3);
  CHECK(ran == 2);
  // Past the first ten only every thousandth is logged; all are counted.
  for (int i = 0; i < 2000; ++i) agentd::guarded("a unit", failures, [] { throw std::logic_error("x"); });
  CHECK(failures == 2003);
}
