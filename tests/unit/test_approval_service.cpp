// ApprovalService on the kernel's maps kept in memory (approval_harness.hpp):
// an answer becomes grant entries for exactly the sandboxes it covers, a
// revoke takes them out, a restart writes the live grants back, and a grant
// is never written over a deny rule; a reload revokes what its new deny
// covers and settles what its new allow opens. No root.
#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "approval_harness.hpp"

using agentd::testing::ApprovalHarness;
using nlohmann::json;

namespace {

// The slots with a grant entry for `address` (IPv4, dotted), any ports.
std::set<uint32_t> granted_slots(const agentd::testing::MemoryMaps& maps, const std::string& address) {
  std::set<uint32_t> slots;
  for (const auto& [key, value] : maps.grant_entries) {
    const auto& bytes = std::get<2>(key);
    const std::string dotted = std::to_string(bytes[0]) + "." + std::to_string(bytes[1]) + "." +
                               std::to_string(bytes[2]) + "." + std::to_string(bytes[3]);
    if (std::get<1>(key) == AGENTD_FAMILY_IPV4 && dotted == address) slots.insert(std::get<0>(key));
  }
  return slots;
}

uint64_t only_pending_id(ApprovalHarness& h) {
  auto listed = h.call({{"method", "approvals.list"}});
  REQUIRE(listed);
  REQUIRE(listed->is_array());
  REQUIRE(listed->size() == 1);
  return (*listed)[0]["id"].get<uint64_t>();
}

}  // namespace

TEST_CASE("a team approval grants every sandbox of the team in the kernel's maps, and a revoke takes it back") {
  ApprovalHarness h({"acme/eng/coder-1", "acme/eng/coder-2", "acme/ops/runner"});
  h.service().on_denial(ApprovalHarness::refused_connect("acme/eng/coder-1", "198.51.100.20", 8080));
  const uint64_t id = only_pending_id(h);
  CHECK(h.maps().grant_entries.empty());

  auto approved = h.call({{"method", "approvals.approve"}, {"id", id}, {"scope", "team"}});
  INFO((approved ? approved->dump() : approved.error().describe()));
  REQUIRE(approved);
  CHECK(granted_slots(h.maps(), "198.51.100.20") == std::set<uint32_t>{1, 2});
  for (const auto& [key, value] : h.maps().grant_entries) {
    CHECK(value.rules.ranges[0].lo == 8080);
    CHECK(value.rules.ranges[0].hi == 8080);
  }

  // The kernel's entries gone (a map of a new layout): the restarted
  // service writes the live grants back from the store.
  h.maps().grant_entries.clear();
  h.restart();
  CHECK(granted_slots(h.maps(), "198.51.100.20") == std::set<uint32_t>{1, 2});

  auto grants = h.service().list_grants(h.root());
  REQUIRE(grants);
  REQUIRE(grants->size() == 1);
  auto revoked = h.call({{"method", "grants.revoke"}, {"id", (*grants)[0]["id"]}});
  REQUIRE(revoked);
  CHECK(h.maps().grant_entries.empty());
  // And it stays revoked across a restart.
  h.restart();
  CHECK(h.maps().grant_entries.empty());
}

TEST_CASE("an agent's approval grants its sandbox only, and a grant over a deny rule is refused, writing nothing") {
  ApprovalHarness h({"acme/eng/coder-1", "acme/eng/coder-2"});
  h.service().on_denial(ApprovalHarness::refused_connect("acme/eng/coder-2", "198.51.100.20", 8080));
  REQUIRE(h.call({{"method", "approvals.approve"}, {"id", only_pending_id(h)}}));
  CHECK(granted_slots(h.maps(), "198.51.100.20") == std::set<uint32_t>{2});

  const size_t before = h.maps().grant_entries.size();
  auto over_deny = h.call({{"method", "grants.add"}, {"agent", "acme/eng/coder-1"}, {"dest", "198.51.100.66:80"}});
  REQUIRE_FALSE(over_deny);
  CHECK(over_deny.error().describe().find("198.51.100.66") != std::string::npos);
  CHECK(h.maps().grant_entries.size() == before);
  CHECK(granted_slots(h.maps(), "198.51.100.66").empty());
  // A denial the policy's deny rule made is no question for an operator.
  h.service().on_denial([] {
    auto d = ApprovalHarness::refused_connect("acme/eng/coder-1", "198.51.100.66", 80);
    d.reason = agentd::events::DenialReason::deny_rule;
    return d;
  }());
  auto listed = h.call({{"method", "approvals.list"}});
  REQUIRE(listed);
  CHECK(listed->empty());
}

