// The control table: every method once, with the role its effect needs,
// and nothing served that is not in it.
#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "agentd/approvals/control_methods.hpp"

using namespace agentd::approvals;

TEST_CASE("the control table names each method once, and unknown methods are not in it") {
  std::set<std::string> names;
  for (const auto& method : control_methods()) {
    INFO(method.name);
    CHECK(names.insert(std::string(method.name)).second);
    CHECK(method.role >= Role::viewer);
    CHECK(find_control_method(method.name) == &method);
  }
  CHECK(find_control_method("") == nullptr);
  CHECK(find_control_method("status ") == nullptr);
  CHECK(find_control_method("sandbox") == nullptr);
  CHECK(find_control_method("approvals.") == nullptr);
}

TEST_CASE("what changes enforcement needs an admin, answering needs an approver, reading a viewer") {
  auto role = [](const char* name) {
    const auto* method = find_control_method(name);
    REQUIRE(method != nullptr);
    return method->role;
  };
  for (const char* name : {"sandbox.ensure", "sandbox.adopt", "sandbox.remove", "policy.apply"})
    CHECK(role(name) == Role::admin);
  for (const char* name : {"approvals.approve", "approvals.deny", "approvals.reopen", "grants.add", "grants.revoke"})
    CHECK(role(name) == Role::approver);
  for (const char* name : {"status", "sandbox.list", "policy.explain", "approvals.watch", "audit.query"})
    CHECK(role(name) == Role::viewer);
  // A sandbox is made for one tenant: an admin of that tenant suffices; a
  // reload touches every tenant.
  CHECK(find_control_method("sandbox.ensure")->tenants == MethodTenants::the_agents);
  CHECK(find_control_method("policy.apply")->tenants == MethodTenants::every);
}
