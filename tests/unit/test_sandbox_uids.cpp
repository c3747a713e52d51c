// The uids of sandboxes whose policy names no user: the range agentd owns,
// one uid per slot, never one that an account of the host owns.
#include <catch2/catch.hpp>

#include <set>

#include "agentd/sandbox/sandbox_uids.hpp"

using agentd::sandbox::parse_uid_range;
using agentd::sandbox::sandbox_uid;
using agentd::sandbox::UidRange;

namespace {
bool nobody_exists(uint32_t) { return false; }
}  // namespace

TEST_CASE("the default range holds one uid per sandbox slot, clear of system, nobody and subuid ranges") {
  const UidRange range;
  CHECK(range.str() == "80000-96383");
  CHECK(range.first > 65535);                    // nobody, 16-bit -1, systemd's dynamic users below
  CHECK(range.last < 100000);                    // useradd's first /etc/subuid range
  CHECK(range.last - range.first + 1 == 16384);  // AGENTD_MAX_SANDBOXES
  CHECK(parse_uid_range(range.str()));
}

TEST_CASE("a uid range is FIRST-LAST and stays away from root, nobody and 2^31") {
  auto ok = parse_uid_range("200000-299999");
  REQUIRE(ok);
  CHECK(ok->first == 200000);
  CHECK(ok->last == 299999);
  for (const char* bad : {"", "80000", "80000-", "-96383", "x-y", "96383-80000", "0-100", "999-5000", "60000-70000",
                          "65534-65534", "2147483000-2147483648", "80000-96383-1", " 80000-96383"}) {
    INFO(bad);
    auto refused = parse_uid_range(bad);
    REQUIRE_FALSE(refused);
    CHECK_FALSE(refused.error().message.empty());
  }
}

TEST_CASE("each slot has its own uid, inside the range") {
  const UidRange range{80000, 80010};
  std::set<uint32_t> seen;
  for (uint32_t slot = 1; slot <= 10; ++slot) {
    auto uid = sandbox_uid(range, slot, nobody_exists);
    REQUIRE(uid);
    CHECK(*uid == 80000 + slot);
    CHECK(*uid <= range.last);
    seen.insert(*uid);
  }
  CHECK(seen.size() == 10);
  auto beyond = sandbox_uid(range, 11, nobody_exists);
  REQUIRE_FALSE(beyond);
  CHECK(beyond.error().message.find("--sandbox-uids") != std::string::npos);
  CHECK_FALSE(sandbox_uid(range, 0, nobody_exists));
}

TEST_CASE("a uid that an account of the host owns is refused, not borrowed") {
  const UidRange range{80000, 80010};
  auto taken = sandbox_uid(range, 3, [](uint32_t id) { return id == 80003; });
  REQUIRE_FALSE(taken);
  CHECK(taken.error().message.find("uid 80003") != std::string::npos);
  CHECK(sandbox_uid(range, 4, [](uint32_t id) { return id == 80003; }));
  // The host's own lookup: root exists, a uid in the default range does not here.
  CHECK(agentd::sandbox::host_account_exists(0));
}
