// agentctl grants export: the YAML it prints is a valid policy that allows
// what the grants allowed, no more.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "agentd/policy/explain.hpp"
#include "agentd/policy/loader.hpp"
#include "cli/grants_export.hpp"

using nlohmann::json;

namespace {

const json kGrants = json::array({
    {{"id", 1},
     {"scope", "agent"},
     {"subject", "acme/eng/coder-1"},
     {"tenant", "acme"},
     {"dest", "198.51.100.20"},
     {"host", nullptr},
     {"port", 8080},
     {"protocol", "tcp"},
     {"direction", "outbound"},
     {"permanent", true},
     {"created_by", "alice (uid 1000)"}},
    {{"id", 2},
     {"scope", "team"},
     {"subject", "acme/eng"},
     {"tenant", "acme"},
     {"dest", "2001:db8:1::20"},
     {"host", nullptr},
     {"port", 53},
     {"protocol", "udp"},
     {"direction", "outbound"},
     {"permanent", false},
     {"expires_at", "2026-12-02T10:00:00.000Z"},
     {"created_by", "alice (uid 1000)"}},
    {{"id", 3},
     {"scope", "tenant"},
     {"subject", "acme"},
     {"tenant", "acme"},
     {"dest", ""},
     {"host", "pypi.org"},
     {"port", 0},
     {"protocol", "dns"},
     {"direction", "outbound"},
     {"permanent", true},
     {"created_by", "root (uid 0)"}},
    {{"id", 4},
     {"scope", "agent"},
     {"subject", "acme/eng/coder-1"},
     {"tenant", "acme"},
     {"dest", "198.51.100.30"},
     {"host", nullptr},
     {"port", 8081},
     {"protocol", "tcp"},
     {"direction", "inbound"},
     {"permanent", true},
     {"created_by", "root (uid 0)"}},
    {{"id", 6},
     {"scope", "team"},
     {"subject", "acme/ops"},
     {"tenant", "acme"},
     {"dest", ""},
     {"host", "files.example.test"},
     {"port", 0},
     {"protocol", "dns"},
     {"ports", "443,8000-8100"},
     {"direction", "outbound"},
     {"permanent", true},
     {"created_by", "root (uid 0)"}},
    {{"id", 5},
     {"scope", "agent"},
     {"subject", "globex/eng/bot"},
     {"tenant", "globex"},
     {"dest", "198.51.100.66"},
     {"host", nullptr},
     {"port", 80},
     {"protocol", "tcp"},
     {"direction", "outbound"},
     {"permanent", true},
     {"created_by", "root (uid 0)"}},
});

bool allowed(const agentd::policy::PolicySet& policy, const char* agent, const char* dest, bool inbound = false) {
  auto name = agentd::policy::parse_agent_name(agent);
  auto parsed = agentd::policy::parse_destination(dest);
  REQUIRE(name);
  REQUIRE(parsed);
  parsed->inbound = inbound;
  auto decision = agentd::policy::explain(policy, *name, *parsed);
  REQUIRE(decision);
  return decision->allowed;
}

}  // namespace

TEST_CASE("grants export: a tenant's grants become a policy that allows the same, no more") {
  auto text = agentctl::grants_as_policy(kGrants, "acme");
  REQUIRE(text);
  INFO(*text);
  auto loaded = agentd::policy::parse_policy_texts({{"acme.yaml", *text}});
  for (const auto& e : loaded.errors) INFO(e.str());
  REQUIRE(loaded.ok());
  const auto& policy = *loaded.policy;
  CHECK(allowed(policy, "acme/eng/coder-1", "198.51.100.20:8080/tcp"));
  CHECK_FALSE(allowed(policy, "acme/eng/coder-2", "198.51.100.20:8080/tcp"));  // an agent's grant
  CHECK_FALSE(allowed(policy, "acme/eng/coder-1", "198.51.100.20:8081/tcp"));
  CHECK(allowed(policy, "acme/eng/coder-2", "[2001:db8:1::20]:53/udp"));  // the team's
  CHECK_FALSE(allowed(policy, "acme/ops/runner", "[2001:db8:1::20]:53/udp"));
  CHECK(allowed(policy, "acme/ops/runner", "pypi.org:443"));  // the tenant's name, on every port
  CHECK(allowed(policy, "acme/ops/runner", "pypi.org:8443"));
  // A name granted on some ports: those, no other.
  CHECK(allowed(policy, "acme/ops/runner", "files.example.test:443"));
  CHECK(allowed(policy, "acme/ops/runner", "files.example.test:8050"));
  CHECK_FALSE(allowed(policy, "acme/ops/runner", "files.example.test:80"));
  CHECK_FALSE(allowed(policy, "acme/eng/coder-1", "files.example.test:443"));
  CHECK(allowed(policy, "acme/eng/coder-1", "198.51.100.30:8081/tcp", true));  // inbound
  CHECK_FALSE(allowed(policy, "acme/eng/coder-1", "198.51.100.30:8081/tcp"));  // and only inbound
  CHECK(text->find("198.51.100.66") == std::string::npos);                     // another tenant's stays out
  CHECK(text->find("# grant 2: team scope, until 2026-12-02T10:00:00.000Z") != std::string::npos);
}

TEST_CASE("grants export: a tenant without grants is an error naming it") {
  auto text = agentctl::grants_as_policy(kGrants, "initech");
  REQUIRE_FALSE(text);
  CHECK(text.error().describe().find("initech") != std::string::npos);
}
