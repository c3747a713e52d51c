// Names, not addresses (issue 13): a connection that only a host rule (or a
// name grant) allowed must carry an allowed name on its first bytes. One
// address in the world's internet serves every name (names/name_server.py,
// a certificate per SNI, as a CDN does); the policy allows one name on it
// and denies another. curl, Python and Go clients, with names resolved
// through agentd or pinned to the address by hand (--resolve).
#include <unistd.h>

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "approvals_helpers.hpp"
#include "dns_helpers.hpp"
#include "expectations.hpp"
#include "world.hpp"

using namespace agentd::e2e;
using nlohmann::json;

namespace {

constexpr const char* kPolicy = R"(apiVersion: agentd/v1
tenant: acme
rules:
  - agents: "acme/eng/*"
    allow:
      - host: ok.names.example.test
        ports: [8443, 8081, 2222, 443]
      - host: "*.wild.example.test"
        ports: [2222]
        verify: strict
    deny:
      - host: evil.names.example.test
)";

const std::string kAgent = "acme/eng/coder-1";
const std::string kOk = "ok.names.example.test";
const std::string kEvil = "evil.names.example.test";
const std::string kV4 = "198.51.100.20";
const std::string kV6 = "2001:db8:1::20";
const std::string kPython = "/usr/bin/python3";
const std::string kClient = E2E_NAMES_DIR "/name_client.py";

// The shared-address server, ready to answer.
void serve_names(World& world) {
  world.serve_in_net({kPython, E2E_NAMES_DIR "/name_server.py", world.dir().string()}, "names");
  if (!wait_for_text(world.dir() / "names.out", "ready"))
    FAIL("name_server.py did not start: " << world.dir().string() << "/names.out");
}

// What the server received: one line per request.
std::string server_saw(const World& world) {
  std::ifstream out(world.dir() / "names.out");
  std::stringstream text;
  text << out.rdbuf();
  return text.str();
}

ProcessResult curl(const World& world, std::vector<std::string> args) {
  std::vector<std::string> argv = {"curl", "-sS", "-k", "--max-time", "5"};
  argv.insert(argv.end(), args.begin(), args.end());
  return world.in_sandbox(kAgent, argv);
}

ProcessResult client(const World& world, const std::string& mode, const std::string& name, const std::string& addr,
                     int port) {
  return world.in_sandbox(kAgent, {kPython, kClient, mode, name, addr, std::to_string(port)});
}

std::string hostport(const std::string& addr) { return addr.find(':') != std::string::npos ? "[" + addr + "]" : addr; }

void expect_reached(const ProcessResult& r, const std::string& name) {
  INFO(r.describe());
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("hello " + name) != std::string::npos);
}

void expect_not_reached(const ProcessResult& r) {
  INFO(r.describe());
  CHECK(r.exit_code != 0);
  CHECK(r.out.find("hello") == std::string::npos);
}

json name_denial(const World& world, const std::string& reason, const std::string& name) {
  return world.wait_for_denial([&](const json& d) {
    return d.value("hook", "") == "name_check" && d.value("reason", "") == reason && d.value("name", "") == name;
  });
}

}  // namespace

