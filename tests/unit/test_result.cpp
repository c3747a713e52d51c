#include <catch2/catch.hpp>

#include "agentd/common/result.hpp"

using agentd::Result;

TEST_CASE("Result keeps a value or an error with its errno") {
  Result<int> good = 7;
  REQUIRE(good.ok());
  CHECK(*good == 7);

  errno = ENOENT;
  Result<int> bad = agentd::system_error("open {}", "/nowhere");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().errno_value == ENOENT);
  CHECK(bad.error().describe() == "open /nowhere: No such file or directory");

  Result<int> plain = agentd::make_error("bad port {}", 0);
  CHECK(plain.error().describe() == "bad port 0");
}
