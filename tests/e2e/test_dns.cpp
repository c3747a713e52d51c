// Hostname rules end to end: agentd's DNS proxy answers the sandbox's
// queries (any server, UDP or TCP), learns allowed answers into the kernel
// and refuses the rest, against the world's real dnsmasq.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <fstream>
#include <set>
#include <sstream>

#include "approvals_helpers.hpp"
#include "dns_helpers.hpp"
#include "expectations.hpp"
#include "world.hpp"

using namespace agentd::e2e;
using nlohmann::json;

namespace {

constexpr const char* kHostPolicy = R"(apiVersion: agentd/v1
tenant: acme
rules:
  - agents: "acme/eng/*"
    allow:
      - host: api.example.test
        ports: [443, 80]
      - host: "*.wild.example.test"
        ports: [443]
      - host: alias.example.test
        ports: [443]
      - host: short.example.test
        ports: [8080]
      - host: metadata.example.test
      - host: private.example.test
      - host: "*.other.test"
      - host: other.example.test
      - host: big.example.test
        ports: [443]
    deny:
      - host: other.example.test
  - agents: "acme/ops/*"
    allow:
      - host: wild.example.test
        ports: [443]
)";

const std::string kEng = "acme/eng/coder-1";
const std::string kOps = "acme/ops/runner";

// Runs `argv` in the sandbox of `agent` with an /etc/resolv.conf naming only
// `nameserver` (where nothing serves DNS: only the proxy can answer), bound
// in a mount namespace of its own that agentctl run and the resolver inherit.
ProcessResult with_nameserver(const World& world, const std::string& nameserver, const std::string& agent,
                              const std::vector<std::string>& argv) {
  const auto conf = world.dir() / ("resolv-" + std::to_string(std::hash<std::string>{}(nameserver)) + ".conf");
  std::ofstream(conf) << "nameserver " << nameserver << "\noptions timeout:2 attempts:1\n";
  std::string command = "mount --bind '" + conf.string() + "' /etc/resolv.conf && exec '" + agentctl_bin() +
                        "' --socket '" + world.socket().string() + "' run --agent " + agent + " --";
  for (const auto& arg : argv) command += " '" + arg + "'";
  return world.in_host({"unshare", "-m", "sh", "-c", command});
}

}  // namespace

TEST_CASE("an allowed name resolves and connects, a name outside the policy gets nothing", "[each-kernel]") {
  World world;
  world.write_policy("acme.yaml", kHostPolicy);
  REQUIRE(world.start_agentd());
  // Before any query, the address is not reachable: nothing was learned.
  expect_refused(world.netprobe_in_sandbox(kEng, {"connect", "tcp", "198.51.100.10", "443"}));
  // The libc resolver, through whatever /etc/resolv.conf names: redirected.
  auto resolved = world.netprobe_in_sandbox(kEng, {"resolve", "api.example.test", "443"});
  expect_ok(resolved);
  CHECK(resolved.out.find("198.51.100.10") != std::string::npos);
  // Learned for the ports of its rule only.
  expect_refused(world.netprobe_in_sandbox(kEng, {"connect", "tcp", "198.51.100.10", "8080"}));

  DigResult refused = dig_in(world, kEng, {"@198.51.100.53", "allowed.example.test"});
  INFO(refused.raw);
  CHECK(refused.status == "NXDOMAIN");
  CHECK(refused.addresses.empty());
  CHECK(refused.ede.find("Prohibited") != std::string::npos);
  CHECK(refused.ede.find("may not resolve allowed.example.test") != std::string::npos);
  auto denials = dns_denials(world, "allowed.example.test");
  REQUIRE_FALSE(denials.empty());
  CHECK(denials[0]["hook"] == "dns");
  CHECK(denials[0]["sandbox"] == kEng);
  CHECK(denials[0]["reason"] == "no_rule");
  CHECK(world.stray_packets() == 0);
}

