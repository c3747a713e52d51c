// What a policy does to standing grants (approvals/grant_review): policy
// diff shows the grants an apply would revoke and those it makes redundant.
#include <catch2/catch.hpp>

#include "agentd/approvals/grant_review.hpp"
#include "policy_fixtures.hpp"

using namespace agentd;
using namespace agentd::approvals;
using agentd::policy::agent;

namespace {

const char* kCandidate = R"(apiVersion: agentd/v1
tenant: acme
rules:
  - agents: "acme/eng/*"
    allow:
      - cidr: 198.51.100.0/24
        ports: [443]
      - host: files.example.test
        ports: [443, "8000-8100"]
      - host: tcp-only.example.test
        ports: [443]
        protocol: tcp
    deny:
      - cidr: 203.0.113.0/24
      - host: evil.example.test
)";

Grant address_grant(Scope scope, const std::string& subject, const std::string& address, uint16_t port) {
  Grant g;
  g.id = 1;
  g.scope = scope;
  g.subject = subject;
  g.address = address;
  g.port = port;
  g.protocol = "tcp";
  return g;
}

Grant name_grant(Scope scope, const std::string& subject, const std::string& name,
                 std::vector<policy::PortRange> ports = {}) {
  Grant g;
  g.id = 2;
  g.scope = scope;
  g.subject = subject;
  g.host = name;
  g.protocol = kNameProtocol;
  g.ports = std::move(ports);
  return g;
}

}  // namespace

TEST_CASE("a grant the candidate denies outright is revoked on apply, naming the deny") {
  const auto set = policy::load(kCandidate);
  auto review = GrantJudge(set).review(address_grant(Scope::agent, "acme/eng/a", "203.0.113.5", 80), {});
  CHECK(review.fate == GrantFate::revoked);
  CHECK(review.why.find("denied by") != std::string::npos);
  CHECK(GrantJudge(set).review(name_grant(Scope::agent, "acme/eng/a", "evil.example.test"), {}).fate ==
        GrantFate::revoked);
  // A team grant: revoked only when the deny covers every sandbox it covers.
  const Grant team = address_grant(Scope::team, "acme/eng", "203.0.113.5", 80);
  CHECK(GrantJudge(set).review(team, {agent("acme/eng/a"), agent("acme/eng/b")}).fate == GrantFate::revoked);
  CHECK(GrantJudge(set).review(team, {}).fate == GrantFate::kept);  // no sandbox to judge it by
  const Grant tenant = address_grant(Scope::tenant, "acme", "203.0.113.5", 80);
  CHECK(GrantJudge(set).review(tenant, {agent("acme/eng/a"), agent("acme/ops/x")}).fate == GrantFate::kept);
}

TEST_CASE("a grant the candidate's rules allow in full is redundant, one they allow in part is kept or shadowed") {
  const auto set = policy::load(kCandidate);
  auto review = GrantJudge(set).review(address_grant(Scope::agent, "acme/eng/a", "198.51.100.20", 443), {});
  CHECK(review.fate == GrantFate::redundant);
  CHECK(review.why.find("allowed by") != std::string::npos);
  CHECK(GrantJudge(set).review(address_grant(Scope::agent, "acme/eng/a", "198.51.100.20", 80), {}).fate ==
        GrantFate::kept);
  CHECK(GrantJudge(set).review(address_grant(Scope::agent, "acme/ops/x", "198.51.100.20", 443), {}).fate ==
        GrantFate::kept);
  // A name: its ports, over TCP and UDP, all inside the rules' ports.
  CHECK(GrantJudge(set)
            .review(name_grant(Scope::agent, "acme/eng/a", "files.example.test", {{443, 443}, {8050, 8060}}), {})
            .fate == GrantFate::redundant);
  // A rule now decides the name on fewer ports than the grant opens: the
  // rule's ports win (the grant is not consulted), the others close.
  auto narrowed =
      GrantJudge(set).review(name_grant(Scope::agent, "acme/eng/a", "files.example.test", {{443, 444}}), {});
  CHECK(narrowed.fate == GrantFate::shadowed);
  CHECK(narrowed.why.find("its ports win") != std::string::npos);
  CHECK(GrantJudge(set).review(name_grant(Scope::agent, "acme/eng/a", "files.example.test"), {}).fate ==
        GrantFate::shadowed);
  CHECK(
      GrantJudge(set).review(name_grant(Scope::agent, "acme/eng/a", "tcp-only.example.test", {{443, 443}}), {}).fate ==
      GrantFate::shadowed);
  CHECK(GrantJudge(set).review(name_grant(Scope::agent, "acme/eng/a", "other.example.test"), {}).fate ==
        GrantFate::kept);
  // The JSON policy diff answers with leaves out what stays as it is.
  const auto listed = review_grants_json(set,
                                         {address_grant(Scope::agent, "acme/eng/a", "198.51.100.20", 443),
                                          name_grant(Scope::agent, "acme/eng/a", "x.test")},
                                         {});
  REQUIRE(listed.size() == 1);
  CHECK(listed[0]["fate"] == "redundant");
}
