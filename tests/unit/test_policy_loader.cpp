// Policy parsing and validation: every error names file:line:column.
#include <catch2/catch.hpp>

#include "agentd/policy/loader.hpp"

using namespace agentd::policy;

namespace {

LoadResult parse(const std::string& text, const std::string& file = "acme.yaml") {
  return parse_policy_texts({{file, text}});
}

// The errors as "line:column: message" lines, for exact comparisons.
std::vector<std::string> errors_of(const LoadResult& result) {
  std::vector<std::string> lines;
  for (const auto& e : result.errors) lines.push_back(e.str());
  return lines;
}

const char* kExample = R"(apiVersion: agentd/v1
tenant: acme
inference:
  - cidr: 203.0.113.7/32
    ports: [443]
rules:
  - agents: "acme/*/*"
    allow:
      - cidr: 198.51.100.0/24
        ports: [80, 443, "8000-8100"]
        protocol: tcp
    deny:
      - cidr: 198.51.100.66/32
)";

}  // namespace

TEST_CASE("the issue's example policy parses into the model") {
  auto result = parse(kExample);
  INFO(errors_of(result).size());
  REQUIRE(result.ok());
  const PolicySet& set = *result.policy;
  REQUIRE(set.tenants().size() == 1);
  const TenantPolicy& acme = set.tenants()[0];
  CHECK(acme.tenant == "acme");
  CHECK(acme.file == "acme.yaml");
  REQUIRE(acme.inference.size() == 1);
  REQUIRE(acme.rules.size() == 1);
  const Rule& rule = acme.rules[0];
  CHECK(rule.agents.text == "acme/*/*");
  CHECK(rule.pos.line == 7);
  REQUIRE(rule.allow.size() == 1);
  const Endpoint& allow = set.endpoint(rule.allow[0]);
  CHECK(allow.cidr.str() == "198.51.100.0/24");
  CHECK(allow.proto_mask == AGENTD_PROTO_TCP);
  REQUIRE(allow.ports.size() == 3);
  CHECK(allow.ports[2].lo == 8000);
  CHECK(allow.ports[2].hi == 8100);
  CHECK(allow.path == "rules[0].allow[0]");
  CHECK(allow.pos.str() == "acme.yaml:9:9");
  const Endpoint& deny = set.endpoint(rule.deny[0]);
  CHECK(deny.kind == EndpointKind::deny);
  CHECK(deny.ports.empty());
  CHECK(deny.proto_mask == AGENTD_PROTO_ANY);
  CHECK(result.warnings.empty());
}