TEST_CASE("wildcard hosts cover subdomains at any depth, not the apex") {
  World world;
  world.write_policy("acme.yaml", kHostPolicy);
  REQUIRE(world.start_agentd());
  CHECK(dig_in(world, kEng, {"@198.51.100.53", "a.wild.example.test"}).addresses ==
        std::set<std::string>{"198.51.100.20"});
  CHECK(dig_in(world, kEng, {"@198.51.100.53", "x.y.wild.example.test"}).addresses ==
        std::set<std::string>{"198.51.100.20"});
  expect_ok(world.netprobe_in_sandbox(kEng, {"connect", "tcp", "198.51.100.20", "443"}));
  DigResult apex = dig_in(world, kEng, {"@198.51.100.53", "wild.example.test"});
  INFO(apex.raw);
  CHECK(apex.status == "NXDOMAIN");
  expect_refused(world.netprobe_in_sandbox(kEng, {"connect", "tcp", "198.51.100.10", "443"}));
}

TEST_CASE("AAAA answers are learned as IPv6 addresses") {
  World world;
  world.write_policy("acme.yaml", kHostPolicy);
  REQUIRE(world.start_agentd());
  DigResult aaaa = dig_in(world, kEng, {"@198.51.100.53", "api.example.test", "AAAA"});
  INFO(aaaa.raw);
  CHECK(aaaa.addresses == std::set<std::string>{"2001:db8:1::10"});
  expect_ok(world.netprobe_in_sandbox(kEng, {"connect", "tcp", "2001:db8:1::10", "443"}));
}

TEST_CASE("reverse lookups: a resolved address is answered with its name, others refused quietly", "[kernel-neutral]") {
  World world;
  world.write_policy("acme.yaml", kHostPolicy);
  REQUIRE(world.start_agentd());
  REQUIRE(dig_in(world, kEng, {"@198.51.100.53", "api.example.test"}).addresses.size() == 1);
  REQUIRE(dig_in(world, kEng, {"@198.51.100.53", "api.example.test", "AAAA"}).addresses.size() == 1);
  for (const char* address : {"198.51.100.10", "2001:db8:1::10"}) {
    DigResult ptr = dig_in(world, kEng, {"@198.51.100.53", "-x", address});
    INFO(ptr.raw);
    CHECK(ptr.status == "NOERROR");
    const auto answer = ptr.raw.find("ANSWER SECTION");
    REQUIRE(answer != std::string::npos);
    CHECK(ptr.raw.find("PTR", answer) != std::string::npos);
    CHECK(ptr.raw.find("api.example.test.", answer) != std::string::npos);
  }
  // Another sandbox never resolved it: nothing to answer; nor any address
  // nobody resolved. No request, no record: ss and curl -v ask all day.
  DigResult other = dig_in(world, "acme/eng/coder-2", {"@198.51.100.53", "-x", "198.51.100.10"});
  INFO(other.raw);
  CHECK(other.status == "NXDOMAIN");
  DigResult unknown = dig_in(world, kEng, {"@198.51.100.53", "-x", "198.51.100.66"});
  INFO(unknown.raw);
  CHECK(unknown.status == "NXDOMAIN");
  CHECK(unknown.ede.find("only for addresses this sandbox resolved") != std::string::npos);
  auto status = agentctl_json(world, {"status"});
  REQUIRE(status.is_object());
  CHECK(status["dns"]["reverse_answered"] == 2);
  CHECK(status["dns"]["reverse_refused"] == 2);
  auto requests = agentctl_json(world, {"approvals", "list"});
  REQUIRE(requests.is_array());
  CHECK(requests.empty());
  CHECK(dns_denials(world, "66.100.51.198.in-addr.arpa").empty());
  CHECK(world.stray_packets() == 0);
}

TEST_CASE("a CNAME chain is followed and its final addresses learned") {
  World world;
  world.write_policy("acme.yaml", kHostPolicy);
  REQUIRE(world.start_agentd());
  DigResult chain = dig_in(world, kEng, {"@198.51.100.53", "alias.example.test"});
  INFO(chain.raw);
  CHECK(chain.addresses == std::set<std::string>{"203.0.113.7"});
  expect_ok(world.netprobe_in_sandbox(kEng, {"connect", "tcp", "203.0.113.7", "443"}));
}

