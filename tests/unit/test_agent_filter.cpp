// agentctl's --agent/--tenant filter over sandbox names.
#include <catch2/catch.hpp>

#include "../../cli/agent_filter.hpp"

using agentctl::AgentFilter;

TEST_CASE("agentctl's --agent globs over tenant/team/agent, --tenant takes a whole tenant") {
  CHECK(AgentFilter{}.matches("acme/ds/nb"));
  CHECK(AgentFilter{"acme/ds/*", ""}.matches("acme/ds/nb"));
  CHECK_FALSE(AgentFilter{"acme/ds/*", ""}.matches("acme/eng/nb"));
  CHECK(AgentFilter{"acme/*", ""}.matches("acme/eng/nb"));  // as audit --agent: * crosses /
  CHECK(AgentFilter{"*/*/coder-?", ""}.matches("globex/web/coder-1"));
  CHECK(AgentFilter{"", "acme"}.matches("acme/eng/a"));
  CHECK_FALSE(AgentFilter{"", "acme"}.matches("acmex/eng/a"));  // a tenant is a whole name
  CHECK_FALSE(AgentFilter{"", "acme"}.matches("globex/acme/a"));
  CHECK_FALSE(AgentFilter{"acme/ds/*", "globex"}.matches("acme/ds/nb"));  // both must hold
}

TEST_CASE("a filter that could not mean a sandbox is refused, saying why") {
  CHECK(AgentFilter{"acme/ds/*", "acme"}.problem().empty());
  CHECK(AgentFilter{"", "Acme"}.problem().find("not a tenant name") != std::string::npos);
  CHECK(AgentFilter{"", "acme/eng"}.problem().find("not a tenant name") != std::string::npos);
  CHECK(AgentFilter{"coder-*", ""}.problem().find("TENANT/TEAM/AGENT") != std::string::npos);
}
