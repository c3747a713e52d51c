// Attack: a forbidden host connects into a sandbox (issue "No way out",
// class 4). The agent listens; what it writes back on an accepted socket
// passes no egress hook, so the peer must be judged as it comes in. Peers
// in the "internet" ns with chosen source addresses: .20 / ::20 allowed by
// an `inbound:` rule, .66 denied by one, .10 / ::10 by the default.
#include <unistd.h>

#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>

#include "approvals_helpers.hpp"
#include "expectations.hpp"
#include "world.hpp"

using namespace agentd::e2e;
using nlohmann::json;

namespace {

const std::string kAgent = "acme/eng/coder-1";

const char* kInboundPolicy = R"(apiVersion: agentd/v1
tenant: acme
rules:
  - agents: "acme/eng/*"
    allow:
      - cidr: 198.51.100.0/24
        ports: [9000]
    inbound:
      allow:
        - cidr: 198.51.100.20/32
          ports: [8080]
          protocol: tcp
        - cidr: 198.51.100.20/32
          ports: [8081]
          protocol: udp
        - cidr: 2001:db8:1::20/128
          ports: [8080]
      deny:
        - cidr: 198.51.100.66/32
)";

// No inbound rule at all: the sandbox may reach the /24 on 80 and 9000.
const char* kEgressOnlyPolicy = R"(apiVersion: agentd/v1
tenant: acme
rules:
  - agents: "acme/eng/*"
    allow:
      - cidr: 198.51.100.0/24
        ports: [80, 9000]
)";

// A sandboxed server on tcp 8080 and udp 8081 (dual stack), once it listens.
pid_t start_sandboxed_server(World& world, const std::optional<std::string>& user = std::nullopt) {
  pid_t pid =
      world.spawn_in_sandbox(kAgent, {"serve", "--tcp", "8080", "--udp", "8081"}, "inbound-server", NETPROBE_BIN, user);
  for (int i = 0; i < 250; ++i) {
    std::ifstream out(world.dir() / "inbound-server.out");
    std::string text((std::istreambuf_iterator<char>(out)), std::istreambuf_iterator<char>());
    if (text.find("\"ready\":true") != std::string::npos) return pid;
    usleep(20'000);
  }
  FAIL("the sandboxed server did not start");
  return pid;
}

json wait_for_inbound_record(const World& world, const std::string& source, int port) {
  return world.wait_for_denial([&](const json& d) {
    return d.value("hook", "") == "packet_ingress" && d.value("source", "") == source && d.value("port", 0) == port;
  });
}

}  // namespace