TEST_CASE("a query to any server, over UDP or TCP, IPv4 or IPv6, is answered by the proxy", "[each-kernel]") {
  World world;
  world.write_policy("acme.yaml", kHostPolicy);
  REQUIRE(world.start_agentd());
  // 203.0.113.99 runs no DNS server: only the proxy can answer.
  CHECK(dig_in(world, kEng, {"@203.0.113.99", "api.example.test"}).addresses == std::set<std::string>{"198.51.100.10"});
  DigResult tcp = dig_in(world, kEng, {"@203.0.113.99", "+tcp", "api.example.test"});
  INFO(tcp.raw);
  CHECK(tcp.addresses == std::set<std::string>{"198.51.100.10"});
  CHECK(dig_in(world, kEng, {"@203.0.113.99", "+tcp", "allowed.example.test"}).status == "NXDOMAIN");
  CHECK(world.stray_packets() == 0);
}

TEST_CASE("glibc, musl, Go and dig resolve through the proxy, with IPv4 or IPv6 nameservers", "[each-kernel]") {
  World world;
  world.write_policy("acme.yaml", kHostPolicy);
  REQUIRE(world.start_agentd());
  struct Resolver {
    const char* name;
    std::vector<std::string> argv;  // the name to resolve goes last
  };
  // glibc's resolver asks over connected UDP, musl's over unconnected UDP
  // to every nameserver (taking only answers from one of them), Go's pure
  // resolver over connected UDP from sockets of the server's family.
  const std::vector<Resolver> resolvers = {
      {"glibc", {NETPROBE_BIN, "resolve"}}, {"musl", {MUSL_RESOLVE_BIN}}, {"go", {GO_RESOLVE_BIN}}};
  for (const std::string nameserver : {"203.0.113.99", "2001:db8:2::99"}) {
    for (const auto& resolver : resolvers) {
      INFO(resolver.name << " with nameserver " << nameserver);
      auto argv = resolver.argv;
      argv.emplace_back("api.example.test");
      auto allowed = with_nameserver(world, nameserver, kEng, argv);
      INFO(allowed.describe());
      CHECK(allowed.out.find("198.51.100.10") != std::string::npos);
      CHECK(allowed.exit_code == 0);
      argv.back() = "allowed.example.test";  // outside the policy
      auto refused = with_nameserver(world, nameserver, kEng, argv);
      INFO(refused.describe());
      CHECK(refused.out.find("198.51.100.") == std::string::npos);
      CHECK(refused.exit_code != 0);
    }
  }
  // dig asks an IPv6 server from an IPv6-only socket, over UDP and TCP.
  DigResult udp = dig_in(world, kEng, {"@2001:db8:2::99", "api.example.test"});
  INFO(udp.raw);
  CHECK(udp.addresses == std::set<std::string>{"198.51.100.10"});
  DigResult tcp = dig_in(world, kEng, {"@2001:db8:2::99", "+tcp", "api.example.test"});
  INFO(tcp.raw);
  CHECK(tcp.addresses == std::set<std::string>{"198.51.100.10"});
  CHECK(dig_in(world, kEng, {"@2001:db8:2::99", "allowed.example.test"}).status == "NXDOMAIN");
  auto status = json::parse(world.agentctl({"status", "-o", "json"}).out);
  CHECK(status["dns"]["ipv6"]["sandboxes_served"].get<int>() >= 1);
  CHECK(world.stray_packets() == 0);
}

TEST_CASE("without the [::1] ports, a query to an IPv6 server that cannot detour over IPv4 is refused",
          "[each-kernel]") {
  World world;
  world.write_policy("acme.yaml", kHostPolicy);
  REQUIRE(world.start_agentd({"--dns-ipv6-port-base", "0"}));
  // glibc's dual-stack socket still reaches the proxy over IPv4 (v4-mapped).
  auto glibc = with_nameserver(world, "2001:db8:2::99", kEng, {NETPROBE_BIN, "resolve", "api.example.test"});
  INFO(glibc.describe());
  CHECK(glibc.out.find("198.51.100.10") != std::string::npos);
  // musl's unconnected send cannot be rewritten to IPv4: refused, recorded.
  auto musl = with_nameserver(world, "2001:db8:2::99", kEng, {MUSL_RESOLVE_BIN, "api.example.test"});
  INFO(musl.describe());
  CHECK(musl.exit_code != 0);
  CHECK(musl.out.empty());
  CHECK(world.wait_for_denial([](const json& d) { return d.value("reason", "") == "dns_unsupported"; }).is_object());
  // dig's IPv6-only socket cannot connect to a v4-mapped address: no answer.
  CHECK(dig_in(world, kEng, {"@2001:db8:2::99", "api.example.test"}).addresses.empty());
  CHECK(world.stray_packets() == 0);
}

