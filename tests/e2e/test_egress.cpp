// Egress enforcement end to end: real kernel, real cgroups, the test world.
#include <catch2/catch.hpp>
#include <signal.h>

#include <chrono>
#include <thread>

#include "expectations.hpp"
#include "policies.hpp"
#include "world.hpp"

using namespace agentd::e2e;
using nlohmann::json;

namespace {

struct Probe {
  std::vector<std::string> args;
  bool allowed;
  const char* why;
};

void start_with_policies(World& world) {
  world.write_policy("acme.yaml", kAcmePolicy);
  world.write_policy("globex.yaml", kGlobexPolicy);
  INFO(world.agentd_log());
  REQUIRE(world.start_agentd());
}

void run_table(World& world, const std::string& agent, const std::vector<Probe>& probes) {
  for (const auto& probe : probes) {
    std::string args;
    for (const auto& a : probe.args) args += a + " ";
    INFO(agent << ": " << args << "(" << probe.why << ")");
    auto result = world.netprobe_in_sandbox(agent, probe.args);
    if (probe.allowed)
      expect_ok(result);
    else
      expect_refused(result);
  }
}

}  // namespace

TEST_CASE("allowed and denied TCP and UDP over IPv4 and IPv6", "[each-kernel]") {
  World world;
  start_with_policies(world);
  run_table(world, "acme/eng/coder-1",
            {
                {{"connect", "tcp", "198.51.100.10", "80"}, true, "allowed /24, port 80"},
                {{"connect", "tcp", "198.51.100.10", "443"}, false, "port not allowed"},
                {{"connect", "tcp", "198.51.100.66", "80"}, false, "deny /32 beats allow /24"},
                {{"connect", "tcp", "198.51.100.20", "8080"}, false, "port not allowed"},
                {{"connect", "udp", "198.51.100.10", "9000"}, true, "connected UDP, echoed"},
                {{"connect", "udp", "198.51.100.66", "9000"}, false, "connected UDP to a denied host"},
                {{"sendto", "udp", "198.51.100.10", "5353"}, true, "unconnected UDP, echoed"},
                {{"sendto", "udp", "198.51.100.66", "9000"}, false, "unconnected UDP to a denied host"},
                {{"sendto", "udp", "198.51.100.10", "6000"}, false, "unconnected UDP to a port not allowed"},
                {{"connect", "tcp", "2001:db8:1::10", "80"}, true, "IPv6 allowed"},
                {{"connect", "tcp", "2001:db8:1::66", "80"}, false, "IPv6 deny /128"},
                {{"connect", "udp", "2001:db8:1::10", "9000"}, true, "IPv6 connected UDP"},
                {{"sendto", "udp", "2001:db8:1::10", "9000"}, true, "IPv6 unconnected UDP"},
                {{"sendto", "udp", "2001:db8:1::66", "9000"}, false, "IPv6 unconnected UDP denied"},
                {{"connect", "tcp", "2001:db8:2::7", "443"}, false, "IPv6 nothing allows"},
                {{"connect", "tcp", "::ffff:198.51.100.66", "80"}, false, "IPv4-mapped judged as IPv4: denied"},
                {{"connect", "tcp", "::ffff:198.51.100.10", "80"}, true, "IPv4-mapped judged as IPv4: allowed"},
                {{"sendto", "udp", "::ffff:198.51.100.66", "9000"}, false, "IPv4-mapped sendto denied"},
                {{"fastopen", "198.51.100.66", "80"}, false, "TCP fast open to a denied host"},
                {{"connect", "tcp", "203.0.113.7", "443"}, true, "inference endpoint beats the deny /24"},
                {{"connect", "tcp", "203.0.113.7", "80"}, false, "the deny /24 on other ports"},
            });
  CHECK(world.stray_packets() == 0);
}

TEST_CASE("tenant isolation, glob selectors and the default deny") {
  World world;
  start_with_policies(world);
  run_table(world, "acme/eng/reviewer-1",
            {
                {{"connect", "tcp", "198.51.100.10", "80"}, false, "acme/*/coder-* does not match reviewer-1"},
                {{"connect", "tcp", "203.0.113.7", "443"}, true, "the tenant's inference endpoint"},
            });
  run_table(world, "globex/web/bot-1",
            {
                {{"connect", "tcp", "198.51.100.20", "80"}, true, "globex's own rule"},
                {{"connect", "tcp", "198.51.100.10", "80"}, false, "acme's rule is not globex's"},
                {{"connect", "tcp", "203.0.113.7", "443"}, false, "acme's inference is not globex's"},
            });
  // A tenant no policy names is refused as a likely typo, unless the
  // sandbox is asked for as such (a staged roll-out); then it exists, and
  // everything is denied.
  REQUIRE(world.agentctl({"run", "--agent", "initech/any/agent", "--", "/bin/true"}).exit_code != 0);
  REQUIRE(world.agentctl({"run", "--agent", "initech/any/agent", "--unknown-tenant", "--", "/bin/true"}).exit_code ==
          0);
  run_table(world, "initech/any/agent",
            {
                {{"connect", "tcp", "198.51.100.10", "80"}, false, "a tenant without policy: everything denied"},
                {{"sendto", "udp", "198.51.100.10", "9000"}, false, "a tenant without policy: UDP too"},
            });
  CHECK(world.stray_packets() == 0);
}

