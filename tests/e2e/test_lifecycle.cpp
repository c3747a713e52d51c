// The daemon's life: denial records, status, kill -9 and restart, bad
// policy, the control socket's gate, adopted cgroups.
#include <signal.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "approvals_helpers.hpp"
#include "expectations.hpp"
#include "policies.hpp"
#include "world.hpp"

using namespace agentd::e2e;
using nlohmann::json;

TEST_CASE("every denial is a JSON record, and status counts it") {
  World world;
  world.write_policy("acme.yaml", kAcmePolicy);
  REQUIRE(world.start_agentd());
  expect_refused(world.netprobe_in_sandbox("acme/eng/coder-1", {"connect", "tcp", "198.51.100.66", "80"}));
  expect_ok(world.netprobe_in_sandbox("acme/eng/coder-1", {"connect", "tcp", "198.51.100.10", "80"}));

  // The daemon drains the ring on a short timer: wait for the record.
  std::vector<json> denials;
  for (int i = 0; i < 100 && denials.empty(); ++i) {
    denials = world.denials();
    if (denials.empty()) usleep(50'000);
  }
  INFO(world.agentd_log());
  REQUIRE(denials.size() == 1);
  const json& d = denials[0];
  INFO(d.dump());
  CHECK(d["sandbox"] == "acme/eng/coder-1");
  CHECK(d["dest"] == "198.51.100.66");
  CHECK(d["port"] == 80);
  CHECK(d["protocol"] == "tcp");
  CHECK(d["hook"] == "connect4");
  CHECK(d["reason"] == "deny_rule");
  CHECK(d["comm"] == "netprobe");
  CHECK(d["rule"].get<std::string>().find("acme.yaml:14:9 rules[0].deny[0]") != std::string::npos);

  json status = daemon_status(world);
  json sandbox = sandbox_in(status, "acme/eng/coder-1");
  INFO(status.dump(2));
  REQUIRE(sandbox.is_object());
  CHECK(sandbox["denied"] == 1);
  CHECK(sandbox["allowed"] == 1);
  CHECK(status["events"]["dropped"] == 0);
  CHECK(status["policy"]["tenants"][0]["tenant"] == "acme");
  CHECK(status["kernel"]["features"]["cgroup_sock_addr"] == true);
}

TEST_CASE("kill -9 of agentd changes nothing, and a restart adopts without a second attachment", "[each-kernel]") {
  World world;
  world.write_policy("acme.yaml", kAcmePolicy);
  REQUIRE(world.start_agentd());
  const std::string agent = "acme/eng/coder-1";
  expect_ok(world.netprobe_in_sandbox(agent, {"connect", "tcp", "198.51.100.10", "80"}));
  const auto attached = world.attachments(world.cgroup_root());
  INFO("attachments before: " << attached.size());
  REQUIRE(attached.size() >= 5);
  for (const auto& [type, count] : attached) {
    INFO(type);
    CHECK(count == 1);
  }

  world.kill_agentd(SIGKILL);
  const auto sandbox = world.cgroup_root() / "acme" / "eng" / "coder-1";
  // A process that enters the sandbox while no agentd runs is still confined.
  expect_refused(world.netprobe_in_cgroup(sandbox, {"connect", "tcp", "198.51.100.66", "80"}));
  expect_refused(world.netprobe_in_cgroup(sandbox, {"sendto", "udp", "198.51.100.10", "6000"}));
  expect_ok(world.netprobe_in_cgroup(sandbox, {"connect", "tcp", "198.51.100.10", "80"}));
  // A cgroup under the root that is no sandbox is denied everything.
  std::filesystem::create_directories(world.cgroup_root() / "stray");
  expect_refused(world.netprobe_in_cgroup(world.cgroup_root() / "stray", {"connect", "tcp", "198.51.100.10", "80"}));

  INFO(world.agentd_log());
  REQUIRE(world.start_agentd());
  CHECK(world.attachments(world.cgroup_root()) == attached);
  CHECK(world.agentd_log().find("sandbox acme/eng/coder-1 (slot 1)") != std::string::npos);
  expect_ok(world.netprobe_in_sandbox(agent, {"connect", "tcp", "198.51.100.10", "80"}));
  expect_refused(world.netprobe_in_sandbox(agent, {"connect", "tcp", "198.51.100.66", "80"}));
  json status = daemon_status(world);
  for (const auto& a : status["kernel"]["enforcement"]["attachments"]) CHECK(a["adopted"] == true);
  CHECK(sandbox_in(status, agent)["slot"] == 1);
  // The restarted agentd read back the class the first one wrote and found
  // nothing to change: no second copy of it was written.
  INFO(status["policy"]["last_reload"].dump());
  CHECK(status["policy"]["last_reload"]["classes_written"] == 0);
  CHECK(status["policy"]["last_reload"]["classes_updated"] == 1);
  CHECK(status["policy"]["last_reload"]["entries_changed"] == 0);
  CHECK(world.stray_packets() == 0);
}

TEST_CASE("invalid policy is refused with file:line:column, by agentd and by validate", "[kernel-neutral]") {
  World world;
  world.write_policy("acme.yaml", R"(apiVersion: agentd/v1
tenant: acme
rules:
  - agents: "acme/*/*"
    allow:
      - cidr: 198.51.100.1/24
        ports: [80, 70000]
        protocl: tcp
)");
  const auto file = (world.dir() / "policy" / "acme.yaml").string();
  REQUIRE_FALSE(world.start_agentd());
  const std::string log = world.agentd_log();
  INFO(log);
  CHECK(world.agentd_exit_code() == 1);
  CHECK(log.find(file + ":6:15: \"198.51.100.1/24\" has host bits set; did you mean 198.51.100.0/24?") !=
        std::string::npos);
  CHECK(log.find(file + ":7:21: \"70000\" is not a port") != std::string::npos);
  CHECK(log.find(file + ":8:9: rules[0].allow[0]: unknown key \"protocl\"") != std::string::npos);
  // Nothing was attached.
  CHECK(world.attachments(world.cgroup_root()).empty());

  auto validate = world.in_host({agentctl_bin(), "policy", "validate", file});
  INFO(validate.describe());
  CHECK(validate.exit_code == 1);
  CHECK(validate.err.find(file + ":6:15:") != std::string::npos);

  world.write_policy("acme.yaml", kAcmePolicy);
  auto valid = world.in_host({agentctl_bin(), "policy", "validate", file});
  INFO(valid.describe());
  CHECK(valid.exit_code == 0);
  // The inference endpoint cannot be denied: validate says so.
  CHECK(valid.err.find("cannot deny the tenant's inference endpoint") != std::string::npos);
}

TEST_CASE("policy explain names the deciding rule, with or without the daemon", "[kernel-neutral]") {
  World world;
  world.write_policy("acme.yaml", kAcmePolicy);
  REQUIRE(world.start_agentd());
  const std::string policy_dir = (world.dir() / "policy").string();
  for (bool offline : {false, true}) {
    std::vector<std::string> base = {"policy", "explain", "--agent", "acme/eng/coder-1", "-o", "json"};
    if (offline) base.insert(base.end(), {"--policy-dir", policy_dir});
    auto with_dest = [&](const std::string& dest) {
      auto args = base;
      args.insert(args.end(), {"--dest", dest});
      auto result = world.agentctl(args);
      INFO(result.describe());
      REQUIRE(result.exit_code == 0);
      return json::parse(result.out);
    };
    INFO((offline ? "offline" : "daemon"));
    auto denied = with_dest("198.51.100.66:80");
    CHECK(denied["allowed"] == false);
    CHECK(denied["explanation"].get<std::string>().find("denied by") != std::string::npos);
    CHECK(denied["explanation"].get<std::string>().find("rules[0].deny[0]") != std::string::npos);
    auto allowed = with_dest("[2001:db8:1::10]:9000/udp");
    CHECK(allowed["allowed"] == true);
    CHECK(allowed["explanation"].get<std::string>().find("rules[0].allow[1]") != std::string::npos);
    // A CIDR rule's address: whatever name the connection carries, it is not checked.
    auto args = base;
    args.insert(args.end(), {"--dest", "198.51.100.10:80", "--sni", "evil.example.test"});
    auto by_cidr = world.agentctl(args);
    INFO(by_cidr.describe());
    CHECK(by_cidr.out.find("the name it carries is not checked") != std::string::npos);
    args = base;
    args.insert(args.end(), {"--dest", "198.51.100.10:80", "--sni", "not_a_name!"});
    CHECK(world.agentctl(args).exit_code != 0);  // named in the error, never half-explained
    auto nothing = with_dest("192.0.2.1:80");
    CHECK(nothing["allowed"] == false);
    CHECK(nothing["explanation"].get<std::string>().find("default deny") != std::string::npos);
  }
}

TEST_CASE("a process inside a sandbox cannot use the control socket, even as root") {
  World world;
  world.write_policy("acme.yaml", kAcmePolicy);
  REQUIRE(world.start_agentd());
  // Under agentctl run the socket's directory is hidden (an empty tmpfs).
  auto inside = world.agentctl(
      {"run", "--agent", "acme/eng/coder-1", "--", agentctl_bin(), "--socket", world.socket().string(), "status"});
  INFO(inside.describe());
  CHECK(inside.exit_code == 1);
  CHECK(inside.err.find("No such file or directory") != std::string::npos);
  // A process put into the sandbox's cgroup by other means sees the
  // socket, and agentd's gate refuses it: the second wall.
  const auto cgroup = world.cgroup_root() / "acme" / "eng" / "coder-1";
  auto by_hand = world.in_host({"sh", "-c",
                                "echo $$ > '" + (cgroup / "cgroup.procs").string() + "' && exec '" + agentctl_bin() +
                                    "' --socket '" + world.socket().string() + "' status"});
  INFO(by_hand.describe());
  CHECK(by_hand.exit_code == 1);
  CHECK(by_hand.err.find("requests from inside a sandbox are refused") != std::string::npos);
}

TEST_CASE("an existing cgroup outside the root can be adopted as a sandbox") {
  World world;
  world.write_policy("acme.yaml", kAcmePolicy);
  REQUIRE(world.start_agentd());
  const auto cgroup = world.make_foreign_cgroup("unit");
  // Before adoption nothing confines it.
  expect_ok(world.netprobe_in_cgroup(cgroup, {"connect", "tcp", "198.51.100.66", "80"}));
  auto adopt = world.agentctl({"sandbox", "adopt", "--agent", "acme/eng/coder-9", "--cgroup", cgroup.string()});
  INFO(adopt.describe());
  REQUIRE(adopt.exit_code == 0);
  expect_refused(world.netprobe_in_cgroup(cgroup, {"connect", "tcp", "198.51.100.66", "80"}));
  expect_ok(world.netprobe_in_cgroup(cgroup, {"connect", "tcp", "198.51.100.10", "80"}));
  // agentd's gate knows it as a sandbox, outside the root as it is.
  auto by_hand = world.in_host({"sh", "-c",
                                "echo $$ > '" + (cgroup / "cgroup.procs").string() + "' && exec '" + agentctl_bin() +
                                    "' --socket '" + world.socket().string() + "' status"});
  INFO(by_hand.describe());
  CHECK(by_hand.exit_code == 1);
  CHECK(by_hand.err.find("requests from inside a sandbox are refused") != std::string::npos);
  // agentctl run uses the adopted cgroup for that agent.
  auto where = world.agentctl({"run", "--agent", "acme/eng/coder-9", "--", "cat", "/proc/self/cgroup"});
  CHECK(where.out.find(cgroup.filename().string()) != std::string::npos);
  // And it survives a restart.
  world.kill_agentd(SIGKILL);
  REQUIRE(world.start_agentd());
  auto list = world.agentctl({"sandbox", "list", "-o", "json"});
  INFO(list.describe());
  auto sandboxes = json::parse(list.out);
  bool found = false;
  for (const auto& s : sandboxes) found |= s["agent"] == "acme/eng/coder-9" && s["adopted"] == true;
  CHECK(found);
  expect_refused(world.netprobe_in_cgroup(cgroup, {"connect", "tcp", "198.51.100.66", "80"}));
}

TEST_CASE("a second agentd on the same socket refuses to start and changes nothing", "[kernel-neutral]") {
  World world;
  world.write_policy("acme.yaml", kAcmePolicy);
  REQUIRE(world.start_agentd());
  const json before = daemon_status(world);
  auto second = world.in_host({agentd_bin(), "--policy-dir", (world.dir() / "policy").string(), "--state-dir",
                               (world.dir() / "state2").string(), "--socket", world.socket().string(), "--cgroup-root",
                               world.cgroup_root().string(), "--bpffs-dir", (world.dir() / "bpffs" / "agentd").string(),
                               "--dns-port", "1054", "--dns-upstream", "198.51.100.53"});
  INFO(second.describe());
  CHECK(second.exit_code == 1);
  CHECK(second.err.find("another agentd is listening on " + world.socket().string()) != std::string::npos);
  // The first one still answers, with the same programs attached.
  const json after = daemon_status(world);
  CHECK(after["daemon"]["pid"] == before["daemon"]["pid"]);
  CHECK(after["kernel"]["enforcement"]["attachments"] == before["kernel"]["enforcement"]["attachments"]);
  expect_ok(world.netprobe_in_sandbox("acme/eng/coder-1", {"connect", "tcp", "198.51.100.10", "80"}));
}

// Adopted cgroups are kept in the store (schema 2); an older agentd's
// adopted.json is moved in once, on the next start.
TEST_CASE("an older agentd's adopted.json is moved into the store, and the cgroup it names is enforced again") {
  World world;
  world.write_policy("acme.yaml", kAcmePolicy);
  const auto cgroup = world.make_foreign_cgroup("unit");
  std::filesystem::create_directories(world.state_dir());
  std::ofstream(world.state_dir() / "adopted.json")
      << json::array({{{"agent", "acme/eng/coder-9"}, {"cgroup", cgroup.string()}}}).dump();
  REQUIRE(world.start_agentd());
  INFO(world.agentd_log());
  CHECK_FALSE(std::filesystem::exists(world.state_dir() / "adopted.json"));
  auto list = json::parse(world.agentctl({"sandbox", "list", "-o", "json"}).out);
  bool found = false;
  for (const auto& s : list) found |= s["agent"] == "acme/eng/coder-9" && s["adopted"] == true;
  CHECK(found);
  expect_refused(world.netprobe_in_cgroup(cgroup, {"connect", "tcp", "198.51.100.66", "80"}));
  expect_ok(world.netprobe_in_cgroup(cgroup, {"connect", "tcp", "198.51.100.10", "80"}));
  // From the store from now on: a restart keeps it.
  world.kill_agentd(SIGKILL);
  REQUIRE(world.start_agentd());
  expect_refused(world.netprobe_in_cgroup(cgroup, {"connect", "tcp", "198.51.100.66", "80"}));
}