TEST_CASE("each kind of error is reported at its line and column") {
  struct Case {
    const char* yaml;
    const char* error;
  };
  const Case cases[] = {
      {"apiVersion: agentd/v2\ntenant: acme\n", "acme.yaml:1:13: apiVersion \"agentd/v2\" is not supported"},
      {"apiVersion: agentd/v1\n", "acme.yaml:1:1: missing tenant"},
      {"apiVersion: agentd/v1\ntenant: Acme\n", "acme.yaml:2:9: tenant \"Acme\" is not a valid name"},
      {"apiVersion: agentd/v1\ntenant: acme\ncolour: red\n", "acme.yaml:3:1: the policy: unknown key \"colour\""},
      {"apiVersion: agentd/v1\ntenant: acme\ntenant: acme\n",
       "acme.yaml:3:1: the policy: key \"tenant\" appears twice"},
      {"apiVersion: agentd/v1\ntenant: acme\nrules:\n  - agents: \"acme/*\"\n    deny: [{cidr: 10.0.0.0/8}]\n",
       "acme.yaml:4:13: agents \"acme/*\" must be TENANT/TEAM/AGENT"},
      {"apiVersion: agentd/v1\ntenant: acme\nrules:\n  - agents: \"globex/*/*\"\n    deny: [{cidr: 10.0.0.0/8}]\n",
       "acme.yaml:4:13: agents \"globex/*/*\" must start with this file's tenant \"acme\""},
      {"apiVersion: agentd/v1\ntenant: acme\nrules:\n  - agents: \"acme/[eng/*\"\n    deny: [{cidr: 10.0.0.0/8}]\n",
       "acme.yaml:4:13: agents \"acme/[eng/*\": team \"[eng\" opens a bracket it never closes"},
      {"apiVersion: agentd/v1\ntenant: acme\nrules:\n  - agents: \"acme/E*/*\"\n    deny: [{cidr: 10.0.0.0/8}]\n",
       "acme.yaml:4:13: agents \"acme/E*/*\": team \"E*\" has the character 'E'"},
      {"apiVersion: agentd/v1\ntenant: acme\nrules:\n  - agents: \"acme/*/*\"\n",
       "acme.yaml:4:5: rules[0]: a rule needs \"allow\", \"deny\", \"inbound\" or \"sandbox\""},
      {"apiVersion: agentd/v1\ntenant: acme\nrules:\n  - agents: \"acme/*/*\"\n    allow:\n      - cidr: "
       "10.0.0.300/8\n",
       "acme.yaml:6:15: \"10.0.0.300/8\" is not an IPv4 or IPv6 address or CIDR"},
      {"apiVersion: agentd/v1\ntenant: acme\nrules:\n  - agents: \"acme/*/*\"\n    allow:\n      - cidr: 10.0.0.1/8\n",
       "acme.yaml:6:15: \"10.0.0.1/8\" has host bits set; did you mean 10.0.0.0/8?"},
      {"apiVersion: agentd/v1\ntenant: acme\nrules:\n  - agents: \"acme/*/*\"\n    allow:\n      - cidr: "
       "2001:db8::/129\n",
       "acme.yaml:6:15: \"2001:db8::/129\": prefix length 129 is longer than 128"},
      {"apiVersion: agentd/v1\ntenant: acme\nrules:\n  - agents: \"acme/*/*\"\n    allow:\n      - cidr: 10.0.0.0/8\n"
       "        ports: [0]\n",
       "acme.yaml:7:17: \"0\" is not a port (1-65535) or a port range like \"8000-8100\""},
      {"apiVersion: agentd/v1\ntenant: acme\nrules:\n  - agents: \"acme/*/*\"\n    allow:\n      - cidr: 10.0.0.0/8\n"
       "        ports: [\"90-80\"]\n",
       "acme.yaml:7:17: port range \"90-80\" runs backwards"},
      {"apiVersion: agentd/v1\ntenant: acme\nrules:\n  - agents: \"acme/*/*\"\n    allow:\n      - cidr: 10.0.0.0/8\n"
       "        ports: []\n",
       "acme.yaml:7:16: ports is an empty list: omit it to mean every port"},
      {"apiVersion: agentd/v1\ntenant: acme\nrules:\n  - agents: \"acme/*/*\"\n    allow:\n      - cidr: 10.0.0.0/8\n"
       "        protocol: icmp\n",
       "acme.yaml:7:19: protocol \"icmp\" is not tcp or udp"},
      {"apiVersion: agentd/v1\ntenant: acme\nrules:\n  - agents: \"acme/*/*\"\n    allow:\n      - ports: [80]\n",
       "acme.yaml:6:9: rules[0].allow[0]: a destination needs \"cidr\""},
      {"apiVersion: agentd/v1\ntenant: acme\nrules: [\n", "acme.yaml:4:1: invalid YAML"},
      {"", "acme.yaml:1:1: the file is empty"},
      {"- just\n- a list\n", "acme.yaml:1:1: the policy must be a mapping"},
  };
  for (const auto& c : cases) {
    INFO(c.yaml);
    auto result = parse(c.yaml);
    CHECK_FALSE(result.ok());
    CHECK_FALSE(result.policy.has_value());
    auto errors = errors_of(result);
    REQUIRE_FALSE(errors.empty());
    INFO("first error: " << errors[0]);
    CHECK(errors[0].rfind(c.error, 0) == 0);
  }
}

TEST_CASE("all errors of all files are collected, in reading order, and nothing is half-loaded") {
  auto result = parse_policy_texts({
      {"a.yaml",
       "apiVersion: agentd/v1\ntenant: acme\nrules:\n  - agents: \"acme/*/*\"\n    allow:\n"
       "      - cidr: 10.0.0.1/8\n        ports: [99999]\n"},
      {"b.yaml",
       "apiVersion: agentd/v1\ntenant: globex\nrules:\n  - agents: \"globex/*/*\"\n    deny:\n"
       "      - cidr: 10.0.0.0/8\n        protocol: sctp\n"},
      {"c.yaml", "apiVersion: agentd/v1\ntenant: initech\n"},
  });
  auto errors = errors_of(result);
  INFO(errors.size());
  REQUIRE(errors.size() == 3);
  CHECK(errors[0].rfind("a.yaml:6:15:", 0) == 0);
  CHECK(errors[1].rfind("a.yaml:7:17:", 0) == 0);
  CHECK(errors[2].rfind("b.yaml:7:19:", 0) == 0);
  CHECK_FALSE(result.policy.has_value());
}

TEST_CASE("two files for one tenant are refused, naming both") {
  auto result = parse_policy_texts(
      {{"a.yaml", "apiVersion: agentd/v1\ntenant: acme\n"}, {"b.yaml", "apiVersion: agentd/v1\ntenant: acme\n"}});
  auto errors = errors_of(result);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0] == "b.yaml:1:1: tenant \"acme\" is already defined in a.yaml: one file per tenant");
}

