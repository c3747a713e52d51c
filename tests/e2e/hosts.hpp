// Several agent hosts in one test: each a World of its own (namespaces,
// cgroup root, bpffs, state), and a link between two of them.
#pragma once

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "process.hpp"
#include "world.hpp"

namespace agentd::e2e {

// A link of the test's own between two worlds' host namespaces, on
// documentation addresses: `one` at 192.0.2.1, `two` at 192.0.2.2. Gone
// with the namespaces at teardown.
inline void link_hosts(const World& one, const World& two) {
  const std::string &a = one.host_ns_name(), &b = two.host_ns_name();
  for (const std::vector<std::string>& argv : std::vector<std::vector<std::string>>{
           {"ip", "-n", a, "link", "add", "fleet0", "type", "veth", "peer", "name", "fleet1", "netns", b},
           {"ip", "-n", a, "addr", "add", "192.0.2.1/24", "dev", "fleet0"},
           {"ip", "-n", a, "link", "set", "fleet0", "up"},
           {"ip", "-n", b, "addr", "add", "192.0.2.2/24", "dev", "fleet1"},
           {"ip", "-n", b, "link", "set", "fleet1", "up"}}) {
    auto result = run_process(argv);
    INFO(result.describe());
    REQUIRE(result.exit_code == 0);
  }
}

}  // namespace agentd::e2e
