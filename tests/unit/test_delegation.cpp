// The delegated cgroup layout under systemd (Delegate=yes): pure parts.
#include <stdlib.h>

#include <catch2/catch.hpp>

#include "agentd/sandbox/delegation.hpp"

using namespace agentd::sandbox;

TEST_CASE("a delegated unit cgroup is divided into the daemon's leaf and the sandbox root") {
  const auto layout = delegated_layout("/sys/fs/cgroup/system.slice/agentd.service");
  CHECK(layout.unit_cgroup == "/sys/fs/cgroup/system.slice/agentd.service");
  CHECK(layout.daemon_leaf == "/sys/fs/cgroup/system.slice/agentd.service/daemon");
  CHECK(layout.sandbox_root == "/sys/fs/cgroup/system.slice/agentd.service/sandboxes");
  // Started again from its leaf (moved there by hand) or with a trailing
  // '/': the same layout, never a leaf inside the leaf.
  CHECK(delegated_layout("/sys/fs/cgroup/system.slice/agentd.service/daemon").sandbox_root == layout.sandbox_root);
  CHECK(delegated_layout("/sys/fs/cgroup/system.slice/agentd.service/").daemon_leaf == layout.daemon_leaf);
}

TEST_CASE("only a service that systemd started in a cgroup of its own divides it") {
  // The environment is set and unset on the test runner's one thread.
  const char* mount = "/sys/fs/cgroup";
  unsetenv("INVOCATION_ID");  // NOLINT(concurrency-mt-unsafe): one thread
  CHECK_FALSE(started_by_systemd("/sys/fs/cgroup/system.slice/agentd.service", mount));
  setenv("INVOCATION_ID", "", 1);  // NOLINT(concurrency-mt-unsafe): one thread
  CHECK_FALSE(started_by_systemd("/sys/fs/cgroup/system.slice/agentd.service", mount));
  setenv("INVOCATION_ID", "0123456789abcdef0123456789abcdef", 1);  // NOLINT(concurrency-mt-unsafe): one thread
  CHECK(started_by_systemd("/sys/fs/cgroup/system.slice/agentd.service", mount));
  CHECK_FALSE(started_by_systemd("/sys/fs/cgroup", mount));  // the root cgroup is not ours to divide
  CHECK_FALSE(started_by_systemd("/sys/fs/cgroup/", mount));
  CHECK_FALSE(started_by_systemd("/elsewhere/agentd.service", mount));
  unsetenv("INVOCATION_ID");  // NOLINT(concurrency-mt-unsafe): one thread
}
