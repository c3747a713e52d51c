// Issue 12, the grants side: the kernel's grants map is shared by every
// tenant, and a team or tenant grant takes one entry per sandbox it
// covers, so each tenant's grants hold at most --grants-per-tenant
// entries. A grant past that is refused naming the limit, with nothing
// half-applied (the request stays pending, no grant, no kernel entry),
// and another tenant keeps its own share.
#include <catch2/catch.hpp>

#include "approvals_helpers.hpp"
#include "expectations.hpp"
#include "policies.hpp"
#include "world.hpp"

using namespace agentd::e2e;
using nlohmann::json;

namespace {

ProcessResult approve(const World& world, uint64_t id, const std::string& scope) {
  return world.agentctl({"approvals", "approve", std::to_string(id), "--scope", scope, "--for", "1h"});
}

}  // namespace

TEST_CASE("a grant past its tenant's grant entries is refused naming the limit and nothing is applied",
          "[kernel-neutral]") {
  World world;
  world.write_policy("acme.yaml", kAcmePolicy);
  world.write_policy("globex.yaml", kGlobexPolicy);
  INFO(world.agentd_log());
  REQUIRE(world.start_agentd({"--grants-per-tenant", "2"}));
  const std::vector<std::string> coders = {"acme/eng/coder-1", "acme/eng/coder-2", "acme/eng/coder-3"};
  for (const auto& agent : coders) expect_refused(connect_from(world, agent, kDest, kPort));
  expect_refused(connect_from(world, "globex/eng/bot", kDest, kPort));
  std::vector<uint64_t> ids;
  ids.reserve(coders.size());
  for (const auto& agent : coders) ids.push_back(id_of(wait_for_request(world, agent, kDest, kPort)));
  const uint64_t globex = id_of(wait_for_request(world, "globex/eng/bot", kDest, kPort));

  // A tenant grant would take one entry per acme sandbox: 3, past 2.
  for (const char* scope : {"tenant", "team"}) {
    auto refused = approve(world, ids[0], scope);
    INFO(refused.describe());
    CHECK(refused.exit_code == 1);
    CHECK(
        refused.err.find("tenant acme would hold 3 kernel grant entries, past its limit of 2 (--grants-per-tenant)") !=
        std::string::npos);
  }
  // Nothing half-applied: still pending, no grant, nothing in the kernel.
  CHECK(wait_for_request(world, coders[0], kDest, kPort, "pending").is_object());
  auto grants = agentctl_json(world, {"grants", "list"});
  REQUIRE(grants.is_array());
  CHECK(grants.empty());
  json status = daemon_status(world);
  CHECK(status["approvals"]["grant_entries"] == 0);
  CHECK(status["approvals"]["grant_limit"]["refused"] == 2);
  CHECK(status["approvals"]["grant_limit"]["per_tenant"] == 2);
  expect_refused(connect_from(world, coders[0], kDest, kPort));

  // Grants for one agent each fit, up to the limit.
  REQUIRE(approve(world, ids[0], "agent").exit_code == 0);
  REQUIRE(approve(world, ids[1], "agent").exit_code == 0);
  expect_ok(connect_from(world, coders[0], kDest, kPort));
  expect_ok(connect_from(world, coders[1], kDest, kPort));
  auto third = approve(world, ids[2], "agent");
  INFO(third.describe());
  CHECK(third.exit_code == 1);
  CHECK(third.err.find("limit of 2 (--grants-per-tenant)") != std::string::npos);
  expect_refused(connect_from(world, coders[2], kDest, kPort));
  // Another port of an address already granted adds no entry.
  expect_refused(connect_from(world, coders[0], kDest, 8443));
  REQUIRE(approve(world, id_of(wait_for_request(world, coders[0], kDest, 8443)), "agent").exit_code == 0);

  // globex has a share of its own.
  REQUIRE(approve(world, globex, "tenant").exit_code == 0);
  expect_ok(connect_from(world, "globex/eng/bot", kDest, kPort));

  status = daemon_status(world);
  const json& a = status["approvals"];
  INFO(a.dump());
  CHECK(a["grants"] == 4);
  CHECK(a["grant_entries"] == 3);
  CHECK(a["grant_limit"]["by_tenant"]["acme"] == 2);
  CHECK(a["grant_limit"]["by_tenant"]["globex"] == 1);
  CHECK(a["grant_limit"]["refused"] == 3);
  CHECK(a["grant_limit"]["over_limit"] == 0);
  CHECK(a["grant_write_failures"] == 0);
  auto text = world.agentctl({"status"});
  INFO(text.describe());
  CHECK(text.out.find("grants: at most 2 kernel entries a tenant, most held by acme (2); 3 grants refused at the "
                      "limit, 0 entries left out by it, 0 kernel writes failed") != std::string::npos);
}