TEST_CASE("answers with fields of the wrong type or range are refused naming the field, and change nothing") {
  ApprovalHarness h({"acme/eng/coder-1"});
  h.service().on_denial(ApprovalHarness::refused_connect("acme/eng/coder-1", "198.51.100.20", 8080));
  const uint64_t id = only_pending_id(h);
  const json bad[] = {json::object(),
                      {{"id", "1"}},
                      {{"id", -1}},
                      {{"id", 0.5}},
                      {{"id", id}, {"scope", 5}},
                      {{"id", id}, {"scope", "galaxy"}},
                      {{"id", id}, {"for", "forever"}},
                      {{"id", id}, {"ports", "http"}},
                      {{"id", id}, {"permanent", "yes"}},
                      {{"id", id}, {"permanent", true}, {"for", "1h"}}};
  for (const auto& request : bad) {
    INFO(request.dump());
    json call = request;
    call["method"] = "approvals.approve";
    auto answered = h.call(call);
    REQUIRE_FALSE(answered);
    CHECK_FALSE(answered.error().describe().empty());
  }
  CHECK(h.maps().grant_entries.empty());
  CHECK(only_pending_id(h) == id);
}

namespace {

// The harness's policy with one more deny rule, or one more allow rule.
std::string policy_with(const std::string& extra) { return std::string(agentd::testing::kApprovalPolicy) + extra; }

}  // namespace

TEST_CASE("a reload whose new deny covers a grant revokes it, in the store and the kernel's maps") {
  ApprovalHarness h({"acme/eng/coder-1", "acme/eng/coder-2"});
  h.service().on_denial(ApprovalHarness::refused_connect("acme/eng/coder-1", "198.51.100.20", 8080));
  REQUIRE(h.call({{"method", "approvals.approve"}, {"id", only_pending_id(h)}, {"scope", "team"}}));
  REQUIRE(granted_slots(h.maps(), "198.51.100.20") == std::set<uint32_t>{1, 2});

  // A reload that denies something else keeps the grant.
  auto kept = h.reload(policy_with("      - cidr: 198.51.100.67/32\n"));
  CHECK(kept.revoked == 0);
  CHECK(granted_slots(h.maps(), "198.51.100.20") == std::set<uint32_t>{1, 2});

  auto revoked = h.reload(policy_with("      - cidr: 198.51.100.0/24\n"));
  CHECK(revoked.revoked == 1);
  CHECK(h.maps().grant_entries.empty());
  auto grants = h.call({{"method", "grants.list"}});
  REQUIRE(grants);
  CHECK(grants->empty());
  // Gone from the store too: a restart writes nothing back.
  h.restart();
  CHECK(h.maps().grant_entries.empty());
  // And the audit trail says why.
  auto audit = h.call({{"method", "audit.query"}, {"decision", "revoked"}});
  REQUIRE(audit);
  REQUIRE(audit->size() == 1);
  CHECK((*audit)[0].dump().find("policy reload") != std::string::npos);
}

TEST_CASE("a reload whose new rule allows a pending request settles it, and a request it does not cover stays") {
  ApprovalHarness h({"acme/eng/coder-1"});
  h.service().on_denial(ApprovalHarness::refused_connect("acme/eng/coder-1", "198.51.100.20", 8080));
  h.service().on_denial(ApprovalHarness::refused_connect("acme/eng/coder-1", "198.51.100.21", 8080));
  auto pending = h.call({{"method", "approvals.list"}});
  REQUIRE(pending);
  REQUIRE(pending->size() == 2);

  auto after = h.reload(R"(apiVersion: agentd/v1
tenant: acme
rules:
  - agents: "acme/*/*"
    allow:
      - cidr: 198.51.100.20/32
        ports: [8080]
)");
  CHECK(after.settled == 1);
  CHECK(after.revoked == 0);
  pending = h.call({{"method", "approvals.list"}});
  REQUIRE(pending);
  REQUIRE(pending->size() == 1);
  CHECK((*pending)[0]["dest"] == "198.51.100.21");
  // Settled by agentd, not granted: no grant entry, the rule opens it.
  CHECK(h.maps().grant_entries.empty());
  auto all = h.call({{"method", "approvals.list"}, {"state", "approved"}});
  REQUIRE(all);
  REQUIRE(all->size() == 1);
  CHECK((*all)[0]["dest"] == "198.51.100.20");
  CHECK((*all)[0]["answered_by"] == "agentd");
}
