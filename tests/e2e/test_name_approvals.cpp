// Names as questions for operators: a name no host rule allows is refused
// by the DNS proxy and becomes a request; approving it lets the sandbox
// resolve the name and reach its addresses, until the grant ends.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <string>

#include "approvals_helpers.hpp"
#include "expectations.hpp"
#include "world.hpp"

using namespace agentd::e2e;
using nlohmann::json;

namespace {

constexpr const char* kPolicy = R"(apiVersion: agentd/v1
tenant: acme
rules:
  - agents: "acme/eng/*"
    allow:
      - host: api.example.test
        ports: [443]
    deny:
      - host: other.example.test
)";

constexpr const char* kName = "a.wild.example.test";  // 198.51.100.20 in the world's DNS
constexpr const char* kAddress = "198.51.100.20";

// dig NAME in the sandbox: the addresses of the answer, or its status line.
std::string dig(const World& world, const std::string& agent, const std::string& name) {
  auto result = world.in_sandbox(agent, {"dig", "+tries=1", "+time=3", "+short", name});
  return result.out + result.err;
}

// coder-1 asks for kName, is refused, an operator approves (with `how`):
// the retry resolves.
template <typename... How>
void approve_name(const World& world, How... how) {
  CHECK(dig(world, "acme/eng/coder-1", kName).find(kAddress) == std::string::npos);
  json request = wait_for_name_request(world, "acme/eng/coder-1", kName);
  REQUIRE(request.is_object());
  REQUIRE(agentctl_json(world, {"approvals", "approve", std::to_string(request["id"].get<uint64_t>()), how...})
              .is_object());
  CHECK(dig(world, "acme/eng/coder-1", kName).find(kAddress) != std::string::npos);
}

}  // namespace

TEST_CASE("a refused name becomes a request, and approving it opens the name until the grant ends") {
  World world;
  world.write_policy("acme.yaml", kPolicy);
  REQUIRE(world.start_agentd());
  auto refused = world.in_sandbox("acme/eng/coder-1", {"dig", "+tries=1", "+time=3", kName});
  INFO(refused.describe());
  CHECK(refused.out.find("status: NXDOMAIN") != std::string::npos);
  CHECK(refused.out.find("Operators have been asked") != std::string::npos);
  json request = wait_for_name_request(world, "acme/eng/coder-1", kName);
  INFO(world.agentd_log());
  REQUIRE(request.is_object());
  CHECK(request["state"] == "pending");
  CHECK(request["dest"] == "");  // NOLINT(readability-container-size-empty): json::empty() is false for any string
  // The agent may try the address it knows some other way: no rule, no grant.
  expect_refused(connect_from(world, "acme/eng/coder-1", kAddress, 443));

  auto answer =
      agentctl_json(world, {"approvals", "approve", std::to_string(request["id"].get<uint64_t>()), "--for", "1h"});
  REQUIRE(answer.is_object());
  CHECK(answer["grant"]["protocol"] == "dns");
  CHECK(answer["grant"]["host"] == kName);
  // The retry resolves, and the addresses learned open on any port.
  CHECK(dig(world, "acme/eng/coder-1", kName).find(kAddress) != std::string::npos);
  expect_ok(connect_from(world, "acme/eng/coder-1", kAddress, 443));
  expect_ok(connect_from(world, "acme/eng/coder-1", kAddress, 8080));
  auto explain =
      agentctl_json(world, {"policy", "explain", "--agent", "acme/eng/coder-1", "--dest", std::string(kName) + ":443"});
  REQUIRE(explain.is_object());
  CHECK(explain["allowed"] == true);
  CHECK(explain["explanation"].get<std::string>().find("granted by grant") != std::string::npos);
  // Scope agent: the rest of the team still asks.
  CHECK(dig(world, "acme/eng/coder-2", kName).find(kAddress) == std::string::npos);

  // A reload keeps what the grant opened.
  world.write_policy("acme.yaml", std::string(kPolicy) + "# touched\n");
  REQUIRE(world.agentctl({"policy", "apply"}).exit_code == 0);
  expect_ok(connect_from(world, "acme/eng/coder-1", kAddress, 443));

  // Revoked: the name is refused again and its addresses close at once.
  REQUIRE(world.agentctl({"grants", "revoke", std::to_string(answer["grant"]["id"].get<uint64_t>())}).exit_code == 0);
  expect_refused(connect_from(world, "acme/eng/coder-1", kAddress, 443));
  CHECK(dig(world, "acme/eng/coder-1", kName).find(kAddress) == std::string::npos);
  CHECK(world.stray_packets() == 0);
}