TEST_CASE("only peers an inbound rule allows connect or send into a sandbox", "[each-kernel]") {
  // The agent's default user, and an explicit root: the wall is the kernel's either way.
  for (const std::optional<std::string>& user : {std::optional<std::string>(), std::optional<std::string>("root")}) {
    INFO("user " << user.value_or("(default)"));
    World world;
    world.write_policy("acme.yaml", kInboundPolicy);
    INFO(world.agentd_log());
    REQUIRE(world.start_agentd());
    start_sandboxed_server(world, user);

    // Allowed peers, over IPv4 and IPv6, TCP and UDP.
    expect_ok(world.netprobe_in_internet({"from", "198.51.100.20", "tcp", "198.51.100.1", "8080"}));
    expect_ok(world.netprobe_in_internet({"from", "2001:db8:1::20", "tcp", "2001:db8:1::1", "8080"}));
    expect_ok(world.netprobe_in_internet({"from", "198.51.100.20", "udp", "198.51.100.1", "8081"}));
    // Forbidden peers: nothing answers them, and each leaves a record.
    expect_refused(world.netprobe_in_internet({"from", "198.51.100.10", "tcp", "198.51.100.1", "8080"}), "ETIMEDOUT");
    expect_refused(world.netprobe_in_internet({"from", "198.51.100.66", "tcp", "198.51.100.1", "8080"}), "ETIMEDOUT");
    expect_refused(world.netprobe_in_internet({"from", "2001:db8:1::10", "tcp", "2001:db8:1::1", "8080"}), "ETIMEDOUT");
    expect_refused(world.netprobe_in_internet({"from", "198.51.100.20", "tcp", "198.51.100.1", "8081"}),
                   "ECONNREFUSED");
    expect_refused(world.netprobe_in_internet({"from", "198.51.100.10", "udp", "198.51.100.1", "8081"}), "ETIMEDOUT");

    auto by_default = wait_for_inbound_record(world, "198.51.100.10", 8080);
    INFO(world.agentd_log());
    REQUIRE(by_default.is_object());
    CHECK(by_default["sandbox"] == kAgent);
    CHECK(by_default["reason"] == "no_rule");
    CHECK(by_default["direction"] == "inbound");
    auto by_rule = wait_for_inbound_record(world, "198.51.100.66", 8080);
    REQUIRE(by_rule.is_object());
    CHECK(by_rule["reason"] == "deny_rule");
    CHECK(by_rule.value("rule", "").find("rules[0].inbound.deny[0]") != std::string::npos);
    REQUIRE(wait_for_inbound_record(world, "2001:db8:1::10", 8080).is_object());
    REQUIRE(wait_for_inbound_record(world, "198.51.100.10", 8081).is_object());
    // A peer no rule decided is a question for an operator (an inbound
    // request); one an explicit deny refused is not.
    auto asked = wait_for_request(world, kAgent, "198.51.100.10", 8080);
    REQUIRE(asked.is_object());
    CHECK(asked["direction"] == "inbound");
    auto requests = world.agentctl({"approvals", "list", "-o", "json"});
    CHECK(requests.out.find("198.51.100.66") == std::string::npos);

    // Over loopback the host itself may connect (documented).
    expect_ok(world.netprobe_outside({"connect", "tcp", "127.0.0.1", "8080"}));
    // Replies to what the sandbox sent still arrive (unconnected UDP).
    expect_ok(world.netprobe_in_sandbox(kAgent, {"sendto", "udp", "198.51.100.10", "9000"}));

    // explain agrees with the kernel.
    auto explained =
        world.agentctl({"policy", "explain", "--agent", kAgent, "--dest", "198.51.100.66:8080", "--inbound"});
    INFO(explained.describe());
    CHECK(explained.out.find("denied by") != std::string::npos);
    explained = world.agentctl({"policy", "explain", "--agent", kAgent, "--dest", "198.51.100.20:8080", "--inbound"});
    CHECK(explained.out.find("allowed by") != std::string::npos);
    CHECK(world.stray_packets() == 0);
    CHECK(world.agentctl({"status"}).exit_code == 0);
  }
}

TEST_CASE("with no inbound rule a listening sandbox takes no connection from the network") {
  World world;
  world.write_policy("acme.yaml", kEgressOnlyPolicy);
  INFO(world.agentd_log());
  REQUIRE(world.start_agentd());
  start_sandboxed_server(world);
  for (const char* peer : {"198.51.100.10", "198.51.100.20", "198.51.100.66"})
    expect_refused(world.netprobe_in_internet({"from", peer, "tcp", "198.51.100.1", "8080"}), "ETIMEDOUT");
  expect_refused(world.netprobe_in_internet({"from", "2001:db8:1::66", "tcp", "2001:db8:1::1", "8080"}), "ETIMEDOUT");
  // The sandbox's own traffic is unaffected: it may reach the /24 and hear back.
  expect_ok(world.netprobe_in_sandbox(kAgent, {"connect", "tcp", "198.51.100.10", "80"}));
  expect_ok(world.netprobe_in_sandbox(kAgent, {"sendto", "udp", "198.51.100.10", "9000"}));
  CHECK(world.stray_packets() == 0);
  CHECK(world.agentctl({"status"}).exit_code == 0);
}