TEST_CASE("loopback is denied unless allowed", "[each-kernel]") {
  World world;
  start_with_policies(world);
  run_table(world, "acme/eng/coder-1",
            {
                {{"connect", "tcp", "127.0.0.1", "7070"}, false, "no rule allows loopback"},
                {{"connect", "tcp", "::1", "7070"}, false, "nor IPv6 loopback"},
                {{"sendto", "udp", "127.0.0.1", "7070"}, false, "nor UDP to loopback"},
            });
  run_table(world, "acme/ops/runner",
            {
                {{"connect", "tcp", "127.0.0.1", "7070"}, true, "acme/ops/* may reach 127.0.0.1:7070"},
                {{"connect", "tcp", "127.0.0.1", "7071"}, false, "but no other port"},
            });
}

TEST_CASE("processes outside any sandbox are untouched", "[each-kernel]") {
  World world;
  start_with_policies(world);
  expect_ok(world.netprobe_outside({"connect", "tcp", "198.51.100.66", "80"}));
  expect_ok(world.netprobe_outside({"sendto", "udp", "198.51.100.66", "9000"}));
  expect_ok(world.netprobe_outside({"socket", "packet", "raw"}));
  expect_ok(world.netprobe_outside({"socket", "inet", "raw", "icmp"}));
  // ...while the same destination is refused inside.
  expect_refused(world.netprobe_in_sandbox("acme/eng/coder-1", {"connect", "tcp", "198.51.100.66", "80"}));
}

TEST_CASE("socket families: what agents need, nothing that goes around the hooks, even for root", "[each-kernel]") {
  World world;
  start_with_policies(world);
  const std::string agent = "acme/eng/coder-1";
  for (const auto& args : std::vector<std::vector<std::string>>{{"socket", "inet", "stream"},
                                                                {"socket", "inet6", "dgram"},
                                                                {"socket", "unix", "stream"},
                                                                {"socket", "unix", "dgram"},
                                                                {"socket", "netlink", "raw", "0"}}) {
    INFO(args[1] << " " << args[2]);
    expect_ok(world.netprobe_in_sandbox(agent, args));
  }
  for (const auto& args : std::vector<std::vector<std::string>>{{"socket", "inet", "raw", "icmp"},
                                                                {"socket", "inet6", "raw", "icmpv6"},
                                                                {"socket", "inet", "raw", "tcp"},
                                                                {"socket", "packet", "raw"},
                                                                {"socket", "packet", "dgram"},
                                                                {"socket", "vsock", "stream"},
                                                                {"socket", "netlink", "raw", "12"}}) {
    INFO(args[1] << " " << args[2] << " (as root inside the sandbox)");
    expect_refused(world.netprobe_in_sandbox(agent, args));
  }
  INFO("as an unprivileged user too");
  expect_refused(world.netprobe_in_sandbox(agent, {"socket", "packet", "raw"}, std::string("nobody")));
  expect_ok(world.netprobe_in_sandbox(agent, {"connect", "tcp", "198.51.100.10", "80"}, std::string("nobody")));
}

TEST_CASE("agentctl run returns the command's exit status") {
  World world;
  start_with_policies(world);
  auto seven = world.agentctl({"run", "--agent", "acme/eng/coder-1", "--", "sh", "-c", "exit 7"});
  CHECK(seven.exit_code == 7);
  auto missing = world.agentctl({"run", "--agent", "acme/eng/coder-1", "--", "/nonexistent/tool"});
  INFO(missing.describe());
  CHECK(missing.exit_code == 127);
  CHECK(missing.err.find("cannot run '/nonexistent/tool'") != std::string::npos);
  auto cgroup = world.agentctl({"run", "--agent", "acme/eng/coder-1", "--", "cat", "/proc/self/cgroup"});
  INFO(cgroup.describe());
  CHECK(cgroup.out.find("/acme/eng/coder-1") != std::string::npos);
  auto short_name = world.agentctl({"run", "--agent", "acme/eng", "--", "true"});
  INFO(short_name.describe());
  CHECK(short_name.exit_code == 1);
  CHECK(short_name.err.find("is not TENANT/TEAM/AGENT") != std::string::npos);
  auto bad_name = world.agentctl({"run", "--agent", "Acme/eng/x", "--", "true"});
  INFO(bad_name.describe());
  CHECK(bad_name.exit_code == 1);
  CHECK(bad_name.err.find("\"Acme\" is not a valid name") != std::string::npos);
}

