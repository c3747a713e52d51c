// Containers are sandboxes too: a sandbox's process in a network namespace
// of its own (as a container's is) gets its DNS answered there, and
// cgroups nested under a sandbox's (a container runtime's, a systemd
// scope's) stay that sandbox.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>

#include "approvals_helpers.hpp"
#include "expectations.hpp"
#include "world.hpp"

using namespace agentd::e2e;
using nlohmann::json;

namespace {

constexpr const char* kPolicy = R"(apiVersion: agentd/v1
tenant: acme
rules:
  - agents: "acme/ops/*"
    allow:
      - host: api.example.test
        ports: [443]
      - cidr: 198.51.100.20/32
        ports: [80]
)";

// A network namespace as a container runtime makes one: loopback up,
// nothing else. Deleted at the end.
struct ContainerNetns {
  std::string name = "agentd-e2e-c" + std::to_string(::getpid());
  explicit ContainerNetns(const World& world) : world_(world) {
    REQUIRE(world.in_host({"ip", "netns", "add", name}).exit_code == 0);
    REQUIRE(world.in_host({"ip", "-n", name, "link", "set", "lo", "up"}).exit_code == 0);
  }
  ~ContainerNetns() { (void)world_.in_host({"ip", "netns", "del", name}); }
  std::string path() const { return "/run/netns/" + name; }

 private:
  const World& world_;
};

// dig from the sandbox's cgroup in that namespace; `tries` of 5 s each
// (the first query may meet no proxy yet: one try).
ProcessResult dig_from(const World& world, const std::filesystem::path& cgroup, const ContainerNetns& netns,
                       const std::string& name, int tries = 2) {
  return world.in_cgroup(cgroup, {"nsenter", "--net=" + netns.path(), "dig", "@198.51.100.53",
                                  "+tries=" + std::to_string(tries), "+time=5", "+short", name});
}

// agentd's sweep runs every 5 s: a few of them, under a loaded CI machine.
bool wait_for_log(const World& world, const std::string& text) {
  for (int i = 0; i < 600; ++i) {
    if (world.agentd_log().find(text) != std::string::npos) return true;
    usleep(100'000);
  }
  return false;
}

}  // namespace

TEST_CASE("a sandbox's process in a network namespace of its own gets its DNS answered there", "[each-kernel]") {
  World world;
  world.write_policy("acme.yaml", kPolicy);
  REQUIRE(world.start_agentd({"--retire-grace", "1s"}));
  const std::string agent = "acme/ops/box";
  const auto cgroup = world.make_foreign_cgroup("box");
  auto adopted = world.agentctl({"sandbox", "adopt", "--agent", agent, "--cgroup", cgroup.string()});
  INFO(adopted.describe());
  REQUIRE(adopted.exit_code == 0);
  ContainerNetns netns(world);
  // The container's first process, there until told to stop.
  const auto stop = world.dir() / "stop-init";
  pid_t init = world.spawn_in_host(
      {"sh", "-c",
       "echo $$ > '" + (cgroup / "cgroup.procs").string() + "' && exec nsenter --net=" + netns.path() +
           " sh -c 'while [ ! -e " + stop.string() + " ]; do sleep 0.1; done'"},
      "init");

  // Its first query meets a proxy there only if agentd's sweep (every 5 s,
  // for adopted sandboxes) found the namespace first; otherwise it is
  // refused, never silently: a record says why, and agentd serves it.
  auto first = dig_from(world, cgroup, netns, "api.example.test", 1);
  INFO(first.describe());
  if (first.out.find("198.51.100.10") == std::string::npos) {
    auto record = world.wait_for_denial(
        [&](const json& d) { return d.value("sandbox", "") == agent && d.value("reason", "") == "dns_netns"; });
    CHECK(record.is_object());
  }
  INFO(world.agentd_log());
  REQUIRE(wait_for_log(world, "sandbox " + agent + ": serving its DNS in network namespace"));

  // From then on: answered there, by the sandbox's rules.
  auto allowed = dig_from(world, cgroup, netns, "api.example.test");
  INFO(allowed.describe());
  CHECK(allowed.exit_code == 0);
  CHECK(allowed.out.find("198.51.100.10") != std::string::npos);
  auto refused = dig_from(world, cgroup, netns, "denied.example.test");
  INFO(refused.describe());
  CHECK(refused.out.find("198.51.100.66") == std::string::npos);
  CHECK(world
            .wait_for_denial([&](const json& d) {
              return d.value("sandbox", "") == agent && d.value("hook", "") == "dns" &&
                     d.value("name", "") == "denied.example.test";
            })
            .is_object());

  // No process of the sandbox is in the namespace any more: it is left.
  std::ofstream(stop) << "stop\n";
  CHECK(world.wait_spawned(init, "init").exit_code == 0);
  CHECK(wait_for_log(world, "no longer serving DNS in network namespace"));
  CHECK(daemon_status(world)["dns"]["queries"]["failed"] == 0);
  CHECK(world.stray_packets() == 0);
}

TEST_CASE("a cgroup nested under a sandbox's, as a container runtime makes, is still that sandbox", "[each-kernel]") {
  World world;
  world.write_policy("acme.yaml", kPolicy);
  REQUIRE(world.start_agentd());
  const std::string agent = "acme/ops/box";
  const auto cgroup = world.make_foreign_cgroup("pod");
  REQUIRE(world.agentctl({"sandbox", "adopt", "--agent", agent, "--cgroup", cgroup.string()}).exit_code == 0);
  const auto inner = cgroup / "container-1" / "payload";
  std::filesystem::create_directories(inner);
  expect_ok(world.netprobe_in_cgroup(inner, {"connect", "tcp", "198.51.100.20", "80"}));
  expect_refused(world.netprobe_in_cgroup(inner, {"connect", "tcp", "198.51.100.66", "80"}));
  auto record = world.wait_for_denial([](const json& d) { return d.value("dest", "") == "198.51.100.66"; });
  INFO(record.dump());
  CHECK(record.value("sandbox", "") == agent);
  CHECK(record.value("reason", "") == "no_rule");
  CHECK(sandbox_in(daemon_status(world), agent)["allowed"] == 1);
}
