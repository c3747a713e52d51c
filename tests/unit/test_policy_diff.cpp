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
  const char* globex =
      "apiVersion: agentd/v1\ntenant: globex\nrules:\n  - agents: \"globex/*/*\"\n"
      "    allow:\n      - cidr: 2001:db8::/32\n";
  auto before = load({{"acme.yaml", kBefore}});
  auto after = load({{"acme.yaml", kBefore}, {"globex.yaml", globex}});
  auto added = diff_policies(before, after);
  REQUIRE(added.size() == 1);
  CHECK(added[0].added);
  CHECK(added[0].tenant == "globex");
  CHECK(added[0].line == "globex/*/*: allow 2001:db8::/32 ports all tcp+udp");
  auto removed = diff_policies(after, before);  // NOLINT(readability-suspicious-call-argument): backwards
  REQUIRE(removed.size() == 1);
  CHECK_FALSE(removed[0].added);
  CHECK(removed[0].location == "globex.yaml:6:9");
}

TEST_CASE("host destinations have lines of their own, and a preset's change shows where it is used") {
  const char* tenant = R"(apiVersion: agentd/v1
tenant: acme
rules:
  - agents: "acme/*/*"
    allow:
      - preset: pypi
      - host: "*.gitlab.com"
        protocol: tcp
        ports: [443]
    deny:
      - host: gist.gitlab.com
)";
  const char* pypi = "apiVersion: agentd/v1\npreset: pypi\ndestinations:\n  - host: pypi.org\n    ports: [443]\n";
  auto load_with = [&](const std::string& preset) {
    auto result = parse_policy_texts({{"acme.yaml", tenant}}, {{"presets/pypi.yaml", preset}});
    REQUIRE(result.ok());
    return std::move(*result.policy);
  };
  const PolicySet before = load_with(pypi);
  const PolicySet& set = before;
  const auto& rule = set.tenants()[0].rules[0];
  CHECK(canonical_line(set, set.endpoint(rule.allow[1]), "acme/*/*") ==
        "acme/*/*: allow host *.gitlab.com ports 443 tcp");
  CHECK(canonical_line(set, set.endpoint(rule.deny[0]), "acme/*/*") ==
        "acme/*/*: deny host gist.gitlab.com ports all tcp+udp");

  const PolicySet after = load_with(std::string(pypi) + "  - host: files.pythonhosted.org\n    ports: [443]\n");
  CHECK(lines_of(diff_policies(before, after)) ==
        std::set<std::string>{"+ acme/*/*: allow host files.pythonhosted.org ports 443 tcp+udp @ acme.yaml:6:9 preset "
                              "pypi at presets/pypi.yaml:6:5"});
  CHECK(diff_policies(before, load_with(pypi)).empty());
}

TEST_CASE("a change of refuse_with is a change") {
  auto before = load({{"acme.yaml", kBefore}});
  auto after = load({{"acme.yaml", std::string(kBefore) + "refuse_with: econnrefused\n"}});
  CHECK(lines_of(diff_policies(before, after)) ==
        std::set<std::string>{"+ acme/*/*: refuse_with econnrefused @ acme.yaml"});
  CHECK(diff_policies(after, after).empty());
}
