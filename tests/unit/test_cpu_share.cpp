// Per-sandbox CPU shares (cpu_share.hpp): which cgroups hand the cpu
// controller down, and reading cgroup.controllers.
#include <catch2/catch.hpp>

#include "agentd/sandbox/cpu_share.hpp"

using namespace agentd::sandbox;

TEST_CASE("the cpu controller is handed down from the sandbox root to every level above a sandbox") {
  const auto levels = cpu_share_levels("/cg/agentd", "acme/eng/coder-1");
  REQUIRE(levels.size() == 3);
  CHECK(levels[0] == "/cg/agentd");           // tenants share equally
  CHECK(levels[1] == "/cg/agentd/acme");      // the teams of a tenant
  CHECK(levels[2] == "/cg/agentd/acme/eng");  // the agents of a team
  // Never the sandbox itself: its processes live there, and cgroup v2 keeps
  // processes out of a cgroup that hands controllers down.
  for (const auto& level : levels) CHECK(level != "/cg/agentd/acme/eng/coder-1");
  CHECK(cpu_share_levels("/cg/agentd", "lone") == std::vector<std::filesystem::path>{"/cg/agentd"});
}

TEST_CASE("cgroup.controllers names the cpu controller as a whole word only") {
  CHECK(lists_cpu("cpuset cpu io memory pids"));
  CHECK(lists_cpu("cpu"));
  CHECK_FALSE(lists_cpu("cpuset io memory"));  // a hybrid layout's cgroup2 without cpu
  CHECK_FALSE(lists_cpu("hugetlb"));
  CHECK_FALSE(lists_cpu(""));
}