TEST_CASE("a host rule opens its name on a shared address, never the other names there") {
  World world;
  world.write_policy("acme.yaml", kPolicy);
  REQUIRE(world.start_agentd());
  serve_names(world);

  // Real DNS through agentd: the allowed name resolves and its site answers.
  expect_reached(curl(world, {"https://" + kOk + ":8443/"}), kOk);
  expect_reached(curl(world, {"http://" + kOk + ":8081/"}), kOk);
  // The denied name, pinned to the address the allowed one taught.
  for (const auto& scheme : {std::string("https"), std::string("http")}) {
    const std::string port = scheme == "https" ? "8443" : "8081";
    expect_not_reached(
        // NOLINTNEXTLINE(performance-inefficient-string-concatenation): two turns of the loop
        curl(world, {"--resolve", kEvil + ":" + port + ":" + kV4, scheme + "://" + kEvil + ":" + port + "/"}));
  }
  auto denial = name_denial(world, "name_denied", kEvil);
  INFO(world.agentd_log());
  REQUIRE(denial.is_object());
  CHECK(denial["dest"] == kV4);
  CHECK(denial["sandbox"] == kAgent);
  CHECK(denial["host"] == kOk);  // the name the address was learned from
  CHECK(denial["rule"].get<std::string>().find("host " + kOk) != std::string::npos);

  // Python and Go clients, the same way.
  expect_reached(client(world, "tls", kOk, kV4, 8443), kOk);
  expect_not_reached(client(world, "tls", kEvil, kV4, 8443));
  expect_not_reached(client(world, "http", kEvil, kV4, 8081));
  auto go_ok = world.in_sandbox(kAgent, {E2E_GO_TLS, kOk, kV4 + ":8443"});
  expect_reached(go_ok, kOk);
  expect_not_reached(world.in_sandbox(kAgent, {E2E_GO_TLS, kEvil, kV4 + ":8443"}));

  // A ClientHello in two writes is held until whole, then judged.
  expect_reached(client(world, "split", kOk, kV4, 8443), kOk);
  expect_not_reached(client(world, "split", kEvil, kV4, 8443));
  // Written with sendfile(2): the same check, the same verdicts.
  expect_reached(client(world, "sendfile", kOk, kV4, 8081), kOk);
  expect_not_reached(client(world, "sendfile", kEvil, kV4, 8081));
  // Through a proxy (absolute form, "GET http://NAME:PORT/"): the target's host
  // must be the Host header's, the name checked.
  const std::string proxy = "http://" + kV4 + ":8081";
  expect_reached(curl(world, {"-x", proxy, "http://" + kOk + ":8081/"}), kOk);
  expect_not_reached(curl(world, {"-x", proxy, "-H", "Host: " + kOk + ":8081", "http://" + kEvil + ":8081/"}));
  // A method the check does not know is still HTTP: its Host is checked.
  expect_reached(curl(world, {"-X", "XPOST", "http://" + kOk + ":8081/"}), kOk);
  expect_not_reached(curl(world, {"-X", "XPOST", "--resolve", kEvil + ":8081:" + kV4, "http://" + kEvil + ":8081/"}));
  // An Encrypted Client Hello hides the real name behind the outer one: refused.
  expect_not_reached(client(world, "ech", kOk, kV4, 8443));
  CHECK(world.wait_for_denial([](const json& d) { return d.value("reason", "") == "ech"; }).is_object());
  // No SNI: nothing to verify, refused.
  expect_not_reached(client(world, "nosni", kOk, kV4, 8443));
  CHECK(world.wait_for_denial([](const json& d) { return d.value("reason", "") == "no_name"; }).is_object());

  // Nothing of the denied name reached the server; agentd still serves.
  const std::string saw = server_saw(world);
  INFO(saw);
  CHECK(saw.find("evil") == std::string::npos);
  CHECK(saw.find("tls " + kOk + " " + kOk) != std::string::npos);
  auto status = daemon_status(world);
  auto names = sandbox_in(status, kAgent)["names"];
  INFO(status.dump());
  CHECK(names["verified"].get<uint64_t>() >= 7);
  CHECK(names["refused"].get<uint64_t>() >= 9);
  CHECK(world.stray_packets() == 0);
}

TEST_CASE("a name no rule allows, on an allowed name's address, becomes a request for that name") {
  World world;
  world.write_policy("acme.yaml", kPolicy);
  REQUIRE(world.start_agentd());
  serve_names(world);
  expect_reached(curl(world, {"https://" + kOk + ":8443/"}), kOk);
  const std::string stranger = "stranger.example.test";
  expect_not_reached(curl(world, {"--resolve", stranger + ":8443:" + kV4, "https://" + stranger + ":8443/"}));
  auto denial = name_denial(world, "name_not_allowed", stranger);
  INFO(world.agentd_log());
  REQUIRE(denial.is_object());
  // What explain says of it, from the daemon: the address is allowed, the name is not.
  auto explained = world.agentctl(
      {"policy", "explain", "--agent", kAgent, "--dest", kOk + ":8443", "--sni", stranger, "-o", "json"});
  INFO(explained.describe());
  REQUIRE(explained.exit_code == 0);
  auto why = json::parse(explained.out);
  CHECK(why["allowed"] == false);
  CHECK(why["explanation"].get<std::string>().find("the kernel refuses the connection at its first write") !=
        std::string::npos);
  json request = wait_for_name_request(world, kAgent, stranger);
  REQUIRE(request.is_object());
  CHECK(request["state"] == "pending");
  // Approved: the name passes on the address it was tried on.
  REQUIRE(agentctl_json(world, {"approvals", "approve", std::to_string(request["id"].get<uint64_t>()), "--for", "1h"})
              .is_object());
  expect_reached(curl(world, {"--resolve", stranger + ":8443:" + kV4, "https://" + stranger + ":8443/"}), stranger);
  CHECK(world.stray_packets() == 0);
}

