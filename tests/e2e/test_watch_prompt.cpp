// agentctl watch in a real terminal: tmux runs two watchers, keys go in
// with send-keys, the screen comes back with capture-pane.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <sstream>

#include "approvals_helpers.hpp"
#include "expectations.hpp"
#include "tmux.hpp"
#include "policies.hpp"
#include "world.hpp"

using namespace agentd::e2e;

TEST_CASE("agentctl watch prompts in a terminal, one key answers, and every watcher sees the answer",
          "[kernel-neutral]") {
  World world;
  world.write_policy("acme.yaml", kAcmePolicy);
  REQUIRE(world.start_agentd());
  Tmux tmux(world);
  const std::string watch = std::string(agentctl_bin()) + " --socket " + world.socket().string() + " watch";
  tmux.start("one", watch);
  tmux.start("two", watch);
  CHECK(tmux.wait_for("one", "waiting for requests").find("waiting for requests") != std::string::npos);
  CHECK(tmux.wait_for("two", "waiting for requests").find("waiting for requests") != std::string::npos);

  expect_refused(connect_from(world, "acme/eng/coder-1", "198.51.100.20", 8080));
  std::string screen = tmux.wait_for("one", "198.51.100.20:8080/tcp");
  INFO(screen);
  CHECK(screen.find("acme/eng/coder-1") != std::string::npos);
  CHECK(screen.find("netprobe (pid") != std::string::npos);
  for (const char* key :
       {"[a] allow agent", "[p] allow agent permanently", "[t] allow team", "[n] allow tenant", "[d] deny", "[s] skip"})
    CHECK(screen.find(key) != std::string::npos);
  // The key lines fit an 80-column terminal (this one has 160: nothing wraps).
  std::istringstream lines(screen);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("  [", 0) == 0) CHECK(line.find_last_not_of(' ') < 80);
  CHECK(tmux.wait_for("two", "198.51.100.20:8080/tcp").find("acme/eng/coder-1") != std::string::npos);

  tmux.keys("one", "t");  // allow the team
  std::string answered_one = tmux.wait_for("one", "answered by");
  std::string answered_two = tmux.wait_for("two", "answered by");
  INFO(answered_one);
  INFO(answered_two);
  CHECK(answered_two.find("allow team") != std::string::npos);
  CHECK(answered_two.find("waiting for requests") != std::string::npos);
  expect_ok(connect_from(world, "acme/eng/coder-2", "198.51.100.20", 8080));

  // A deny from the other watcher: repeats stay silent.
  expect_refused(connect_from(world, "acme/eng/coder-1", "198.51.100.20", 9999));
  CHECK(tmux.wait_for("two", ":9999/tcp").find(":9999/tcp") != std::string::npos);
  tmux.keys("two", "d");
  // The answer, not the prompt's "[d] deny" legend, which is on screen first.
  CHECK(tmux.wait_for("one", "deny (repeats silent").find("deny (repeats silent") != std::string::npos);
  expect_refused(connect_from(world, "acme/eng/coder-1", "198.51.100.20", 9999));
  usleep(300'000);  // past a drain: the repeat must not have become a new request
  auto pending = agentctl_json(world, {"approvals", "list"});
  REQUIRE(pending.is_array());
  CHECK(pending.empty());
  tmux.keys("one", "q");

  // A watcher of one team sees only that team's requests.
  tmux.start("ops",
             std::string(agentctl_bin()) + " --socket " + world.socket().string() + " watch --agent 'acme/ops/*'");
  CHECK(tmux.wait_for("ops", "waiting for requests").find("waiting for requests") != std::string::npos);
  expect_refused(connect_from(world, "acme/eng/coder-1", "198.51.100.20", 9998));
  CHECK(tmux.wait_for("two", ":9998/tcp").find(":9998/tcp") != std::string::npos);
  expect_refused(connect_from(world, "acme/ops/runner", "198.51.100.20", 9997));
  std::string ops = tmux.wait_for("ops", ":9997/tcp");
  INFO(ops);
  CHECK(ops.find("acme/ops/runner") != std::string::npos);
  CHECK(ops.find(":9998") == std::string::npos);

  // agentd restarts under the watchers (a package upgrade): they say so,
  // reconnect, and show what is pending again.
  world.kill_agentd(SIGTERM);
  CHECK(tmux.wait_for("two", "agentd went away").find("agentd went away") != std::string::npos);
  REQUIRE(world.start_agentd());
  std::string back = tmux.wait_for("two", "reconnected to agentd");
  INFO(back);
  CHECK(back.find("reconnected to agentd") != std::string::npos);
  CHECK(back.find("2 pending") != std::string::npos);  // :9998 and :9997, kept in the store
  tmux.keys("two", "q");
  tmux.keys("ops", "q");
}

TEST_CASE("at the prompt a sandbox's process name is shown escaped and cannot forge a line", "[kernel-neutral]") {
  World world;
  world.write_policy("acme.yaml", kAcmePolicy);
  REQUIRE(world.start_agentd());
  Tmux tmux(world);
  tmux.start("one", std::string(agentctl_bin()) + " --socket " + world.socket().string() + " watch");
  CHECK(tmux.wait_for("one", "waiting for requests").find("waiting for requests") != std::string::npos);
  // Erase line, carriage return, right-to-left override, newline, then a
  // line of its own that claims another destination.
  const std::string forged = "1b5b324b0de280ae0a" + std::string("2064657374") /* " dest" */;
  expect_refused(
      world.netprobe_in_sandbox("acme/eng/coder-1", {"--comm-hex", forged, "connect", "tcp", "198.51.100.20", "8080"}));
  std::string screen = tmux.wait_for("one", "198.51.100.20:8080/tcp");
  INFO(screen);
  CHECK(screen.find("\\x1b[2K\\r\\u202e\\n dest") != std::string::npos);  // the bytes, as text
  size_t destinations = 0;
  std::istringstream lines(screen);
  for (std::string line; std::getline(lines, line);) {
    destinations += line.find("198.51.100.20:8080/tcp") != std::string::npos;
    CHECK(line.rfind(" dest", 0) != 0);  // no line of the process's own making
  }
  CHECK(destinations == 1);
  tmux.keys("one", "q");
}