TEST_CASE("an operator lets a refused peer in, only that peer, only inward, until revoked") {
  World world;
  world.write_policy("acme.yaml", kEgressOnlyPolicy);
  INFO(world.agentd_log());
  REQUIRE(world.start_agentd());
  start_sandboxed_server(world);

  expect_refused(world.netprobe_in_internet({"from", "198.51.100.20", "tcp", "198.51.100.1", "8080"}), "ETIMEDOUT");
  auto request = wait_for_request(world, kAgent, "198.51.100.20", 8080);
  REQUIRE(request.is_object());
  CHECK(request["direction"] == "inbound");
  CHECK(request["protocol"] == "tcp");
  auto listed = world.agentctl({"approvals", "list"});
  CHECK(listed.out.find("from 198.51.100.20 to port 8080/tcp") != std::string::npos);

  auto answer = agentctl_json(world, {"approvals", "approve", std::to_string(request["id"].get<uint64_t>())});
  REQUIRE(answer.is_object());
  REQUIRE(answer["grant"].is_object());
  CHECK(answer["grant"]["direction"] == "inbound");
  const auto grant_id = answer["grant"]["id"].get<uint64_t>();

  // The peer comes in now; another peer does not, nor the same peer on another port.
  expect_ok(world.netprobe_in_internet({"from", "198.51.100.20", "tcp", "198.51.100.1", "8080"}));
  expect_refused(world.netprobe_in_internet({"from", "198.51.100.66", "tcp", "198.51.100.1", "8080"}), "ETIMEDOUT");
  expect_refused(world.netprobe_in_internet({"from", "198.51.100.20", "udp", "198.51.100.1", "8081"}), "ETIMEDOUT");
  // An inbound grant opens nothing outward: the agent still cannot reach the peer there.
  expect_refused(world.netprobe_in_sandbox(kAgent, {"connect", "tcp", "198.51.100.20", "8080"}));
  // explain agrees with the kernel, in both directions.
  auto explained =
      world.agentctl({"policy", "explain", "--agent", kAgent, "--dest", "198.51.100.20:8080", "--inbound"});
  INFO(explained.describe());
  CHECK(explained.out.find("allowed by grant") != std::string::npos);
  explained = world.agentctl({"policy", "explain", "--agent", kAgent, "--dest", "198.51.100.20:8080"});
  CHECK(explained.out.find("allowed by grant") == std::string::npos);

  // Revoked: the peer is refused again, and no SYN-ACK ever reached the refused one.
  REQUIRE(world.agentctl({"grants", "revoke", std::to_string(grant_id)}).exit_code == 0);
  expect_refused(world.netprobe_in_internet({"from", "198.51.100.20", "tcp", "198.51.100.1", "8080"}), "ETIMEDOUT");
  CHECK(world.forbidden_arrivals() == 0);
  CHECK(world.stray_packets() == 0);
  CHECK(world.agentctl({"status"}).exit_code == 0);
}

// The host's own address is loopback whatever its subnet: a sandbox whose
// CIDR rule covers the host's /24 must not reach what listens on the host
// (another sandbox's listener, a host service on 0.0.0.0) through it. The
// host ns's loopback-server listens on [::]:7070.
const char* kHostSubnetPolicy = R"(apiVersion: agentd/v1
tenant: acme
rules:
  - agents: "acme/eng/*"
    allow:
      - cidr: 198.51.100.0/24
        ports: [80, 7070]
      - cidr: 2001:db8:1::/64
        ports: [80, 7070]
)";

