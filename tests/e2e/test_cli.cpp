// agentctl finds agentd's socket wherever an operator puts --socket, or
// from AGENTD_SOCKET, and a wrong one is named in the error.
#include <catch2/catch.hpp>

#include "world.hpp"

using namespace agentd::e2e;

TEST_CASE("agentctl takes --socket after the subcommand, or AGENTD_SOCKET", "[kernel-neutral]") {
  World world;
  world.write_policy("acme.yaml",
                     "apiVersion: agentd/v1\ntenant: acme\nrules:\n  - agents: \"acme/eng/*\"\n    allow:\n      - "
                     "cidr: 198.51.100.20/32\n        ports: [80]\n");
  REQUIRE(world.start_agentd());
  const std::string socket = world.socket().string();
  auto after = world.in_host({agentctl_bin(), "status", "-o", "json", "--socket", socket});
  INFO(after.describe());
  CHECK(after.exit_code == 0);
  auto nested = world.in_host({agentctl_bin(), "sandbox", "list", "--socket", socket});
  INFO(nested.describe());
  CHECK(nested.exit_code == 0);
  auto from_env = world.in_host({"env", "AGENTD_SOCKET=" + socket, agentctl_bin(), "status", "-o", "json"});
  INFO(from_env.describe());
  CHECK(from_env.exit_code == 0);
  // The command line wins over the environment.
  auto wrong =
      world.in_host({"env", "AGENTD_SOCKET=" + socket, agentctl_bin(), "status", "--socket", "/nonexistent.sock"});
  INFO(wrong.describe());
  CHECK(wrong.exit_code == 1);
  CHECK(wrong.err.find("/nonexistent.sock") != std::string::npos);
  // After `--`, --socket is the command's own argument, not agentctl's.
  auto passed =
      world.in_host({agentctl_bin(), "--socket", socket, "run", "--agent", "acme/eng/a", "--", "echo", "--socket"});
  INFO(passed.describe());
  CHECK(passed.exit_code == 0);
  CHECK(passed.out == "--socket\n");
}