TEST_CASE("a name approved on some ports opens those ports of its addresses and no other") {
  World world;
  world.write_policy("acme.yaml", kPolicy);
  REQUIRE(world.start_agentd());
  const std::string agent = "acme/eng/coder-1";
  CHECK(dig(world, agent, kName).find(kAddress) == std::string::npos);
  json request = wait_for_name_request(world, agent, kName);
  INFO(world.agentd_log());
  REQUIRE(request.is_object());
  const std::string id = std::to_string(request["id"].get<uint64_t>());
  auto bad = world.agentctl({"approvals", "approve", id, "--ports", "443-80"});
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find("runs backwards") != std::string::npos);
  auto answer = agentctl_json(world, {"approvals", "approve", id, "--ports", "443"});
  REQUIRE(answer.is_object());
  CHECK(answer["grant"]["opens"] == "port 443");
  CHECK(answer["request"]["answer"].get<std::string>().find("on port 443") != std::string::npos);
  CHECK(dig(world, agent, kName).find(kAddress) != std::string::npos);
  expect_ok(connect_from(world, agent, kAddress, 443));
  expect_refused(connect_from(world, agent, kAddress, 8080));

  // The team's grant of every port widens what was learned at once (no new
  // answer needed); revoked, the ports shrink back to the agent's own.
  auto team = agentctl_json(world, {"grants", "add", "--agent", agent, "--dest", kName, "--scope", "team"});
  REQUIRE(team.is_object());
  expect_ok(connect_from(world, agent, kAddress, 8080));
  REQUIRE(world.agentctl({"grants", "revoke", std::to_string(team["grant"]["id"].get<uint64_t>())}).exit_code == 0);
  expect_refused(connect_from(world, agent, kAddress, 8080));
  expect_ok(connect_from(world, agent, kAddress, 443));
  auto listed = world.agentctl({"grants", "list"});
  CHECK(listed.out.find(std::string(kName) + " (DNS, port 443)") != std::string::npos);

  // The tenant's grants of one name hold at most what one kernel value
  // does (16 port ranges): past it, refused and nothing made.
  const std::string eight = "1,3,5,7,9,11,13,15", eight_more = "17,19,21,23,25,27,29,31";
  REQUIRE(
      agentctl_json(world, {"grants", "add", "--agent", "acme/eng/coder-2", "--dest", std::string(kName) + ":" + eight})
          .is_object());
  auto past =
      world.agentctl({"grants", "add", "--agent", "acme/eng/coder-3", "--dest", std::string(kName) + ":" + eight_more});
  CHECK(past.exit_code == 1);
  CHECK(past.err.find("more than one kernel entry holds (16)") != std::string::npos);
  CHECK(agentctl_json(world, {"grants", "list"}).size() == 2);
  CHECK(world.stray_packets() == 0);
}

TEST_CASE("a name a deny rule blocks asks nobody") {
  World world;
  world.write_policy("acme.yaml", kPolicy);
  REQUIRE(world.start_agentd());
  auto refused = world.in_sandbox("acme/eng/coder-1", {"dig", "+tries=1", "+time=3", "other.example.test"});
  INFO(refused.describe());
  CHECK(refused.out.find("status: NXDOMAIN") != std::string::npos);
  CHECK(refused.out.find("A deny rule of the policy blocks it") != std::string::npos);
  // A name nobody decided does make a request: once it is there, the
  // denied name's record (written before it) has been handled too.
  CHECK(dig(world, "acme/eng/coder-1", kName).find(kAddress) == std::string::npos);
  REQUIRE(wait_for_name_request(world, "acme/eng/coder-1", kName).is_object());
  auto all = agentctl_json(world, {"approvals", "list", "--state", "all"});
  REQUIRE(all.is_array());
  for (const auto& r : all) CHECK(r["host"] != "other.example.test");
}

TEST_CASE("a reload that denies a granted name revokes the grant") {
  World world;
  world.write_policy("acme.yaml", kPolicy);
  REQUIRE(world.start_agentd());
  approve_name(world, "--always");
  world.write_policy("acme.yaml", std::string(kPolicy) + "      - host: \"*.wild.example.test\"\n");
  REQUIRE(world.agentctl({"policy", "apply"}).exit_code == 0);
  auto grants = agentctl_json(world, {"grants", "list"});
  REQUIRE(grants.is_array());
  CHECK(grants.empty());
  expect_refused(connect_from(world, "acme/eng/coder-1", kAddress, 443));
  CHECK(dig(world, "acme/eng/coder-1", kName).find(kAddress) == std::string::npos);
}

TEST_CASE("addresses learned through a name grant close when it ends, even while agentd is stopped") {
  World world;
  world.write_policy("acme.yaml", kPolicy);
  REQUIRE(world.start_agentd());
  // The world's DNS gives this name a TTL of 300 s: the grant's 10 s bound
  // it. Long enough for the dig and the connect below (two sandboxed
  // commands; 3 s ran out before the connect on a loaded CI machine), and
  // the poll after the kill waits up to 30 s for the kernel to close it.
  approve_name(world, "--for", "10s");
  expect_ok(connect_from(world, "acme/eng/coder-1", kAddress, 443));
  world.kill_agentd(SIGKILL);
  const auto sandbox = world.cgroup_root() / "acme" / "eng" / "coder-1";
  bool closed = false;
  for (int i = 0; i < 300 && !closed; ++i) {  // the kernel closes it on its own; poll for that
    closed =
        world.netprobe_in_cgroup(sandbox, {"connect", "tcp", kAddress, "443"}).out.find("EPERM") != std::string::npos;
    if (!closed) usleep(100'000);
  }
  CHECK(closed);
  REQUIRE(world.start_agentd());
  auto grants = agentctl_json(world, {"grants", "list"});
  REQUIRE(grants.is_array());
  CHECK(grants.empty());
  CHECK(dig(world, "acme/eng/coder-1", kName).find(kAddress) == std::string::npos);
  expect_refused(connect_from(world, "acme/eng/coder-1", kAddress, 443));
}
