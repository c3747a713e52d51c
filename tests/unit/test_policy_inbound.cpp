// `inbound:` rules: who may connect or send into a sandbox. Parsed like
// destinations (CIDRs only), compiled into the same trie under the inbound
// family bit, so the two directions never judge each other's traffic.
#include <catch2/catch.hpp>

#include "agentd/policy/compile.hpp"
#include "agentd/policy/diff.hpp"
#include "agentd/policy/explain.hpp"
#include "agentd/policy/loader.hpp"
#include "policy_fixtures.hpp"

using namespace agentd::policy;

namespace {

const char* kPolicy = R"(apiVersion: agentd/v1
tenant: acme
rules:
  - agents: "acme/eng/*"
    allow:
      - cidr: 198.51.100.0/24
        ports: [443]
    inbound:
      allow:
        - cidr: 198.51.100.0/24
          ports: [8080]
          protocol: tcp
      deny:
        - cidr: 198.51.100.66/32
)";

Decision judge(const PolicySet& set, const std::string& dest, bool inbound) {
  auto d = parse_destination(dest);
  REQUIRE(d.ok());
  d->inbound = inbound;
  auto decision = explain(set, agent("acme/eng/coder-1"), *d);
  REQUIRE(decision.ok());
  return *decision;
}

}  // namespace

TEST_CASE("inbound rules judge peers on the sandbox's own port, apart from egress") {
  const PolicySet set = load(kPolicy);
  CHECK(judge(set, "198.51.100.7:8080", true).allowed);
  CHECK_FALSE(judge(set, "198.51.100.7:8080/udp", true).allowed);
  CHECK_FALSE(judge(set, "198.51.100.7:9090", true).allowed);
  const Decision denied = judge(set, "198.51.100.66:8080", true);
  CHECK_FALSE(denied.allowed);
  CHECK(denied.explanation.find("inbound.deny[0]") != std::string::npos);
  CHECK(judge(set, "203.0.113.9:8080", true).explanation == "denied: no inbound rule allows it (default deny)");
  // The egress rule does not open inbound, nor the inbound rule egress.
  CHECK_FALSE(judge(set, "198.51.100.7:443", true).allowed);
  CHECK(judge(set, "198.51.100.7:443", false).allowed);
  CHECK_FALSE(judge(set, "198.51.100.7:8080", false).allowed);
}

TEST_CASE("inbound entries carry the inbound family bit in the compiled class") {
  const PolicySet set = load(kPolicy);
  auto compiled = compile_for_agent(set, agent("acme/eng/coder-1"));
  REQUIRE(compiled.ok());
  int inbound = 0, egress = 0;
  for (const auto& e : compiled->entries) (e.family & AGENTD_FAMILY_INBOUND ? inbound : egress)++;
  CHECK(inbound == 2);  // the /24 allow and the /32 deny
  CHECK(egress == 1);
}

TEST_CASE("an inbound peer is a CIDR: names and presets are refused where they stand") {
  auto result = parse_policy_texts({{"acme.yaml", R"(apiVersion: agentd/v1
tenant: acme
rules:
  - agents: "acme/*/*"
    inbound:
      allow:
        - host: api.example.test
)"}});
  REQUIRE_FALSE(result.ok());
  REQUIRE(result.errors.size() == 1);
  CHECK(result.errors[0].str().find("acme.yaml:7:11") == 0);
  CHECK(result.errors[0].message.find("rules[0].inbound.allow[0]: an inbound peer is a \"cidr\"") == 0);

  auto unknown = parse_policy_texts({{"acme.yaml", R"(apiVersion: agentd/v1
tenant: acme
rules:
  - agents: "acme/*/*"
    inbound:
      permit: []
)"}});
  REQUIRE_FALSE(unknown.ok());
}

TEST_CASE("policy diff names inbound rules as such") {
  const PolicySet set = load(kPolicy);
  const Endpoint* inbound = nullptr;
  for (size_t i = 0; i < set.endpoint_count(); ++i)
    if (!inbound && set.endpoint(static_cast<uint32_t>(i)).inbound) inbound = &set.endpoint(static_cast<uint32_t>(i));
  REQUIRE(inbound);
  CHECK(canonical_line(set, *inbound, "acme/eng/*").find("acme/eng/*: inbound allow 198.51.100.0/24 ports 8080 tcp") ==
        0);
}
