// The name check's benchmark (issue 13; not a test): what verifying the
// name on a connection's first bytes costs, against a connection that a
// CIDR rule allows and nobody verifies, from the same sandbox in the same
// run, rounds interleaved.
//  - setup: connect, one HTTP request with its Host, its answer, close
//    (the verified side runs sockops, the sockhash and sk_msg's parse);
//    goal: verified / CIDR <= 1.10;
//  - bulk: one request, then MiB after MiB on the verified connection,
//    which has left the sockhash by then; goal: throughput >= 0.97.
// The server (webprobe serve) runs in the test world's "internet" ns.
//
//   build/tests/bench/bench_names [rounds] [requests per round] [MiB per round]
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_stats.hpp"
#include "world.hpp"

using namespace agentd::bench;
using namespace agentd::e2e;

namespace {

constexpr const char* kPort = "8088";
constexpr const char* kName = "api.example.test";    // the world's DNS: 198.51.100.10
constexpr const char* kNamedAddr = "198.51.100.10";  // reached only through the host rule
constexpr const char* kCidrAddr = "203.0.113.7";     // reached through the CIDR rule

const char* kPolicy = R"(apiVersion: agentd/v1
tenant: bench
rules:
  - agents: "bench/*/*"
    allow:
      - host: api.example.test
        ports: [8088]
      - cidr: 203.0.113.7/32
        ports: [8088]
)";

}  // namespace

// A benchmark that throws ends with std::terminate's message, which is enough.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  const int rounds = argc > 1 ? static_cast<int>(std::strtol(argv[1], nullptr, 10)) : 15;
  const std::string requests = argc > 2 ? argv[2] : "500";
  const std::string mib = argc > 3 ? argv[3] : "256";
  const std::string agent = "bench/n/runner";

  World world;
  world.write_policy("bench.yaml", kPolicy);
  if (!world.start_agentd()) {
    std::fprintf(stderr, "agentd did not start:\n%s\n", world.agentd_log().c_str());
    return 1;
  }
  world.serve_in_net({WEBPROBE_BIN, "serve", kPort}, "web");
  std::vector<double> setup_named, setup_cidr, bulk_named, bulk_cidr;
  for (int r = 0; r < rounds; ++r) {
    // The name's address is learned (TTL 300 s) through agentd's DNS.
    auto learned = world.in_sandbox(agent, {"dig", "+short", "+tries=1", kName});
    if (learned.out.find(kNamedAddr) == std::string::npos) {
      std::fprintf(stderr, "%s did not resolve in the sandbox:\n%s\n", kName, learned.describe().c_str());
      return 1;
    }
    for (int side = 0; side < 2; ++side) {
      const bool named = (r + side) % 2 == 0;  // alternate who goes first
      const std::string addr = named ? kNamedAddr : kCidrAddr;
      auto probe = [&](const std::string& what, const std::string& count) {
        return ns_per_op(world.in_sandbox(agent, {WEBPROBE_BIN, what, addr, kPort, kName, count}));
      };
      (named ? setup_named : setup_cidr).push_back(probe("requests", requests));
      (named ? bulk_named : bulk_cidr).push_back(probe("bulk", mib));
    }
  }
  const auto status = world.agentctl({"status", "-o", "json"});
  const double sn = median(setup_named), sc = median(setup_cidr), bn = median(bulk_named), bc = median(bulk_cidr);
  std::printf("agentd name check benchmark: %d rounds, medians, one sandbox\n", rounds);
  std::printf(
      "  connect + request + answer + close: verified name %.0f ns, CIDR rule %.0f ns, ratio %.3f "
      "(goal <= 1.10)\n",
      sn, sc, sn / sc);
  std::printf(
      "  bulk TCP after the check: verified %.0f MiB/s, CIDR %.0f MiB/s, throughput ratio %.3f "
      "(goal >= 0.97)\n",
      1e9 / bn, 1e9 / bc, bc / bn);
  const bool counted = status.out.find("\"verified\"") != std::string::npos;
  if (!counted) std::printf("  (status shows no name counts: was the check on?)\n");
  return 0;
}