TEST_CASE("an answer too large for UDP reaches the resolver whole, over TCP") {
  World world;
  world.write_policy("acme.yaml", kHostPolicy);
  REQUIRE(world.start_agentd());
  std::set<std::string> all;
  for (int i = 0; i < kBigAnswerRecords; ++i) all.insert("198.51.100." + std::to_string(100 + i));
  // Over TCP the proxy asks the upstream over TCP, so nothing is cut.
  DigResult tcp = dig_in(world, kEng, {"@203.0.113.99", "+tcp", "+noedns", "big.example.test"});
  INFO(tcp.raw);
  CHECK(tcp.addresses == all);
  // Over UDP the answer comes back truncated; dig retries over TCP as
  // resolvers do, and gets it whole.
  DigResult udp = dig_in(world, kEng, {"@203.0.113.99", "+noedns", "big.example.test"});
  INFO(udp.raw);
  CHECK(udp.addresses == all);
  CHECK(udp.raw.find("Truncated, retrying in TCP mode") != std::string::npos);
  // glibc does the same, and every address of the answer was learned.
  auto glibc = with_nameserver(world, "203.0.113.99", kEng, {NETPROBE_BIN, "resolve", "big.example.test"});
  INFO(glibc.describe());
  CHECK(glibc.out.find("198.51.100.139") != std::string::npos);
  auto explained = world.in_host({agentctl_bin(), "--socket", world.socket().string(), "policy", "explain", "--agent",
                                  kEng, "--dest", "198.51.100.139:443/tcp"});
  INFO(explained.describe());
  CHECK(explained.out.find("big.example.test") != std::string::npos);
  auto status = json::parse(world.agentctl({"status", "-o", "json"}).out);
  INFO(status["dns"].dump());
  CHECK(status["dns"]["queries"]["forwarded_tcp"].get<int>() >= 1);
  auto text = world.agentctl({"status"});
  INFO(text.describe());
  CHECK(text.out.find("dns proxy: upstream 198.51.100.53") != std::string::npos);
  CHECK(world.stray_packets() == 0);
}

TEST_CASE("an IPv6 upstream resolver serves the proxy, over UDP and TCP") {
  World world;
  world.write_policy("acme.yaml", kHostPolicy);
  REQUIRE(world.start_agentd({"--dns-upstream", "[2001:db8:1::53]:53"}));
  DigResult udp = dig_in(world, kEng, {"@203.0.113.99", "api.example.test", "AAAA"});
  INFO(udp.raw);
  CHECK(udp.addresses == std::set<std::string>{"2001:db8:1::10"});
  DigResult tcp = dig_in(world, kEng, {"@203.0.113.99", "+tcp", "+noedns", "big.example.test"});
  INFO(tcp.raw);
  CHECK(tcp.addresses.size() == static_cast<size_t>(kBigAnswerRecords));
  auto status = json::parse(world.agentctl({"status", "-o", "json"}).out);
  CHECK(status["dns"]["upstream"] == "[2001:db8:1::53]:53");
  CHECK(world.stray_packets() == 0);
}

