#include <catch2/catch.hpp>

#include "agentd/approvals/identity_cache.hpp"

using agentd::approvals::Identity;
using agentd::approvals::IdentityCache;

namespace {

struct CountingResolver {
  int* calls;
  Identity operator()(uint32_t uid, uint32_t, const std::optional<std::vector<uint32_t>>& held) const {
    ++*calls;
    Identity who;
    who.uid = uid;
    who.user = "user" + std::to_string(uid) + "-" + std::to_string(*calls);
    if (held) who.gids = *held;
    return who;
  }
};

}  // namespace

TEST_CASE("one caller reconnecting is looked up once per lifetime") {
  int calls = 0;
  IdentityCache cache(CountingResolver{&calls}, std::chrono::seconds(60), 8);
  const auto t0 = IdentityCache::Clock::time_point{} + std::chrono::hours(1);
  for (int i = 0; i < 1000; ++i) CHECK(cache.get(1001, 1001, std::vector<uint32_t>{1001, 27}, t0).user == "user1001-1");
  CHECK(calls == 1);
  // Past its lifetime the database is asked again (a group change shows).
  CHECK(cache.get(1001, 1001, std::vector<uint32_t>{1001, 27}, t0 + std::chrono::seconds(61)).user == "user1001-2");
  CHECK(calls == 2);
}

TEST_CASE("other groups, another gid or unknown groups are other callers") {
  int calls = 0;
  IdentityCache cache(CountingResolver{&calls}, std::chrono::seconds(60), 8);
  const auto t0 = IdentityCache::Clock::time_point{} + std::chrono::hours(1);
  cache.get(1001, 1001, std::vector<uint32_t>{1001}, t0);
  CHECK(cache.get(1001, 1001, std::vector<uint32_t>{1001, 27}, t0).gids == std::vector<uint32_t>{1001, 27});
  cache.get(1001, 1002, std::vector<uint32_t>{1001}, t0);
  cache.get(1001, 1001, std::nullopt, t0);
  CHECK(calls == 4);
}

TEST_CASE("many callers never grow the table past its capacity") {
  int calls = 0;
  IdentityCache cache(CountingResolver{&calls}, std::chrono::seconds(60), 8);
  const auto t0 = IdentityCache::Clock::time_point{} + std::chrono::hours(1);
  for (uint32_t uid = 0; uid < 100; ++uid) {
    cache.get(uid, uid, std::nullopt, t0);
    CHECK(cache.size() <= 8);
  }
  CHECK(calls == 100);
}