TEST_CASE("a deny that overlaps the inference endpoint is a warning, not an error") {
  auto result = parse(R"(apiVersion: agentd/v1
tenant: acme
inference:
  - cidr: 203.0.113.7/32
rules:
  - agents: "acme/eng/*"
    deny:
      - cidr: 203.0.113.0/24
)");
  REQUIRE(result.ok());
  REQUIRE(result.warnings.size() == 1);
  CHECK(result.warnings[0].str().rfind("acme.yaml:8:9: rules[0].deny[0] cannot deny the tenant's inference endpoint",
                                       0) == 0);
}

TEST_CASE("names, agent names and CIDRs") {
  CHECK(is_valid_name("coder-1"));
  CHECK(is_valid_name("a.b_c-d"));
  CHECK_FALSE(is_valid_name(""));
  CHECK_FALSE(is_valid_name("-x"));
  CHECK_FALSE(is_valid_name("Coder"));
  CHECK_FALSE(is_valid_name(std::string(64, 'a')));
  CHECK(parse_agent_name("acme/eng/coder-1")->str() == "acme/eng/coder-1");
  CHECK_FALSE(parse_agent_name("acme/eng").ok());
  CHECK_FALSE(parse_agent_name("acme/eng/coder/x").ok());
  CHECK_FALSE(parse_agent_name("acme//x").ok());

  CHECK(parse_cidr("198.51.100.7")->str() == "198.51.100.7/32");
  CHECK(parse_cidr("2001:db8::/32")->str() == "2001:db8::/32");
  CHECK(parse_cidr("::ffff:198.51.100.0/120")->str() == "198.51.100.0/24");
  CHECK(parse_cidr("::ffff:198.51.100.0/120")->family == AGENTD_FAMILY_IPV4);
  CHECK(parse_cidr("0.0.0.0/0")->prefix == 0);
  CHECK_FALSE(parse_cidr("198.51.100.0/").ok());
  CHECK_FALSE(parse_cidr("198.51.100.0/x").ok());
  CHECK_FALSE(parse_cidr("host.example").ok());
  CHECK(parse_cidr("10.0.0.0/8")->contains(*parse_cidr("10.1.2.0/24")));
  CHECK_FALSE(parse_cidr("10.1.2.0/24")->contains(*parse_cidr("10.0.0.0/8")));
  CHECK_FALSE(parse_cidr("::/0")->contains(*parse_cidr("10.0.0.0/8")));
}

TEST_CASE("an unquoted * in YAML is an error with a hint to quote it, at the *") {
  for (const char* value : {"*.example.com", "*foo", "*"}) {
    auto loaded = parse_policy_texts(
        {{"acme.yaml",
          std::string(
              "apiVersion: agentd/v1\ntenant: acme\nrules:\n  - agents: \"acme/*/*\"\n    allow:\n      - host: ") +
              value + "\n"}});
    INFO(value);
    REQUIRE_FALSE(loaded.ok());
    REQUIRE(loaded.errors.size() == 1);
    const std::string error = loaded.errors[0].str();
    CHECK(error.find("acme.yaml:6:15: invalid YAML") == 0);
    CHECK(error.find("quote it") != std::string::npos);
  }
}

TEST_CASE("refuse_with chooses how a tenant's denials fail: eperm by default, econnrefused, nothing else") {
  auto fallback = parse(kExample);
  REQUIRE(fallback.errors.empty());
  CHECK(fallback.policy->find("acme")->refuse_with == RefuseWith::eperm);
  auto refusing = parse(std::string(kExample) + "refuse_with: econnrefused\n");
  REQUIRE(refusing.errors.empty());
  CHECK(refusing.policy->find("acme")->refuse_with == RefuseWith::econnrefused);
  auto explicit_default = parse(std::string(kExample) + "refuse_with: eperm\n");
  REQUIRE(explicit_default.errors.empty());
  CHECK(explicit_default.policy->find("acme")->refuse_with == RefuseWith::eperm);

  CHECK(errors_of(parse("apiVersion: agentd/v1\ntenant: acme\nrefuse_with: reset\n")) ==
        std::vector<std::string>{"acme.yaml:3:14: refuse_with must be eperm or econnrefused, not \"reset\""});
  CHECK(errors_of(parse("apiVersion: agentd/v1\ntenant: acme\nrefuse_with: [eperm]\n")) ==
        std::vector<std::string>{"acme.yaml:3:14: refuse_with must be a single value"});
}