TEST_CASE("the host's own addresses are loopback: a CIDR over the host's subnet does not open them") {
  for (const std::optional<std::string>& user : {std::optional<std::string>(), std::optional<std::string>("root")}) {
    World world;
    world.write_policy("acme.yaml", kHostSubnetPolicy);
    INFO(world.agentd_log());
    REQUIRE(world.start_agentd());
    INFO("user " << user.value_or("(default)"));
    // The service is there, and the host itself reaches it.
    expect_ok(world.netprobe_outside({"connect", "tcp", "198.51.100.1", "7070"}));
    // The sandbox does not, by any of the host's addresses or the unspecified ones.
    for (const char* own : {"198.51.100.1", "2001:db8:1::1", "0.0.0.0", "::", "::ffff:198.51.100.1"}) {
      INFO(own);
      expect_refused(world.netprobe_in_sandbox(kAgent, {"connect", "tcp", own, "7070"}, user));
      expect_refused(world.netprobe_in_sandbox(kAgent, {"sendto", "udp", own, "7070"}, user));
    }
    auto record = world.wait_for_denial([](const json& d) {
      return d.value("dest", "") == "198.51.100.1" && d.value("port", 0) == 7070 && d.value("protocol", "") == "tcp";
    });
    REQUIRE(record.is_object());
    CHECK(record["reason"] == "host_address");
    // The rest of the /24 is as the rule says.
    expect_ok(world.netprobe_in_sandbox(kAgent, {"connect", "tcp", "198.51.100.10", "80"}, user));
    expect_ok(world.netprobe_in_sandbox(kAgent, {"connect", "tcp", "2001:db8:1::10", "80"}, user));

    // It is a question for an operator, who may open that exact address.
    auto request = wait_for_request(world, kAgent, "198.51.100.1", 7070);
    REQUIRE(request.is_object());
    auto answer = agentctl_json(world, {"approvals", "approve", std::to_string(request["id"].get<uint64_t>())});
    REQUIRE(answer.is_object());
    expect_ok(world.netprobe_in_sandbox(kAgent, {"connect", "tcp", "198.51.100.1", "7070"}, user));
    expect_refused(world.netprobe_in_sandbox(kAgent, {"connect", "tcp", "2001:db8:1::1", "7070"}, user));

    // A loopback rule opens the host's addresses on its ports, as loopback.
    std::string with_loopback = kHostSubnetPolicy;
    with_loopback += "      - cidr: ::1/128\n        ports: [7070]\n";
    world.write_policy("acme.yaml", with_loopback);
    REQUIRE(world.agentctl({"policy", "apply"}).exit_code == 0);
    expect_ok(world.netprobe_in_sandbox(kAgent, {"connect", "tcp", "2001:db8:1::1", "7070"}, user));
    CHECK(world.stray_packets() == 0);
    CHECK(world.forbidden_arrivals() == 0);
    CHECK(world.agentctl({"status"}).exit_code == 0);
  }
}

TEST_CASE("with ip_nonlocal_bind on, a sandbox cannot bind an address the host does not own", "[each-kernel]") {
  World world;
  world.write_policy("acme.yaml", kEgressOnlyPolicy);
  INFO(world.agentd_log());
  REQUIRE(world.in_host({"sysctl", "-qw", "net.ipv4.ip_nonlocal_bind=1", "net.ipv6.ip_nonlocal_bind=1"}).exit_code ==
          0);
  REQUIRE(world.start_agentd());
  // Outside any sandbox the sysctl lets anyone claim a forbidden host's address...
  expect_ok(world.netprobe_outside({"bind", "udp", "198.51.100.66", "9000"}));
  // ...a sandbox cannot, as its default user or as root.
  for (const std::optional<std::string>& user : {std::optional<std::string>(), std::optional<std::string>("root")}) {
    for (const char* foreign : {"198.51.100.66", "2001:db8:1::66"}) {
      INFO(foreign);
      expect_refused(world.netprobe_in_sandbox(kAgent, {"bind", "udp", foreign, "9000"}, user));
      expect_refused(world.netprobe_in_sandbox(kAgent, {"bind", "tcp", foreign, "9000"}, user));
    }
    // Its own addresses, loopback and the wildcard stay bindable.
    for (const char* own : {"198.51.100.1", "2001:db8:1::1", "127.0.0.1", "0.0.0.0", "::"})
      expect_ok(world.netprobe_in_sandbox(kAgent, {"bind", "udp", own, "9001"}, user));
  }
  auto record = world.wait_for_denial(
      [](const json& d) { return d.value("hook", "") == "bind4" && d.value("dest", "") == "198.51.100.66"; });
  REQUIRE(record.is_object());
  CHECK(record["reason"] == "foreign_source");
  CHECK(world.forbidden_arrivals() == 0);
  CHECK(world.stray_packets() == 0);
  CHECK(world.agentctl({"status"}).exit_code == 0);
}
