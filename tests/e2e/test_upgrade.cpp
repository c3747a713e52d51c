// Upgrades across a change of the pinned maps' layout (issue 17, item 4):
// the new daemon pins fresh maps beside the previous ones, carries over
// what did not change, fills the rest, and only then swaps its programs
// into the pinned links. Traffic runs all along: nothing allowed is denied,
// nothing denied gets through. A pinned map that does not match this build
// is refused by name, and enforcement stays as it was.
#include <signal.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>

#include "approvals_helpers.hpp"
#include "expectations.hpp"
#include "world.hpp"

using namespace agentd::e2e;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* kPolicy = R"(apiVersion: agentd/v1
tenant: acme
rules:
  - agents: "acme/eng/*"
    allow:
      - cidr: 198.51.100.10/32
        ports: [80]
      - host: api.example.test
        ports: [443]
    deny:
      - cidr: 198.51.100.66/32
)";

const std::string kAgent = "acme/eng/coder-1";

// Moves this layout's pins to where an agentd from before versioned pins
// kept them (directly in maps/): to the next start they are another
// layout's, as after an upgrade. The rules trie's pin goes, as if its
// layout had changed: the new daemon must fill its own from the policy
// before its programs take over. The maps themselves, and the programs
// using them, are untouched.
void make_pins_look_older(const World& world) {
  const fs::path maps = world.bpffs_dir() / "maps";
  for (const auto& pin : fs::directory_iterator(world.pinned_maps_dir()))
    fs::rename(pin.path(), maps / pin.path().filename());
  fs::remove(world.pinned_maps_dir());
  fs::remove(maps / "agentd_rules");
}

// Waits (bounded) until `count` netprobes run in the sandbox: the loops
// got their sandbox from this agentd before it stops (agentctl run asks
// for it first; under emulation that takes a while).
void wait_for_loops(const World& world, size_t count) {
  const auto procs = world.cgroup_root() / "acme" / "eng" / "coder-1" / "cgroup.procs";
  for (int i = 0; i < 1000; ++i) {
    std::ifstream in(procs);
    size_t loops = 0;
    for (std::string pid; std::getline(in, pid);) {
      std::ifstream comm("/proc/" + pid + "/comm");
      std::string name;
      if (std::getline(comm, name) && name == "netprobe") ++loops;
    }
    if (loops >= count) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  FAIL("the loops did not start in the sandbox");
}

std::set<std::string> names_in(const json& list) {
  std::set<std::string> names;
  for (const auto& name : list) names.insert(name.get<std::string>());
  return names;
}

}  // namespace

