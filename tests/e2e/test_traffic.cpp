// Bytes per sandbox (issue 16): the skb programs count what each
// sandbox's sockets send and receive, by what allowed the socket (the
// tenant's inference endpoints, a CIDR rule, a name learned from a host
// rule, anything else), into status, sandbox list and the metrics.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

#include "expectations.hpp"
#include "world.hpp"

using namespace agentd::e2e;
using nlohmann::json;

namespace {

const char* kPolicy = R"(apiVersion: agentd/v1
tenant: acme
inference:
  - cidr: 203.0.113.7/32
    ports: [7443]
rules:
  - agents: "acme/*/*"
    allow:
      - cidr: 198.51.100.10/32
        ports: [80, 7080]
      - host: api.example.test
        ports: [7090]
        verify: off
)";

// An echo server in the world's net namespace on the three ports above.
const char* kEchoServer = R"(
import socket, threading
def serve(port):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(16)
    while True:
        c, _ = ls.accept()
        while True:
            data = c.recv(65536)
            if not data:
                break
            c.sendall(data)
        c.close()
def serve_udp(port):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("0.0.0.0", port))
    while True:
        data, peer = u.recvfrom(65536)
        u.sendto(data, peer)
for port in (7080, 7443, 7090):
    threading.Thread(target=serve, args=(port,), daemon=True).start()
for port in (7080, 7443):
    threading.Thread(target=serve_udp, args=(port,), daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
)";

// One process, so that one sandbox makes all of it: each connection sends
// its bytes, then reads the world's echo of them to the end.
const char* kTraffic = R"(
import socket
def echo(host, port, n):
    s = socket.create_connection((host, port), timeout=10)
    s.sendall(b"x" * n)
    s.shutdown(socket.SHUT_WR)
    got = 0
    while True:
        data = s.recv(65536)
        if not data:
            break
        got += len(data)
    s.close()
    assert got == n, (host, port, got)
echo("198.51.100.10", 7080, 100000)
echo("203.0.113.7", 7443, 50000)
echo("api.example.test", 7090, 70000)
try:
    socket.create_connection(("198.51.100.66", 80), timeout=5)
except OSError:
    pass
print("done")
)";

// A connected UDP socket that sends one byte to the inference endpoint
// first, then its bulk to its own peer (a rule): the bulk, and its echo,
// must count under the rule, not under the class of the last send.
const char* kSteeredDatagrams = R"(
import socket
def steer(family, rule, inference):
    u = socket.socket(family, socket.SOCK_DGRAM)
    u.settimeout(5)
    u.connect(rule)
    u.sendto(b"i", inference)
    for _ in range(50):
        u.send(b"x" * 1000)
        assert len(u.recv(2048)) == 1000
steer(socket.AF_INET, ("198.51.100.10", 7080), ("203.0.113.7", 7443))
# The same through IPv4-mapped addresses on an IPv6 socket (IPv4 packets).
steer(socket.AF_INET6, ("::ffff:198.51.100.10", 7080), ("::ffff:203.0.113.7", 7443))
print("done")
)";

// A sandboxed server that takes one connection: reads it to the end, then
// writes as much back.
const char* kOneConnectionServer = R"(
import socket
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("0.0.0.0", 8080))
ls.listen(1)
print("ready", flush=True)
c, _ = ls.accept()
got = 0
while True:
    data = c.recv(65536)
    if not data:
        break
    got += len(data)
c.sendall(b"y" * got)
c.close()
print("served", got, flush=True)
)";

// The peer in the "internet" ns, from an address an inbound rule lets in.
const char* kPeerClient = R"(
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(10)
s.bind(("198.51.100.20", 0))
s.connect(("198.51.100.1", 8080))
s.sendall(b"x" * 120000)
s.shutdown(socket.SHUT_WR)
got = 0
while True:
    data = s.recv(65536)
    if not data:
        break
    got += len(data)
assert got == 120000, got
print("done")
)";

const char* kInboundPolicy = R"(apiVersion: agentd/v1
tenant: acme
rules:
  - agents: "acme/*/*"
    inbound:
      allow:
        - cidr: 198.51.100.20/32
          ports: [8080]
          protocol: tcp
)";

json sandbox_of(const World& world, const std::string& agent) {
  auto listed = world.agentctl({"sandbox", "list", "-o", "json"});
  INFO(listed.describe());
  REQUIRE(listed.exit_code == 0);
  for (const auto& s : json::parse(listed.out))
    if (s.value("agent", "") == agent) return s;
  return nullptr;
}

// A sandbox's traffic counts, as `sandbox list -o json` shows them.
json traffic_of(const World& world, const std::string& agent) {
  const json s = sandbox_of(world, agent);
  REQUIRE(s.is_object());
  return s["traffic"];
}

// Once a background process of the test says "ready" (a bounded wait).
bool said_ready(const World& world, const std::string& name) {
  for (int i = 0; i < 200; ++i) {
    if (world.in_host({"cat", (world.dir() / (name + ".out")).string()}).out.find("ready") != std::string::npos)
      return true;
    usleep(50'000);
  }
  return false;
}

// agentd on kPolicy, and the world's echo server up.
void start_echo_world(World& world) {
  world.write_policy("acme.yaml", kPolicy);
  world.serve_in_net({"/usr/bin/python3", "-u", "-c", kEchoServer}, "echo");
  REQUIRE(world.start_agentd({"--retire-grace", "1h"}));
  REQUIRE(said_ready(world, "echo"));
}

}  // namespace