// refuse_with: how a denied connect or send fails. Clients retry EPERM
// (wget for 145 s); ECONNREFUSED is final to them. The destination is a
// host whose server would accept, so ECONNREFUSED can only come from the
// hook, and the sniffer proves nothing reached it.
TEST_CASE("refuse_with: econnrefused makes a tenant's denials fail with ECONNREFUSED, still recorded",
          "[each-kernel]") {
  World world;
  const std::string refusing = R"(apiVersion: agentd/v1
tenant: acme
refuse_with: econnrefused
rules:
  - agents: "acme/*/*"
    allow:
      - cidr: 198.51.100.10/32
        ports: [80]
)";
  world.write_policy("acme.yaml", refusing);
  world.write_policy("globex.yaml", kGlobexPolicy);
  INFO(world.agentd_log());
  REQUIRE(world.start_agentd());
  auto features = json::parse(world.agentctl({"status", "-o", "json"}).out)["kernel"]["features"];
  INFO(features.dump());
  REQUIRE(features.value("set_retval", false));
  // A process in each sandbox keeps it alive (an empty one is retired),
  // so a reload below switches a running sandbox.
  world.spawn_in_sandbox("acme/eng/coder-1", {"60"}, "acme-sleeper", "/bin/sleep");
  world.spawn_in_sandbox("globex/web/bot", {"60"}, "globex-sleeper", "/bin/sleep");

  expect_ok(world.netprobe_in_sandbox("acme/eng/coder-1", {"connect", "tcp", "198.51.100.10", "80"}));
  for (const auto& args : std::vector<std::vector<std::string>>{{"connect", "tcp", "198.51.100.66", "80"},
                                                                {"connect", "tcp", "2001:db8:1::66", "80"},
                                                                {"connect", "udp", "198.51.100.66", "9000"},
                                                                {"sendto", "udp", "198.51.100.66", "9000"},
                                                                {"sendto", "udp", "2001:db8:1::66", "9000"}}) {
    INFO(args[0] << " " << args[1] << " " << args[2]);
    expect_refused(world.netprobe_in_sandbox("acme/eng/coder-1", args), "ECONNREFUSED");
  }
  // Another tenant keeps the default.
  expect_refused(world.netprobe_in_sandbox("globex/web/bot", {"connect", "tcp", "198.51.100.66", "80"}), "EPERM");
  // Recorded like any denial.
  CHECK(!world
             .wait_for_denial([](const json& d) {
               return d.value("sandbox", json()).is_string() && d["sandbox"] == "acme/eng/coder-1" &&
                      d.value("dest", "") == "198.51.100.66";
             })
             .is_null());
  auto refuse_with_of = [&](const std::string& agent) {
    for (int i = 0; i < 250; ++i) {
      const json status = json::parse(world.agentctl({"status", "-o", "json"}).out);
      for (const auto& s : status["sandboxes"])
        if (s.value("agent", "") == agent) return s.value("refuse_with", "");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return std::string("(no such sandbox)");
  };
  CHECK(refuse_with_of("acme/eng/coder-1") == "econnrefused");
  CHECK(refuse_with_of("globex/web/bot") == "eperm");

  // A reload to the default switches the running sandbox back to EPERM.
  const uint64_t generation =
      json::parse(world.agentctl({"status", "-o", "json"}).out)["policy"]["generation"].get<uint64_t>();
  world.write_policy("acme.yaml", kSwitchPolicyA);
  world.signal_agentd(SIGHUP);
  bool reloaded = false;
  for (int i = 0; i < 250 && !reloaded; ++i) {
    reloaded =
        json::parse(world.agentctl({"status", "-o", "json"}).out)["policy"]["generation"].get<uint64_t>() > generation;
    if (!reloaded) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE(reloaded);
  CHECK(refuse_with_of("acme/eng/coder-1") == "eperm");
  expect_refused(world.netprobe_in_sandbox("acme/eng/coder-1", {"connect", "tcp", "198.51.100.66", "80"}), "EPERM");
  CHECK(world.stray_packets() == 0);
}
