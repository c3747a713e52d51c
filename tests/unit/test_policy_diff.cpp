// `policy diff`: rule by rule, per tenant, with where each line is written.
#include <catch2/catch.hpp>

#include <set>

#include "agentd/policy/diff.hpp"
#include "agentd/policy/loader.hpp"

using namespace agentd::policy;

namespace {

PolicySet load(const std::vector<std::pair<std::string, std::string>>& files) {
  auto result = parse_policy_texts(files);
  REQUIRE(result.ok());
  return std::move(*result.policy);
}

std::set<std::string> lines_of(const std::vector<PolicyChange>& changes) {
  std::set<std::string> out;
  for (const auto& c : changes) out.insert(std::string(c.added ? "+ " : "- ") + c.line + " @ " + c.location);
  return out;
}

const char* kBefore = R"(apiVersion: agentd/v1
tenant: acme
rules:
  - agents: "acme/*/*"
    allow:
      - cidr: 198.51.100.0/24
        ports: [443, 80]
      - cidr: 203.0.113.0/24
)";

}  // namespace

TEST_CASE("the same rules written differently are no change") {
  // Reordered ports, another key order, a comment: the canonical lines match.
  const char* reworded = R"(# edited
apiVersion: agentd/v1
tenant: acme
rules:
  - allow:
      - ports: [80, 443]
        cidr: 198.51.100.0/24
      - cidr: 203.0.113.0/24
    agents: "acme/*/*"
)";
  CHECK(diff_policies(load({{"acme.yaml", kBefore}}), load({{"acme.yaml", reworded}})).empty());
}

TEST_CASE("an edited rule shows as one removal and one addition, with their places") {
  const char* after = R"(apiVersion: agentd/v1
tenant: acme
rules:
  - agents: "acme/*/*"
    allow:
      - cidr: 198.51.100.0/24
        ports: [443]
      - cidr: 203.0.113.0/24
    deny:
      - cidr: 203.0.113.9/32
        protocol: udp
)";
  CHECK(lines_of(diff_policies(load({{"acme.yaml", kBefore}}), load({{"acme.yaml", after}}))) ==
        std::set<std::string>{
            "- acme/*/*: allow 198.51.100.0/24 ports 80,443 tcp+udp @ acme.yaml:6:9",
            "+ acme/*/*: allow 198.51.100.0/24 ports 443 tcp+udp @ acme.yaml:6:9",
            "+ acme/*/*: deny 203.0.113.9/32 ports all udp @ acme.yaml:10:9",
        });
}

TEST_CASE("a tenant added or removed shows all its rules") {
  const char* globex = "apiVersion: agentd/v1\ntenant: globex\nrules:\n  - agents: \"globex/*/*\"\n"
                       "    allow:\n      - cidr: 2001:db8::/32\n";
  auto before = load({{"acme.yaml", kBefore}});
  auto after = load({{"acme.yaml", kBefore}, {"globex.yaml", globex}});
  auto added = diff_policies(before, after);
  REQUIRE(added.size() == 1);
  CHECK(added[0].added);
  CHECK(added[0].tenant == "globex");
  CHECK(added[0].line == "globex/*/*: allow 2001:db8::/32 ports all tcp+udp");
  auto removed = diff_policies(after, before);
  REQUIRE(removed.size() == 1);
  CHECK_FALSE(removed[0].added);
  CHECK(removed[0].location == "globex.yaml:6:9");
}
