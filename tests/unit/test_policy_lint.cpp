// `policy validate`'s warnings: rules that are valid but do nothing, each
// at file:line:column and naming the rules involved.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "agentd/policy/lint.hpp"
#include "agentd/policy/loader.hpp"
#include "policy_fixtures.hpp"

using namespace agentd::policy;

namespace {

std::vector<std::string> lint(const std::string& text) {
  std::vector<std::string> out;
  for (const auto& d : lint_policy(load(text))) out.push_back(d.str());
  return out;
}

std::string tenant_file(const std::string& rules) { return "apiVersion: agentd/v1\ntenant: acme\nrules:\n" + rules; }

}  // namespace

TEST_CASE("lint: a clean policy has no warnings") {
  CHECK(lint(tenant_file(R"(  - agents: "acme/*/*"
    allow:
      - cidr: 198.51.100.0/24
        ports: [443]
      - host: "*.github.com"
    deny:
      - cidr: 198.51.100.66/32
      - host: gist.github.com
)"))
            .empty());
}

TEST_CASE("lint: an allow inside a denied range is shadowed") {
  auto warnings = lint(tenant_file(R"(  - agents: "acme/eng/*"
    allow:
      - cidr: 198.51.100.64/26
        ports: [443]
  - agents: "acme/*/*"
    deny:
      - cidr: 198.51.100.0/24
)"));
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("acme.yaml:6:9: rules[0].allow[0]") == 0);
  CHECK(warnings[0].find("is shadowed by acme.yaml:10:9 rules[1].deny[0] (cidr 198.51.100.0/24)") != std::string::npos);
}

TEST_CASE("lint: the same CIDR allowed and denied, IPv6 too") {
  auto warnings = lint(tenant_file(R"(  - agents: "acme/*/*"
    allow:
      - cidr: 2001:db8:1::/48
    deny:
      - cidr: 2001:db8::/32
)"));
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("rules[0].allow[0] (cidr 2001:db8:1::/48) is shadowed by") != std::string::npos);
}

TEST_CASE("lint: a deny that leaves some of the allow open shadows nothing") {
  SECTION("narrower range") {
    CHECK(lint(tenant_file(R"(  - agents: "acme/*/*"
    allow: [{cidr: 198.51.100.0/24}]
    deny: [{cidr: 198.51.100.0/25}]
)"))
              .empty());
  }
  SECTION("fewer ports") {
    CHECK(lint(tenant_file(R"(  - agents: "acme/*/*"
    allow: [{cidr: 198.51.100.0/24, ports: [80, 443]}]
    deny: [{cidr: 198.51.100.0/24, ports: [80]}]
)"))
              .empty());
  }
  SECTION("another protocol") {
    CHECK(lint(tenant_file(R"(  - agents: "acme/*/*"
    allow: [{cidr: 198.51.100.0/24, protocol: udp}]
    deny: [{cidr: 198.51.100.0/24, protocol: tcp}]
)"))
              .empty());
  }
  SECTION("fewer agents") {
    CHECK(lint(tenant_file(R"(  - agents: "acme/*/*"
    allow: [{cidr: 198.51.100.0/24}]
  - agents: "acme/eng/*"
    deny: [{cidr: 198.51.100.0/24}]
)"))
              .empty());
  }
  SECTION("another family") {
    CHECK(lint(tenant_file(R"(  - agents: "acme/*/*"
    allow: [{cidr: "2001:db8::/32"}]
    deny: [{cidr: 0.0.0.0/0}]
)"))
              .empty());
  }
}

TEST_CASE("lint: a deny's ports, merged, may cover the allow's") {
  auto warnings = lint(tenant_file(R"(  - agents: "acme/*/coder-1"
    allow: [{cidr: 198.51.100.0/24, ports: ["8000-8100"], protocol: tcp}]
  - agents: "acme/*/coder-*"
    deny: [{cidr: 198.51.100.0/24, ports: ["7000-8049", "8050-9000"]}]
)"));
  CHECK(warnings.size() == 1);
}

TEST_CASE("lint: a host deny glob covering an allowed host") {
  auto warnings = lint(tenant_file(R"(  - agents: "acme/*/*"
    allow:
      - host: api.example.com
      - host: "*.cdn.example.com"
      - host: example.com
    deny:
      - host: "*.example.com"
)"));
  REQUIRE(warnings.size() == 2);
  CHECK(warnings[0].find("acme.yaml:6:9: rules[0].allow[0] (host api.example.com) is shadowed by acme.yaml:10:9 "
                         "rules[0].deny[0] (host *.example.com): the deny glob covers the host") == 0);
  CHECK(warnings[1].find("acme.yaml:7:9: rules[0].allow[1] (host *.cdn.example.com)") == 0);
}

TEST_CASE("lint: the same host allowed and denied") {
  auto warnings = lint(tenant_file(R"(  - agents: "acme/*/*"
    allow: [{host: api.example.com, ports: [443]}]
    deny: [{host: api.example.com}]
)"));
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("the same host is denied") != std::string::npos);
}

TEST_CASE("lint: inbound allows are judged against inbound denies only") {
  CHECK(lint(tenant_file(R"(  - agents: "acme/*/*"
    inbound:
      allow: [{cidr: 198.51.100.0/24}]
    deny: [{cidr: 198.51.100.0/24}]
)"))
            .empty());
  CHECK(lint(tenant_file(R"(  - agents: "acme/*/*"
    inbound:
      allow: [{cidr: 198.51.100.7/32}]
      deny: [{cidr: 198.51.100.0/24}]
)"))
            .size() == 1);
}

TEST_CASE("lint: a destination written twice for the same agents") {
  auto warnings = lint(tenant_file(R"(  - agents: "acme/*/*"
    allow:
      - host: api.example.com
        ports: [443, 80]
      - cidr: 203.0.113.0/24
  - agents: "acme/*/*"
    allow:
      - host: API.example.com
        ports: [80, 443]
      - cidr: 203.0.113.0/24
        ports: [22]
)"));
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("acme.yaml:11:9: rules[1].allow[0] (host api.example.com) repeats acme.yaml:6:9 "
                         "rules[0].allow[0] (host api.example.com)") == 0);
}

TEST_CASE("lint: a repeated deny and a repeated CIDR are duplicates too") {
  auto warnings = lint(tenant_file(R"(  - agents: "acme/eng/*"
    allow: [{cidr: 203.0.113.0/24}, {cidr: 203.0.113.0/24}]
    deny: [{host: evil.example.com}, {host: evil.example.com}]
)"));
  CHECK(warnings.size() == 2);
}

TEST_CASE("lint: the same destination for other agents is no duplicate") {
  CHECK(lint(tenant_file(R"(  - agents: "acme/eng/*"
    allow: [{cidr: 203.0.113.0/24}]
  - agents: "acme/ops/*"
    allow: [{cidr: 203.0.113.0/24}]
)"))
            .empty());
}

TEST_CASE("lint: a preset's destinations warn once at the preset entry") {
  const char* preset = R"(apiVersion: agentd/v1
preset: mirrors
destinations:
  - host: a.mirror.example.com
  - host: b.mirror.example.com
)";
  auto loaded = parse_policy_texts({{"acme.yaml", tenant_file(R"(  - agents: "acme/*/*"
    allow: [{preset: mirrors}]
    deny: [{host: "*.mirror.example.com"}]
)")}},
                                   {{"presets/mirrors.yaml", preset}});
  REQUIRE(loaded.ok());
  auto warnings = lint_policy(*loaded.policy);
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].str().find("preset mirrors") != std::string::npos);
}