TEST_CASE("over IPv6 the same: the allowed name reaches, the denied one on its address does not") {
  World world;
  world.write_policy("acme.yaml", kPolicy);
  REQUIRE(world.start_agentd());
  serve_names(world);
  // Learn the AAAA through agentd, then pin both names to it.
  auto resolved = world.in_sandbox(kAgent, {"dig", "+short", "+tries=1", "+time=3", kOk, "AAAA"});
  INFO(resolved.describe());
  REQUIRE(resolved.out.find(kV6) != std::string::npos);
  expect_reached(curl(world, {"--resolve", kOk + ":8443:" + hostport(kV6), "https://" + kOk + ":8443/"}), kOk);
  expect_not_reached(curl(world, {"--resolve", kEvil + ":8443:" + hostport(kV6), "https://" + kEvil + ":8443/"}));
  expect_reached(client(world, "http", kOk, kV6, 8081), kOk);
  expect_not_reached(client(world, "http", kEvil, kV6, 8081));
  auto denial = name_denial(world, "name_denied", kEvil);
  REQUIRE(denial.is_object());
  CHECK(denial["dest"] == kV6);
  CHECK(server_saw(world).find("evil") == std::string::npos);
}

TEST_CASE("a server-first protocol passes by address, unless its rule says verify: strict, and QUIC is refused") {
  World world;
  world.write_policy("acme.yaml", kPolicy);
  REQUIRE(world.start_agentd());
  serve_names(world);
  REQUIRE(world.in_sandbox(kAgent, {"dig", "+short", kOk}).out.find(kV4) != std::string::npos);
  auto banner = client(world, "banner", "-", kV4, 2222);
  INFO(banner.describe());
  CHECK(banner.exit_code == 0);
  CHECK(banner.out.find("SSH-2.0-client") != std::string::npos);
  // UDP to 443 of an address only a name opened: QUIC hides the name.
  expect_refused(world.netprobe_in_sandbox(kAgent, {"connect", "udp", kV4, "443"}));
  CHECK(world.wait_for_denial([](const json& d) { return d.value("reason", "") == "quic"; }).is_object());

  // The same address learned from a strict rule's name: another protocol is refused.
  REQUIRE(world.in_sandbox(kAgent, {"dig", "+short", "a.wild.example.test"}).out.find(kV4) != std::string::npos);
  expect_not_reached(client(world, "banner", "-", kV4, 2222));
  CHECK(world.wait_for_denial([](const json& d) { return d.value("reason", "") == "nameless"; }).is_object());
  CHECK(world.stray_packets() == 0);
}

TEST_CASE("a request sent through io_uring gets the same name check, where io_uring may run at all", "[each-kernel]") {
  // io_uring is refused by every syscall profile unless a rule allows it,
  // and agentctl run refuses such a profile while the socket family hook
  // is missing (this kernel's LSM programs may not load): then that
  // refusal is what holds; where the hook is active, the check.
  World world;
  world.write_policy("acme.yaml", std::string(kPolicy) + R"(  - agents: "acme/uring/*"
    allow:
      - host: ok.names.example.test
        ports: [8081]
    deny:
      - host: evil.names.example.test
    sandbox:
      syscalls:
        allow: [io_uring_setup]
)");
  REQUIRE(world.start_agentd());
  serve_names(world);
  const std::string agent = "acme/uring/a";
  auto status = daemon_status(world);
  const std::string hook = status["kernel"]["enforcement"].value("socket_family_hook", "");
  auto learned = world.agentctl({"run", "--agent", agent, "--", "dig", "+short", "+tries=1", kOk});
  INFO(learned.describe() << "\nhook: " << hook);
  if (hook != "active") {
    CHECK(learned.exit_code == 1);
    CHECK(learned.err.find("allows io_uring_setup") != std::string::npos);
    return;
  }
  REQUIRE(learned.out.find(kV4) != std::string::npos);
  auto ok = world.in_sandbox(agent, {E2E_URING_CLIENT, kV4, "8081", kOk});
  expect_reached(ok, kOk);
  auto evil = world.in_sandbox(agent, {E2E_URING_CLIENT, kV4, "8081", kEvil});
  expect_not_reached(evil);
  CHECK(evil.out.find("refused send") != std::string::npos);
  CHECK(name_denial(world, "name_denied", kEvil).is_object());
  CHECK(server_saw(world).find("evil") == std::string::npos);
  CHECK(world.stray_packets() == 0);
}