TEST_CASE("each sandbox's bytes are counted in the kernel by what allowed them", "[each-kernel]") {
  World world;
  start_echo_world(world);
  const std::string agent = "acme/eng/coder-1";
  auto ran = world.in_sandbox(agent, {"/usr/bin/python3", "-c", kTraffic});
  INFO(ran.describe() << world.agentd_log());
  REQUIRE(ran.exit_code == 0);
  REQUIRE(ran.out.find("done") != std::string::npos);

  const json t = traffic_of(world, agent);
  INFO(t.dump());
  // Payload plus headers, each way; nothing of one class in another.
  auto between = [](const json& v, uint64_t lo, uint64_t hi) {
    return v.get<uint64_t>() >= lo && v.get<uint64_t>() <= hi;
  };
  CHECK(between(t["sent"]["by_class"]["rule"], 100000, 130000));
  CHECK(between(t["received"]["by_class"]["rule"], 100000, 130000));
  CHECK(between(t["sent"]["by_class"]["inference"], 50000, 70000));
  CHECK(between(t["received"]["by_class"]["inference"], 50000, 70000));
  CHECK(between(t["sent"]["by_class"]["name"], 70000, 95000));
  CHECK(between(t["received"]["by_class"]["name"], 70000, 95000));
  // The DNS query for the name went to agentd's proxy: other.
  CHECK(t["sent"]["by_class"]["other"].get<uint64_t>() > 0);
  CHECK(t["sent"]["packets"].get<uint64_t>() > 0);
  CHECK(t["sent"]["bytes"].get<uint64_t>() ==
        t["sent"]["by_class"]["rule"].get<uint64_t>() + t["sent"]["by_class"]["inference"].get<uint64_t>() +
            t["sent"]["by_class"]["name"].get<uint64_t>() + t["sent"]["by_class"]["other"].get<uint64_t>());

  // Another sandbox's counts are its own; a sandbox made later in a slot
  // starts from nothing.
  expect_ok(world.netprobe_in_sandbox("acme/eng/coder-2", {"connect", "tcp", "198.51.100.10", "80"}));
  const json other = sandbox_of(world, "acme/eng/coder-2");
  REQUIRE(other.is_object());
  CHECK(other["traffic"]["sent"]["by_class"]["rule"].get<uint64_t>() < 1000);
  CHECK(other["traffic"]["sent"]["by_class"]["inference"] == 0);

  // The metrics carry them, by class.
  auto status = world.agentctl({"status", "-o", "json"});
  REQUIRE(status.exit_code == 0);
  CHECK(json::parse(status.out)["sandboxes"].dump().find("\"traffic\"") != std::string::npos);
  CHECK(world.stray_packets() == 0);
}

TEST_CASE("a datagram counts under its own peer's class, not the socket's last send") {
  World world;
  start_echo_world(world);
  const std::string agent = "acme/eng/coder-1";
  auto ran = world.in_sandbox(agent, {"/usr/bin/python3", "-c", kSteeredDatagrams});
  INFO(ran.describe() << world.agentd_log());
  REQUIRE(ran.out.find("done") != std::string::npos);

  const json t = traffic_of(world, agent);
  INFO(t.dump());
  // Per socket, 50 datagrams of 1,000 bytes each way under the rule; the
  // one byte to the inference endpoint under inference: 20 + 8 + 1 bytes.
  // Its echo never reaches a socket connected elsewhere.
  CHECK(t["sent"]["by_class"]["rule"].get<uint64_t>() >= 100000);
  CHECK(t["received"]["by_class"]["rule"].get<uint64_t>() >= 100000);
  CHECK(t["sent"]["by_class"]["inference"] == 2 * 29);
  CHECK(t["received"]["by_class"]["inference"] == 0);
  CHECK(world.stray_packets() == 0);
}

TEST_CASE("a connection accepted from a sandbox's listener counts for that sandbox") {
  World world;
  world.write_policy("acme.yaml", kInboundPolicy);
  REQUIRE(world.start_agentd({"--retire-grace", "1h"}));
  const std::string agent = "acme/eng/server-1";
  pid_t server = world.spawn_in_sandbox(agent, {"-u", "-c", kOneConnectionServer}, "server", "/usr/bin/python3");
  REQUIRE(said_ready(world, "server"));
  auto peer = world.in_internet({"/usr/bin/python3", "-c", kPeerClient});
  INFO(peer.describe() << world.agentd_log());
  REQUIRE(peer.out.find("done") != std::string::npos);
  auto served = world.wait_spawned(server, "server");
  REQUIRE(served.out.find("served 120000") != std::string::npos);

  const json t = traffic_of(world, agent);
  INFO(t.dump());
  // What the peer sent in and what the sandbox wrote back on the accepted
  // socket, under "other" (a peer let in); nothing under a class of egress.
  CHECK(t["received"]["by_class"]["other"].get<uint64_t>() >= 120000);
  CHECK(t["sent"]["by_class"]["other"].get<uint64_t>() >= 120000);
  CHECK(t["sent"]["by_class"]["rule"] == 0);
  CHECK(t["sent"]["by_class"]["inference"] == 0);
  CHECK(world.stray_packets() == 0);
}