TEST_CASE("a flood of refused names is refused in full, with a bounded number of records, none silent") {
  World world;
  world.write_policy("acme.yaml", kHostPolicy);
  REQUIRE(world.start_agentd());
  const auto queries = world.dir() / "refused.txt";
  {
    std::ofstream out(queries);
    for (int i = 0; i < 500; ++i) out << "n" << i << ".refused.test A\n";
  }
  auto flood = world.in_sandbox(kEng, {"dnsperf", "-s", "203.0.113.99", "-d", queries.string(), "-n", "1", "-q", "64"});
  INFO(flood.describe());
  CHECK(flood.out.find("Queries completed:    500") != std::string::npos);
  auto status = json::parse(world.agentctl({"status", "-o", "json"}).out);
  INFO(status["dns"].dump());
  const uint64_t refused = status["dns"]["names_refused"].get<uint64_t>();
  const uint64_t held = status["dns"]["records_held"].get<uint64_t>();
  CHECK(refused == 500);
  CHECK(held > 0);
  // Records written plus refusals held back account for every refusal.
  uint64_t recorded = 0, reported_held = 0;
  for (int i = 0; i < 100 && recorded + held < refused; ++i) {
    recorded = reported_held = 0;
    for (const auto& d : world.denials())
      if (d.value("hook", "") == "dns") {
        ++recorded;
        reported_held += d.value("suppressed_before", uint64_t{0});
      }
    if (recorded + held < refused) usleep(50'000);
  }
  CHECK(recorded + held == refused);
  CHECK(reported_held <= held);
  // At most 32 of those names wait as requests for the operators.
  auto requests = json::parse(world.agentctl({"approvals", "list", "-o", "json"}).out);
  CHECK(requests.size() <= 32);
  CHECK(!requests.empty());
}

TEST_CASE("two sandboxes with different policies asking the same name") {
  World world;
  world.write_policy("acme.yaml", kHostPolicy);
  // REFUSED instead of the default NXDOMAIN, on request.
  REQUIRE(world.start_agentd({"--dns-refusal", "refused"}));
  CHECK(dig_in(world, kEng, {"@198.51.100.53", "api.example.test"}).addresses ==
        std::set<std::string>{"198.51.100.10"});
  CHECK(dig_in(world, kOps, {"@198.51.100.53", "api.example.test"}).status == "REFUSED");
  // What eng learned is eng's: ops still cannot reach the address.
  expect_ok(world.netprobe_in_sandbox(kEng, {"connect", "tcp", "198.51.100.10", "443"}));
  expect_refused(world.netprobe_in_sandbox(kOps, {"connect", "tcp", "198.51.100.10", "443"}));
  // ops may resolve the apex its rule names, and reach it on 443 only.
  CHECK(dig_in(world, kOps, {"@198.51.100.53", "wild.example.test"}).addresses ==
        std::set<std::string>{"198.51.100.10"});
  expect_ok(world.netprobe_in_sandbox(kOps, {"connect", "tcp", "198.51.100.10", "443"}));
  expect_refused(world.netprobe_in_sandbox(kOps, {"connect", "tcp", "198.51.100.10", "80"}));
}

TEST_CASE("when the TTL runs out, new connections are denied and the denial says why") {
  World world;
  world.write_policy("acme.yaml", kHostPolicy);
  REQUIRE(world.start_agentd({"--dns-min-ttl", "1"}));
  // Resolve and connect in one sandboxed shell: starting a sandbox takes
  // seconds under emulation, longer than the name's 3 s TTL.
  auto fresh = world.in_sandbox(
      kEng, {"sh", "-c",
             "getent ahostsv4 short.example.test >/dev/null && exec " NETPROBE_BIN " connect tcp 198.51.100.20 8080"});
  expect_ok(fresh);
  usleep(3'500'000);  // past the 3 s TTL: waiting for expiry, not timing anything
  expect_refused(world.netprobe_in_sandbox(kEng, {"connect", "tcp", "198.51.100.20", "8080"}));
  auto denials = dns_denials(world, "short.example.test");
  REQUIRE_FALSE(denials.empty());
  CHECK(denials.back()["reason"] == "dns_expired");
  CHECK(denials.back()["dest"] == "198.51.100.20");
  auto explain = world.agentctl({"policy", "explain", "--agent", kEng, "--dest", "198.51.100.20:8080"});
  CHECK(explain.out.find("learned through DNS from short.example.test, but that expired") != std::string::npos);
}

TEST_CASE("a host deny beats a wider allow, and answers pointing into protected ranges are not learned") {
  World world;
  world.write_policy("acme.yaml", kHostPolicy);
  REQUIRE(world.start_agentd());
  DigResult denied = dig_in(world, kEng, {"@198.51.100.53", "other.example.test"});
  INFO(denied.raw);
  CHECK(denied.status == "NXDOMAIN");
  CHECK(denied.ede.find("Blocked") != std::string::npos);
  auto rule = dns_denials(world, "other.example.test");
  REQUIRE_FALSE(rule.empty());
  CHECK(rule[0]["reason"] == "deny_rule");

  DigResult metadata = dig_in(world, kEng, {"@198.51.100.53", "metadata.example.test"});
  INFO(metadata.raw);
  CHECK(metadata.status == "NOERROR");
  CHECK(metadata.addresses.empty());
  // Link-local is never a site: not learned even where a cidr rule would lift rebinding.
  auto link_local = dns_denials(world, "metadata.example.test");
  REQUIRE_FALSE(link_local.empty());
  CHECK(link_local[0]["reason"] == "unlearnable");
  CHECK(link_local[0]["rule"].get<std::string>().find("169.254.169.254 (metadata.example.test) is link-local") !=
        std::string::npos);
  expect_refused(world.netprobe_in_sandbox(kEng, {"connect", "tcp", "169.254.169.254", "80"}));

  DigResult private_range = dig_in(world, kEng, {"@198.51.100.53", "private.example.test"});
  INFO(private_range.raw);
  CHECK(private_range.status == "NOERROR");
  CHECK(private_range.addresses.empty());
  auto rebinding = dns_denials(world, "private.example.test");
  REQUIRE_FALSE(rebinding.empty());
  CHECK(rebinding[0]["reason"] == "rebinding");
  CHECK(rebinding[0]["rule"].get<std::string>().find("10.0.0.0/8") != std::string::npos);
}

TEST_CASE("malformed queries get FORMERR or nothing, and the proxy keeps answering", "[kernel-neutral]") {
  World world;
  world.write_policy("acme.yaml", kHostPolicy);
  REQUIRE(world.start_agentd());
  // netprobe sends "ping" (4 bytes, no DNS header) to port 53: redirected, dropped.
  world.netprobe_in_sandbox(kEng, {"sendto", "udp", "198.51.100.53", "53"});
  world.netprobe_in_sandbox(kEng, {"connect", "udp", "203.0.113.7", "53"});
  CHECK(dig_in(world, kEng, {"@198.51.100.53", "api.example.test"}).addresses ==
        std::set<std::string>{"198.51.100.10"});
  auto status = json::parse(world.agentctl({"status", "-o", "json"}).out);
  INFO(status["dns"].dump());
  CHECK(status["dns"]["queries"]["malformed"].get<int>() >= 2);
  CHECK(status["dns"]["queries"]["answered"].get<int>() >= 1);
}

TEST_CASE("the proxy's sandbox addresses cannot be reached directly", "[each-kernel]") {
  World world;
  // Loopback allowed outright: only the proxy check stands in the way.
  world.write_policy("acme.yaml", std::string(kHostPolicy) + R"(  - agents: "acme/eng/*"
    allow:
      - cidr: 127.0.0.0/8
      - cidr: ::1/128
      - cidr: 0.0.0.0/32
      - cidr: ::/128
)");
  // The sandboxes stay for the whole test: ops runs nothing after its
  // first command, and a retired sandbox's port is no longer the proxy's
  // (under emulation this test outlasts the default 30 s grace).
  REQUIRE(world.start_agentd({"--retire-grace", "1h"}));
  // eng is slot 1, ops slot 2 (sandboxes get the lowest free slot).
  REQUIRE(world.in_sandbox(kEng, {"true"}).exit_code == 0);
  REQUIRE(world.in_sandbox(kOps, {"true"}).exit_code == 0);
  // Asking in ops' name by aiming at its address, or for IPv6 at its port
  // on ::1 (the base is 16384); or through the unspecified address, which
  // the kernel delivers to loopback: [::] at ops' port, 0.0.0.0 (also
  // v4-mapped) at the proxy's.
  const std::vector<std::pair<std::string, std::string>> others = {
      {"127.64.0.2", "1053"}, {"::1", "16386"}, {"::", "16386"}, {"0.0.0.0", "1053"}, {"::ffff:0.0.0.0", "1053"}};
  // Nor take the proxy's place by binding there: its sandbox addresses,
  // its port on any address, the IPv6 range on ::1 or ::.
  const std::vector<std::pair<std::string, std::string>> squats = {
      {"127.64.0.2", "1053"}, {"127.64.0.2", "80"}, {"127.0.0.1", "1053"}, {"0.0.0.0", "1053"},
      {"::1", "16386"},       {"::", "16386"},      {"::", "1053"},        {"::1", "16390"}};
  for (const auto& [address, port] : squats) {
    INFO("bind " << address << " port " << port);
    for (const char* proto : {"udp", "tcp"}) {
      auto bound = world.netprobe_in_sandbox(kEng, {"bind", proto, address, port});
      INFO(bound.describe());
      CHECK(bound.out.find("\"error\":\"EPERM\"") != std::string::npos);
    }
  }
  // What is not the proxy's stays the sandbox's to bind.
  expect_ok(world.netprobe_in_sandbox(kEng, {"bind", "udp", "127.0.0.1", "5300"}));
  expect_ok(world.netprobe_in_sandbox(kEng, {"bind", "udp", "::1", "16000"}));
  // A port of the range that serves no sandbox is the policy's to judge.
  expect_refused(world.netprobe_in_sandbox(kEng, {"connect", "tcp", "::1", "16390"}), "ECONNREFUSED");
  for (const auto& [address, port] : others) {
    INFO(address << " port " << port);
    expect_refused(world.netprobe_in_sandbox(kEng, {"connect", "udp", address, port}));
    expect_refused(world.netprobe_in_sandbox(kEng, {"connect", "tcp", address, port}));
    expect_refused(world.netprobe_in_sandbox(kEng, {"sendto", "udp", address, port}));
    CHECK(world
              .wait_for_denial([&address = address](const json& d) {  // clang 14 captures no structured binding
                return d.value("reason", "") == "proxy_spoof" &&
                       (d.value("dest", "") == address || "::ffff:" + d.value("dest", "") == address);
              })
              .is_object());
  }
  // The proxy still serves both sandboxes.
  CHECK(dig_in(world, kEng, {"@198.51.100.53", "api.example.test"}).addresses ==
        std::set<std::string>{"198.51.100.10"});
  CHECK(dig_in(world, kOps, {"@198.51.100.53", "wild.example.test"}).addresses ==
        std::set<std::string>{"198.51.100.10"});
}

TEST_CASE("a reload forgets learned addresses the new policy no longer allows") {
  World world;
  world.write_policy("acme.yaml", kHostPolicy);
  REQUIRE(world.start_agentd({"--no-watch"}));
  CHECK(dig_in(world, kEng, {"@198.51.100.53", "api.example.test"}).addresses ==
        std::set<std::string>{"198.51.100.10"});
  expect_ok(world.netprobe_in_sandbox(kEng, {"connect", "tcp", "198.51.100.10", "443"}));
  std::string narrower = kHostPolicy;
  narrower.replace(narrower.find("      - host: api.example.test\n        ports: [443, 80]\n"),
                   std::string("      - host: api.example.test\n        ports: [443, 80]\n").size(),
                   "      - host: api.example.test\n        ports: [80]\n");
  world.write_policy("acme.yaml", narrower);
  REQUIRE(world.agentctl({"policy", "apply"}).exit_code == 0);
  expect_refused(world.netprobe_in_sandbox(kEng, {"connect", "tcp", "198.51.100.10", "443"}));
  expect_ok(world.netprobe_in_sandbox(kEng, {"connect", "tcp", "198.51.100.10", "80"}));
  std::string without = kHostPolicy;
  without.replace(without.find("      - host: api.example.test\n        ports: [443, 80]\n"),
                  std::string("      - host: api.example.test\n        ports: [443, 80]\n").size(), "");
  world.write_policy("acme.yaml", without);
  REQUIRE(world.agentctl({"policy", "apply"}).exit_code == 0);
  expect_refused(world.netprobe_in_sandbox(kEng, {"connect", "tcp", "198.51.100.10", "80"}));
}

TEST_CASE("started where resolv.conf names no nameserver, agentd enforces, refuses names, then follows it",
          "[kernel-neutral]") {
  World world;
  world.write_policy("acme.yaml", kHostPolicy);
  const auto conf = world.dir() / "host-resolv.conf";
  std::ofstream(conf) << "# no nameserver yet (DHCP has not answered)\n";
  INFO(world.agentd_log());
  REQUIRE(world.start_agentd({"--resolv-conf", conf.string()}));
  auto status = agentctl_json(world, {"status"});
  REQUIRE(status.is_object());
  CHECK(status["dns"]["upstream"].is_null());
  CHECK(status["dns"]["no_upstream"].get<std::string>().find("names no nameserver") != std::string::npos);
  // Enforcing all the same: the default deny holds...
  expect_refused(world.netprobe_in_sandbox(kEng, {"connect", "tcp", "198.51.100.10", "443"}));
  // ...and an allowed name fails closed, said and recorded.
  DigResult early = dig_in(world, kEng, {"@198.51.100.53", "api.example.test"});
  INFO(early.raw);
  CHECK(early.status == "SERVFAIL");
  CHECK(early.addresses.empty());
  CHECK(early.ede.find("no upstream resolver yet") != std::string::npos);
  auto records = dns_denials(world, "api.example.test");
  REQUIRE_FALSE(records.empty());
  CHECK(records[0]["reason"] == "no_upstream");
  // The operator's view says it in words, not as a bare "-".
  auto human = world.agentctl({"status"});
  INFO(human.out);
  CHECK(human.out.find("upstream none (") != std::string::npos);
  CHECK(human.out.find("names no nameserver") != std::string::npos);
  CHECK(human.out.find("allowed names refused)") != std::string::npos);

  // The nameserver appears: agentd follows (its maintenance timer reads the file).
  std::ofstream(conf) << "nameserver 198.51.100.53\n";
  bool following = false;
  for (int i = 0; i < 300 && !following; ++i) {
    auto now = agentctl_json(world, {"status"});
    following = now.is_object() && now["dns"]["upstream"] == "198.51.100.53";
    if (!following) usleep(50'000);
  }
  REQUIRE(following);
  auto resolved = world.netprobe_in_sandbox(kEng, {"resolve", "api.example.test", "443"});
  expect_ok(resolved);
  CHECK(resolved.out.find("198.51.100.10") != std::string::npos);

  // ...and goes: closed again, never a stale upstream.
  std::ofstream(conf) << "# the lease ended\n";
  bool closed = false;
  for (int i = 0; i < 300 && !closed; ++i) {
    auto now = agentctl_json(world, {"status"});
    closed = now.is_object() && now["dns"]["upstream"].is_null();
    if (!closed) usleep(50'000);
  }
  REQUIRE(closed);
  DigResult late = dig_in(world, kEng, {"@198.51.100.53", "api.example.test"});
  INFO(late.raw);
  CHECK(late.status == "SERVFAIL");
  CHECK(late.addresses.empty());
  CHECK(world.stray_packets() == 0);
}

// The names behind learned addresses are kept in the store (schema 2),
// across a restart; an older agentd's learned.json is moved in once, and
// wins (it was written after the store last was).
TEST_CASE(
    "the names of learned addresses survive a restart, and an older agentd's learned.json is moved into the store",
    "[kernel-neutral]") {
  World world;
  world.write_policy("acme.yaml", kHostPolicy);
  REQUIRE(world.start_agentd());
  CHECK(dig_in(world, kEng, {"@198.51.100.53", "api.example.test"}).addresses ==
        std::set<std::string>{"198.51.100.10"});
  auto explain = [&] {
    auto result = world.agentctl({"policy", "explain", "--agent", kEng, "--dest", "198.51.100.10:443"});
    INFO(result.describe());
    return result.out;
  };
  CHECK(explain().find("learned through DNS from api.example.test") != std::string::npos);
  world.kill_agentd(SIGTERM);
  REQUIRE(world.start_agentd());
  CHECK(explain().find("learned through DNS from api.example.test") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(world.state_dir() / "learned.json"));

  // An older agentd ran meanwhile and saved its names as a file (a name the
  // policy allows: what it no longer allows is removed on the way in).
  const auto sandboxes = json::parse(world.agentctl({"sandbox", "list", "-o", "json"}).out);
  uint32_t slot = 0;
  for (const auto& s : sandboxes)
    if (s["agent"] == kEng) slot = s["slot"].get<uint32_t>();
  REQUIRE(slot != 0);
  world.kill_agentd(SIGTERM);
  std::ofstream(world.state_dir() / "learned.json")
      << json{{std::to_string(slot) + "/4/198.51.100.10", "alias.example.test"}}.dump();
  REQUIRE(world.start_agentd());
  INFO(world.agentd_log());
  CHECK(explain().find("learned through DNS from alias.example.test") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(world.state_dir() / "learned.json"));
  CHECK(world.agentd_log().find("learned names moved into the store") != std::string::npos);
}
