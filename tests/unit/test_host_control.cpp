// What `agentctl run` hides from a sandbox, as found in the parent (no
// root needed): agentd's directories made absolute and unique, never "/",
// and the cgroup and extra procfs mounts of this host.
#include <catch2/catch.hpp>

#include <algorithm>

#include "agentd/confine/host_control.hpp"

using agentd::confine::find_host_control_paths;

TEST_CASE("agentd's directories are hidden whole, once each, and never /") {
  auto paths =
      find_host_control_paths({"/run/agentd/", "/run/agentd", "/var/lib/agentd//", "/", "", "/etc/agentd/policies"});
  REQUIRE(paths);
  CHECK(paths->agentd_dirs == std::vector<std::string>{"/run/agentd", "/var/lib/agentd", "/etc/agentd/policies"});
}

TEST_CASE("the host's /proc is replaced, not covered, and other procfs mounts are covered") {
  auto paths = find_host_control_paths({});
  REQUIRE(paths);
  CHECK(std::find(paths->proc_mounts.begin(), paths->proc_mounts.end(), "/proc") == paths->proc_mounts.end());
  for (const auto& point : paths->cgroup_mounts) CHECK(point.rfind('/', 0) == 0);
}
