// The learned-address budgets: a quota per sandbox, and a full map that
// still makes room for a sandbox below its fair share.
#include <catch2/catch.hpp>

#include "agentd/bpf/learned_quota.hpp"

using namespace agentd::bpf;
using Verdict = LearnedQuota::Verdict;

TEST_CASE("learned quota: a sandbox stops at its quota, another sandbox goes on") {
  LearnedQuota quota(3, 100);
  for (int i = 0; i < 3; ++i) {
    REQUIRE(quota.admit(1) == Verdict::admit);
    quota.added(1);
  }
  CHECK(quota.admit(1) == Verdict::sandbox_full);
  CHECK(quota.admit(2) == Verdict::admit);
  CHECK(quota.held(1) == 3);
  CHECK(quota.total() == 3);
  quota.refused(1);
  quota.refused(1);
  CHECK(quota.hits(1) == 2);
  CHECK(quota.hits(2) == 0);
  // An entry that goes (expired, no longer allowed) gives its place back.
  quota.removed(1);
  CHECK(quota.admit(1) == Verdict::admit);
  CHECK(quota.held(1) == 2);
  // What was never counted cannot be given back twice.
  quota.removed(7);
  CHECK(quota.total() == 2);
}

TEST_CASE("learned quota: 0 means no per-sandbox quota, the capacity still holds") {
  LearnedQuota quota(0, 4);
  for (int i = 0; i < 4; ++i) {
    REQUIRE(quota.admit(1) == Verdict::admit);
    quota.added(1);
  }
  // Full, and sandbox 1 holds it all: it is refused, never its own victim.
  CHECK(quota.admit(1) == Verdict::map_full);
  CHECK_FALSE(quota.victim(1));
}

TEST_CASE("learned quota: a full map makes room for a sandbox below its fair share") {
  LearnedQuota quota(0, 10);
  for (int i = 0; i < 8; ++i) quota.added(1);
  for (int i = 0; i < 2; ++i) quota.added(2);
  // Sandbox 3 holds nothing; its fair share is 10 / 3 = 3.
  CHECK(quota.fair_share(3) == 3);
  CHECK(quota.admit(3) == Verdict::make_room);
  REQUIRE(quota.victim(3));
  CHECK(*quota.victim(3) == 1);  // the largest holder gives up one
  quota.removed(1);
  quota.added(3);
  // Sandbox 2 (2 of 10, fair share 3) may still take one from sandbox 1...
  CHECK(quota.admit(2) == Verdict::make_room);
  CHECK(*quota.victim(2) == 1);
  // ...but sandbox 1, far above its share, takes from nobody.
  CHECK(quota.admit(1) == Verdict::map_full);
}

TEST_CASE("learned quota: two sandboxes at an equal share do not take from each other") {
  LearnedQuota quota(0, 4);
  quota.added(1);
  quota.added(1);
  quota.added(2);
  quota.added(2);
  CHECK(quota.admit(1) == Verdict::map_full);
  CHECK(quota.admit(2) == Verdict::map_full);
}
