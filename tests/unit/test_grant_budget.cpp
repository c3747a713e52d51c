// Each tenant's share of the kernel's grant entries: what the grants
// need, a grant refused past the limit, and which entries a limit leaves
// out when sandboxes come after the grants.
#include <catch2/catch.hpp>

#include "agentd/approvals/grant_budget.hpp"

using namespace agentd::approvals;

namespace {

std::vector<GrantSandbox> sandboxes(const std::vector<std::string>& agents) {
  std::vector<GrantSandbox> out;
  out.reserve(agents.size());
  uint32_t slot = 1;
  for (const auto& a : agents) out.push_back({slot++, *agentd::policy::parse_agent_name(a)});
  return out;
}

Grant grant(uint64_t id, Scope scope, const std::string& subject, const std::string& address, uint16_t port = 443) {
  Grant g;
  g.id = id;
  g.scope = scope;
  g.subject = subject;
  g.address = address;
  g.port = port;
  g.protocol = "tcp";
  return g;
}

Grant name_grant(uint64_t id, Scope scope, const std::string& subject, const std::string& host) {
  Grant g = grant(id, scope, subject, "", 0);
  g.protocol = kNameProtocol;
  g.host = host;
  return g;
}

}  // namespace

TEST_CASE("a tenant grant takes one entry per sandbox it covers and ports of one address share it") {
  const auto boxes = sandboxes({"acme/eng/a", "acme/eng/b", "acme/ds/c", "globex/ops/d"});
  CHECK(entries_of(grant(1, Scope::tenant, "acme", "198.51.100.20"), boxes).size() == 3);
  CHECK(entries_of(grant(1, Scope::team, "acme/eng", "198.51.100.20"), boxes).size() == 2);
  CHECK(entries_of(grant(1, Scope::agent, "globex/ops/d", "2001:db8::1"), boxes).size() == 1);
  CHECK(entries_of(name_grant(1, Scope::tenant, "acme", "pypi.org"), boxes).size() == 3);
  CHECK(entries_of(grant(1, Scope::tenant, "acme", "not an address"), boxes).empty());

  std::map<uint64_t, Grant> grants;
  grants[1] = grant(1, Scope::tenant, "acme", "198.51.100.20", 443);
  grants[2] = grant(2, Scope::agent, "acme/eng/a", "198.51.100.20", 80);  // same entry as grant 1 for a
  grants[3] = name_grant(3, Scope::team, "acme/eng", "pypi.org");
  grants[4] = grant(4, Scope::tenant, "globex", "198.51.100.20");
  const auto plan = GrantBudget(100).plan(grants, boxes);
  CHECK(plan.by_tenant.at("acme") == 5);  // 3 address entries, 2 names
  CHECK(plan.by_tenant.at("globex") == 1);
  CHECK(plan.written.size() == 6);
  CHECK(plan.over_limit == 0);
}

TEST_CASE("a grant past its tenant's limit is refused naming the limit but another tenant's is not") {
  const auto boxes = sandboxes({"acme/eng/a", "acme/eng/b", "acme/eng/c", "globex/ops/d"});
  const GrantBudget budget(4);
  std::map<uint64_t, Grant> grants;
  grants[1] = grant(1, Scope::tenant, "acme", "198.51.100.20");                                        // 3 entries
  CHECK(budget.refuse(grant(2, Scope::agent, "acme/eng/a", "198.51.100.21"), grants, boxes).empty());  // 4
  const std::string why = budget.refuse(grant(2, Scope::team, "acme/eng", "198.51.100.21"), grants, boxes);  // 6
  CHECK(why.find("tenant acme would hold 6 kernel grant entries") != std::string::npos);
  CHECK(why.find("limit of 4 (--grants-per-tenant)") != std::string::npos);
  CHECK(why.find("needs 3 more") != std::string::npos);
  // Another port of an address already held adds no entry: it fits whatever the count.
  grants[2] = grant(2, Scope::agent, "acme/eng/a", "198.51.100.21");
  CHECK(budget.refuse(grant(3, Scope::tenant, "acme", "198.51.100.20", 8443), grants, boxes).empty());
  CHECK_FALSE(budget.refuse(name_grant(3, Scope::agent, "acme/eng/b", "pypi.org"), grants, boxes).empty());
  // acme is full; globex has its own share.
  CHECK(budget.refuse(grant(3, Scope::tenant, "globex", "198.51.100.21"), grants, boxes).empty());
}

TEST_CASE("sandboxes made after a tenant's grants leave out the newest grants' entries and count them") {
  std::map<uint64_t, Grant> grants;
  grants[1] = grant(1, Scope::tenant, "acme", "198.51.100.20");
  grants[2] = grant(2, Scope::tenant, "acme", "198.51.100.21");
  grants[3] = grant(3, Scope::tenant, "globex", "198.51.100.21");
  const auto boxes = sandboxes({"acme/eng/a", "acme/eng/b", "acme/eng/c", "globex/ops/d"});
  const auto plan = GrantBudget(4).plan(grants, boxes);
  CHECK(plan.by_tenant.at("acme") == 4);
  CHECK(plan.over_limit == 2);
  for (const auto& e : entries_of(grants[1], boxes)) CHECK(plan.admits(e));  // the oldest grant whole
  CHECK(plan.admits(entries_of(grants[2], boxes)[0]));
  CHECK_FALSE(plan.admits(entries_of(grants[2], boxes)[2]));
  CHECK(plan.admits(entries_of(grants[3], boxes)[0]));  // globex untouched
  // And nothing more of acme's gets in meanwhile.
  CHECK_FALSE(GrantBudget(4).refuse(grant(4, Scope::agent, "acme/eng/a", "198.51.100.22"), grants, boxes).empty());
}