TEST_CASE("an upgrade across a map layout change under traffic: nothing allowed denied, nothing denied through",
          "[each-kernel]") {
  World world;
  world.write_policy("acme.yaml", kPolicy);
  REQUIRE(world.start_agentd());
  expect_ok(world.netprobe_in_sandbox(kAgent, {"connect", "tcp", "198.51.100.10", "80"}));
  // A name resolved before the upgrade, its address learned into the maps.
  expect_ok(world.netprobe_in_sandbox(kAgent, {"resolve", "api.example.test", "443"}));
  expect_ok(world.netprobe_in_sandbox(kAgent, {"connect", "tcp", "198.51.100.10", "443"}));

  const auto stop = world.dir() / "stop-loops";
  pid_t allowed = world.spawn_in_sandbox(kAgent, {"loop", "198.51.100.10", "80", stop.string()}, "allowed-loop");
  pid_t denied = world.spawn_in_sandbox(kAgent, {"loop", "198.51.100.66", "80", stop.string()}, "denied-loop");
  wait_for_loops(world, 2);

  world.kill_agentd(SIGTERM);
  make_pins_look_older(world);
  INFO(world.agentd_log());
  REQUIRE(world.start_agentd());

  std::ofstream(stop) << "stop";
  auto allowed_result = world.wait_spawned(allowed, "allowed-loop");
  auto denied_result = world.wait_spawned(denied, "denied-loop");
  expect_no_gap(allowed_result, denied_result);

  // The new daemon carried the unchanged maps over and left the per-socket
  // and streaming ones to fill by use; the previous pins are gone.
  const json status = daemon_status(world);
  const json pins = status["kernel"]["enforcement"]["pins"];
  INFO(pins.dump());
  CHECK(pins["maps"] == world.pinned_maps_dir().string());
  CHECK(pins["carried_over"]["from"] == (world.bpffs_dir() / "maps").string());
  const auto carried = names_in(pins["carried_over"]["maps"]);
  for (const char* map : {"agentd_cgroups", "agentd_state", "agentd_learned", "agentd_grants"}) {
    INFO(map);
    CHECK(carried.count(map) == 1);
  }
  const auto empty = names_in(pins["carried_over"]["started_empty"]);
  CHECK(empty.count("agentd_rules") == 1);
  CHECK(empty.count("agentd_events") == 1);
  CHECK(empty.count("agentd_socks") == 1);
  for (const auto& entry : fs::directory_iterator(world.bpffs_dir() / "maps")) {
    INFO(entry.path());
    CHECK(entry.path() == world.pinned_maps_dir());
  }
  CHECK(fs::exists(world.pinned_maps_dir() / "agentd_rules"));
  for (const auto& a : status["kernel"]["enforcement"]["attachments"]) CHECK(a["adopted"] == true);

  // The sandbox kept its slot and the address it learned, with no new query.
  CHECK(sandbox_in(status, kAgent)["slot"] == 1);
  expect_ok(world.netprobe_in_sandbox(kAgent, {"connect", "tcp", "198.51.100.10", "443"}));
  expect_refused(world.netprobe_in_sandbox(kAgent, {"connect", "tcp", "198.51.100.10", "8080"}));
  // The programs in the links are the new daemon's, on its maps: a reload
  // it writes there is in force.
  std::string narrower = kPolicy;
  narrower.replace(narrower.find("ports: [80]"), 11, "ports: [9000]");
  world.write_policy("acme.yaml", narrower);
  REQUIRE(world.agentctl({"policy", "apply"}).exit_code == 0);
  expect_refused(world.netprobe_in_sandbox(kAgent, {"connect", "tcp", "198.51.100.10", "80"}));
  CHECK(world.stray_packets() == 0);
}

TEST_CASE("a pinned map that does not match this build is refused by name, and enforcement stays as it was",
          "[each-kernel]") {
  World world;
  world.write_policy("acme.yaml", kPolicy);
  REQUIRE(world.start_agentd());
  expect_ok(world.netprobe_in_sandbox(kAgent, {"connect", "tcp", "198.51.100.10", "80"}));
  const auto stop = world.dir() / "stop-loop";
  pid_t allowed = world.spawn_in_sandbox(kAgent, {"loop", "198.51.100.10", "80", stop.string()}, "allowed-loop");
  wait_for_loops(world, 1);
  world.kill_agentd(SIGTERM);

  // A map of this layout's name with another value size: a layout change
  // made without a new AGENTD_ABI_VERSION.
  const fs::path grants = world.pinned_maps_dir() / "agentd_grants";
  fs::remove(grants);
  auto made = world.in_host({"bpftool", "map", "create", grants.string(), "type", "hash", "key", "8", "value", "8",
                             "entries", "16", "name", "agentd_grants"});
  INFO(made.describe());
  REQUIRE(made.exit_code == 0);
  CHECK_FALSE(world.start_agentd());
  const std::string log = world.agentd_log();
  INFO(log);
  CHECK(log.find("the pinned map " + grants.string() + " does not match this build") != std::string::npos);
  CHECK(log.find("key size 8 (this build:") != std::string::npos);
  CHECK(log.find("AGENTD_ABI_VERSION") != std::string::npos);

  // Enforcement stayed: the previous programs, with their own maps.
  const auto sandbox = world.cgroup_root() / "acme" / "eng" / "coder-1";
  expect_ok(world.netprobe_in_cgroup(sandbox, {"connect", "tcp", "198.51.100.10", "80"}));
  expect_refused(world.netprobe_in_cgroup(sandbox, {"connect", "tcp", "198.51.100.66", "80"}));
  std::ofstream(stop) << "stop";
  auto result = world.wait_spawned(allowed, "allowed-loop");
  INFO(result.describe());
  const json a = last_line(result);
  REQUIRE(a.is_object());
  CHECK(a["connected"].get<long>() > 0);
  CHECK(a["refused"] == 0);
  CHECK(a["other"] == 0);
  CHECK(world.stray_packets() == 0);
}
