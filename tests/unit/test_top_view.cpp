// agentctl top's rates from two samples of the sandbox list.
#include <catch2/catch.hpp>

#include "cli/top_view.hpp"

using agentctl::top_rows;
using nlohmann::json;

namespace {

json sandbox(uint64_t slot, const std::string& agent, uint64_t allowed, uint64_t denied, uint64_t dns = 0) {
  return {{"slot", slot},       {"agent", agent},   {"state", "running"},
          {"allowed", allowed}, {"denied", denied}, {"dns", {{"allowed", dns}, {"refused", 0}, {"learned", 3}}}};
}

}  // namespace

TEST_CASE("top: rates over the interval, busiest first, new and reused slots from zero") {
  const json before = json::array(
      {sandbox(1, "acme/eng/a", 100, 10), sandbox(2, "acme/eng/b", 50, 0, 4), sandbox(3, "acme/ops/old", 7, 7)});
  const json after = json::array({sandbox(1, "acme/eng/a", 120, 10), sandbox(2, "acme/eng/b", 50, 40, 8),
                                  sandbox(3, "acme/ops/new", 2, 0),  // slot 3 passed to another sandbox
                                  sandbox(4, "acme/ops/c", 0, 0)});
  auto rows = top_rows(before, after, 2.0);
  REQUIRE(rows.size() == 4);
  CHECK(rows[0].agent == "acme/eng/b");  // the most denials a second
  CHECK(rows[0].denied_per_s == 20.0);
  CHECK(rows[0].dns_per_s == 2.0);
  CHECK(rows[1].agent == "acme/eng/a");
  CHECK(rows[1].allowed_per_s == 10.0);
  CHECK(rows[2].agent == "acme/ops/new");
  CHECK(rows[2].allowed_per_s == 1.0);  // from zero, not from the old holder's 7
  CHECK(rows[3].agent == "acme/ops/c");
  CHECK(rows[3].learned == 3);
}

TEST_CASE("top: counters that went down and answers of the wrong shape give no rate and no crash") {
  auto rows = top_rows(json::array({sandbox(1, "a/b/c", 100, 100)}), json::array({sandbox(1, "a/b/c", 5, 5)}), 1.0);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].allowed_per_s == 0);
  CHECK(rows[0].denied_per_s == 0);
  CHECK(top_rows(json("x"), json::array({json(3), json{{"allowed", "many"}}}), 1.0).size() == 1);
  CHECK(top_rows(json::array(), json::object(), 1.0).empty());
  CHECK(top_rows(json::array(), json::array({sandbox(1, "a/b/c", 9, 9)}), 0).at(0).allowed_per_s == 0);
}

TEST_CASE("top: bytes a second each way, every traffic class together") {
  auto with_traffic = [](uint64_t sent, uint64_t received) {
    json s = sandbox(1, "acme/eng/a", 1, 0);
    s["traffic"] = {{"sent", {{"bytes", sent}, {"packets", 1}}}, {"received", {{"bytes", received}, {"packets", 1}}}};
    return s;
  };
  auto rows = top_rows(json::array({with_traffic(1000, 5000)}), json::array({with_traffic(3000, 9000)}), 2.0);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].sent_bytes_per_s == 1000.0);
  CHECK(rows[0].received_bytes_per_s == 2000.0);
  CHECK(agentctl::to_json(rows[0])["received_bytes_per_s"] == 2000.0);
  // No traffic field (an older agentd): no rate, no crash.
  rows = top_rows(json::array({sandbox(1, "acme/eng/a", 1, 0)}), json::array({sandbox(1, "acme/eng/a", 2, 0)}), 1.0);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].sent_bytes_per_s == 0);
}

TEST_CASE("top: a bulk sender on one connection ranks above an idle sandbox") {
  auto with_sent = [](const std::string& agent, uint64_t slot, uint64_t sent) {
    json s = sandbox(slot, agent, 1, 0);
    s["traffic"] = {{"sent", {{"bytes", sent}}}, {"received", {{"bytes", 0}}}};
    return s;
  };
  auto rows = top_rows(json::array({with_sent("acme/a/idle", 1, 0), with_sent("acme/a/bulk", 2, 0)}),
                       json::array({with_sent("acme/a/idle", 1, 0), with_sent("acme/a/bulk", 2, 1 << 30)}), 1.0);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].agent == "acme/a/bulk");
}
