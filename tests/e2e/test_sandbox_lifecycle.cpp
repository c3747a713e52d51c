// A sandbox's end: retired when its last process exits, its slot reused by
// the next sandbox, which inherits nothing: not its learned addresses, not
// its counters, and not a socket that outlived it in another process.
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include <catch2/catch.hpp>

#include "agentd/api/client.hpp"
#include "approvals_helpers.hpp"
#include "expectations.hpp"
#include "world.hpp"

using namespace agentd::e2e;
using nlohmann::json;

namespace {

const std::string kHolder = E2E_LIFECYCLE_DIR "/fd_holder.py";

// coder-1 may reach wild.example.test (198.51.100.10) by name; every eng
// agent 198.51.100.20 by address.
constexpr const char* kPolicy = R"(apiVersion: agentd/v1
tenant: acme
rules:
  - agents: "acme/eng/coder-1"
    allow:
      - host: wild.example.test
        ports: [80]
  - agents: "acme/eng/*"
    allow:
      - cidr: 198.51.100.20/32
        ports: [80]
)";

bool wait_for_text(const std::filesystem::path& file, const std::string& text) {
  for (int i = 0; i < 200; ++i) {
    if (read_file(file).find(text) != std::string::npos) return true;
    usleep(50'000);
  }
  return false;
}

json sandbox_list(const World& world) {
  auto r = world.agentctl({"sandbox", "list", "-o", "json"});
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  return json::parse(r.out);
}

json listed(const json& list, const std::string& agent) {
  for (const auto& s : list)
    if (s["agent"] == agent) return s;
  return nullptr;
}

// The maintenance sweep runs every 5 s: a retired sandbox leaves the list
// within a few sweeps.
bool wait_until_retired(const World& world, const std::string& agent) {
  for (int i = 0; i < 300; ++i) {
    if (listed(sandbox_list(world), agent).is_null()) return true;
    usleep(100'000);
  }
  return false;
}

void touch(const std::filesystem::path& file) { std::ofstream(file) << "go\n"; }

}  // namespace

TEST_CASE("a sandbox is retired when its last process exits, and the next one in its slot inherits nothing") {
  World world;
  world.write_policy("acme.yaml", kPolicy);
  // One slot: the next sandbox must take the retired one's (with the
  // default 16383, a slot passes to another agent only once all were used).
  REQUIRE(world.start_agentd({"--retire-grace", "1s", "--max-sandboxes", "1"}));
  const std::string first = "acme/eng/coder-1", next = "acme/eng/coder-2";
  // In /tmp: the world's directory is not the sandbox user's to enter.
  const std::string unix_name = "/tmp/agentd-e2e-fd-" + std::to_string(::getpid()) + ".sock";
  const auto release = world.dir() / "release", go = world.dir() / "go";

  // A process outside any sandbox that will hold a socket made in the first.
  pid_t holder = world.spawn_in_host(
      {"python3", kHolder, "hold", unix_name, release.string(), go.string(), "198.51.100.20", "80"}, "holder");
  REQUIRE(wait_for_text(world.dir() / "holder.out", "listening"));
  pid_t giver = world.spawn_in_sandbox(first, {kHolder, "give", unix_name}, "giver", "/usr/bin/python3");
  const bool held_it = wait_for_text(world.dir() / "holder.out", "held");
  INFO("giver: " << read_file(world.dir() / "giver.out") << read_file(world.dir() / "giver.err"));
  INFO("holder: " << read_file(world.dir() / "holder.err"));
  REQUIRE(held_it);

  // While the giver keeps it in use: a name learned, a denial, counters.
  expect_ok(world.netprobe_in_sandbox(first, {"resolve", "wild.example.test", "80"}));
  expect_refused(world.netprobe_in_sandbox(first, {"connect", "tcp", "198.51.100.66", "80"}));
  const json before = listed(sandbox_list(world), first);
  INFO(before.dump());
  REQUIRE(before.is_object());
  CHECK(before["state"] == "running");
  CHECK(before["denied"].get<uint64_t>() >= 1);
  const auto slot = before["slot"].get<uint32_t>();
  const auto generation = before["generation"].get<uint32_t>();
  const std::string cgroup = before["cgroup"].get<std::string>();

  // Its last process exits: retired, its cgroup removed, the audit trail keeps it.
  touch(release);
  CHECK(world.wait_spawned(giver, "giver").exit_code == 0);
  INFO(world.agentd_log());
  REQUIRE(wait_until_retired(world, first));
  CHECK_FALSE(std::filesystem::exists(cgroup));
  auto audit = world.agentctl({"audit", "--decision", "retired", "-o", "json"});
  INFO(audit.describe());
  CHECK(audit.exit_code == 0);
  CHECK(audit.out.find(first) != std::string::npos);
  CHECK(audit.out.find("its last process exited") != std::string::npos);

  // The next sandbox takes the slot, one generation on, and starts clean:
  // the address the first learned is not open to it, its counters are its own.
  expect_refused(world.netprobe_in_sandbox(next, {"connect", "tcp", "198.51.100.10", "80"}));
  expect_ok(world.netprobe_in_sandbox(next, {"connect", "tcp", "198.51.100.20", "80"}));
  const json after = listed(sandbox_list(world), next);
  INFO(after.dump());
  REQUIRE(after.is_object());
  CHECK(after["slot"] == slot);
  CHECK(after["generation"] == generation + 1);
  CHECK(after["allowed"] == 1);
  CHECK(after["denied"] == 1);
  CHECK(world.agentd_log().find("slot 1 passes to " + next + " from " + first) != std::string::npos);

  // The socket the first sandbox made, held outside it: not the next
  // sandbox's, though its rules allow the address.
  touch(go);
  auto held = world.wait_spawned(holder, "holder");
  INFO(held.describe());
  CHECK(held.exit_code == 1);
  CHECK(held.out.find("refused") != std::string::npos);

  // agentd still serves; nothing left the test world.
  CHECK(daemon_status(world)["sandboxes"].size() == 1);
  CHECK(world.stray_packets() == 0);
}

TEST_CASE("a kept sandbox outlives its last process, and sandbox remove retires one on demand") {
  World world;
  world.write_policy("acme.yaml", std::string(kPolicy) + R"(  - agents: "acme/ops/*"
    allow:
      - cidr: 198.51.100.20/32
        ports: [80]
    sandbox:
      keep: true
)");
  REQUIRE(world.start_agentd({"--retire-grace", "1s"}));
  expect_ok(world.netprobe_in_sandbox("acme/ops/runner", {"connect", "tcp", "198.51.100.20", "80"}));
  expect_ok(world.netprobe_in_sandbox("acme/eng/coder-1", {"connect", "tcp", "198.51.100.20", "80"}));
  REQUIRE(wait_until_retired(world, "acme/eng/coder-1"));
  // Another agent gets a slot never used, not the one just freed.
  expect_ok(world.netprobe_in_sandbox("acme/eng/coder-2", {"connect", "tcp", "198.51.100.20", "80"}));
  CHECK(listed(sandbox_list(world), "acme/eng/coder-2")["slot"] == 3);
  const json kept = listed(sandbox_list(world), "acme/ops/runner");
  INFO(kept.dump());
  REQUIRE(kept.is_object());  // several sweeps later, still there
  CHECK(kept["state"] == "empty");
  CHECK(kept["keep"] == true);
  CHECK(kept["allowed"] == 1);

  // Removing one that does not exist, or one still running, is refused.
  auto missing = world.agentctl({"sandbox", "remove", "--agent", "acme/eng/nobody"});
  CHECK(missing.exit_code != 0);
  CHECK(missing.err.find("has no sandbox") != std::string::npos);
  auto removed = world.agentctl({"sandbox", "remove", "--agent", "acme/ops/runner"});
  INFO(removed.describe());
  CHECK(removed.exit_code == 0);
  CHECK(listed(sandbox_list(world), "acme/ops/runner").is_null());
  // Made anew on the next run, in its own slot again, counting from zero.
  expect_ok(world.netprobe_in_sandbox("acme/ops/runner", {"connect", "tcp", "198.51.100.20", "80"}));
  const json again = listed(sandbox_list(world), "acme/ops/runner");
  INFO(again.dump());
  CHECK(again["allowed"] == 1);
  CHECK(again["slot"] == 1);
  CHECK(again["generation"] == 2);
}

TEST_CASE("a sandbox for a tenant no policy names is refused as a likely typo, unless asked for", "[kernel-neutral]") {
  World world;
  world.write_policy("acme.yaml", kPolicy);
  REQUIRE(world.start_agentd());
  auto typo = world.netprobe_in_sandbox("acem/eng/coder-1", {"connect", "tcp", "198.51.100.20", "80"});
  INFO(typo.describe());
  CHECK(typo.exit_code != 0);
  CHECK(typo.err.find("tenant acem has no policy") != std::string::npos);
  CHECK(typo.err.find("known tenants: acme") != std::string::npos);
  CHECK(listed(sandbox_list(world), "acem/eng/coder-1").is_null());
  const auto cgroup = world.make_foreign_cgroup("typo");
  auto adopt = world.agentctl({"sandbox", "adopt", "--agent", "acem/ops/box", "--cgroup", cgroup.string()});
  CHECK(adopt.exit_code != 0);
  CHECK(adopt.err.find("tenant acem has no policy") != std::string::npos);

  // A staged roll-out says so: the sandbox is made, and denies everything.
  auto staged = world.agentctl({"run", "--agent", "acem/eng/coder-1", "--unknown-tenant", "--", NETPROBE_BIN, "connect",
                                "tcp", "198.51.100.20", "80"});
  INFO(staged.describe());
  expect_refused(staged);
  CHECK(listed(sandbox_list(world), "acem/eng/coder-1").is_object());
}

TEST_CASE("with every slot taken, a new sandbox retires those due at once instead of failing") {
  World world;
  world.write_policy("acme.yaml", kPolicy);
  REQUIRE(world.start_agentd({"--retire-grace", "1s", "--max-sandboxes", "1"}));
  expect_ok(world.netprobe_in_sandbox("acme/eng/coder-1", {"connect", "tcp", "198.51.100.20", "80"}));
  usleep(1'500'000);  // past the grace: due, whether or not the 5 s sweep came by
  auto next = world.netprobe_in_sandbox("acme/eng/coder-2", {"connect", "tcp", "198.51.100.20", "80"});
  INFO(next.describe() << world.agentd_log());
  expect_ok(next);
  const json list = sandbox_list(world);
  CHECK(list.size() == 1);
  CHECK(listed(list, "acme/eng/coder-2")["slot"] == 1);
}

TEST_CASE("past what its open file limit holds, agentd refuses a new sandbox by name and keeps serving",
          "[kernel-neutral]") {
  // Each sandbox costs agentd descriptors (its DNS sockets): an agentd at
  // its limit could accept no control client and no DNS-over-TCP query.
  // At a limit of 4096 (many containers' and VMs') a quarter is kept for
  // those, and the rest holds 614 sandboxes at five each. (Lowered for
  // this test's process alone; agentd inherits it.)
  const rlimit limit{4096, 4096};
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &limit) == 0);
  World world;
  world.write_policy("acme.yaml", kPolicy);
  REQUIRE(world.start_agentd({"--retire-grace", "1h", "--max-sandboxes", "1000"}));
  auto ensure = [&](int i) {
    return agentd::api::call(world.socket(),
                             {{"method", "sandbox.ensure"}, {"agent", "acme/eng/coder-" + std::to_string(i)}});
  };
  for (int i = 1; i <= 614; ++i) {
    auto made = ensure(i);
    INFO(i << ": " << (made ? "" : made.error().describe()));
    REQUIRE(made);
  }
  auto refused = ensure(615);
  REQUIRE_FALSE(refused);
  INFO(refused.error().describe());
  CHECK(refused.error().describe().find("open file limit (4096) holds 614 sandboxes") != std::string::npos);
  CHECK(refused.error().describe().find("LimitNOFILE") != std::string::npos);
  // agentd still answers, its sandboxes still work, and a
  // removed sandbox makes room.
  CHECK(sandbox_list(world).size() == 614);
  expect_ok(world.netprobe_in_sandbox("acme/eng/coder-1", {"connect", "tcp", "198.51.100.20", "80"}));
  REQUIRE(world.agentctl({"sandbox", "remove", "--agent", "acme/eng/coder-2"}).exit_code == 0);
  expect_ok(world.netprobe_in_sandbox("acme/eng/coder-615", {"connect", "tcp", "198.51.100.20", "80"}));
}

TEST_CASE("sandboxes asked for at once, of a class none had, share the one class compiled for them") {
  World world;
  world.write_policy("acme.yaml", kPolicy);
  REQUIRE(world.start_agentd());
  // coder-2..coder-7 share a class no sandbox has yet: compiled once, off
  // agentd's loop, while all six wait for it.
  std::vector<std::pair<std::string, pid_t>> runs;
  for (int i = 2; i <= 7; ++i) {
    const std::string agent = "acme/eng/coder-" + std::to_string(i);
    runs.emplace_back(
        agent, world.spawn_in_sandbox(agent, {"connect", "tcp", "198.51.100.20", "80"}, "run" + std::to_string(i)));
  }
  for (auto& [agent, pid] : runs) {
    auto result = world.wait_spawned(pid, "run" + agent.substr(agent.size() - 1));
    INFO(agent << ": " << result.describe());
    expect_ok(result);
  }
  const json list = sandbox_list(world);
  REQUIRE(list.size() == 6);
  const auto class_id = list[0]["class_id"];
  for (const auto& s : list) CHECK(s["class_id"] == class_id);
  CHECK(class_id != 0);
  // What they may not reach stays shut.
  expect_refused(world.netprobe_in_sandbox("acme/eng/coder-3", {"connect", "tcp", "198.51.100.66", "80"}));
}
