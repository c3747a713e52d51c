// The cost of counting bytes per sandbox (issue 16, item 2; not a test):
// bulk TCP (one HTTP request, then MiB after MiB in 64 KiB writes, to a
// server in the test world's "internet" ns) from a sandbox, where the skb
// programs count every packet, against the same from outside any sandbox,
// rounds interleaved in one run; goal: throughput ratio >= 0.97. Then the
// bytes status counted for the sandbox against what it sent.
//
//   build/tests/bench/bench_traffic [rounds] [MiB per round]
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_stats.hpp"
#include "world.hpp"

using namespace agentd::bench;
using namespace agentd::e2e;

namespace {

constexpr const char* kPort = "8089";
constexpr const char* kAddr = "203.0.113.7";

const char* kPolicy = R"(apiVersion: agentd/v1
tenant: bench
rules:
  - agents: "bench/*/*"
    allow:
      - cidr: 203.0.113.7/32
        ports: [8089]
)";

}  // namespace

// A benchmark that throws ends with std::terminate's message, which is enough.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  const int rounds = argc > 1 ? static_cast<int>(std::strtol(argv[1], nullptr, 10)) : 15;
  const std::string mib = argc > 2 ? argv[2] : "256";
  const std::string agent = "bench/t/runner";

  World world;
  world.write_policy("bench.yaml", kPolicy);
  if (!world.start_agentd({"--retire-grace", "1h"})) {
    std::fprintf(stderr, "agentd did not start:\n%s\n", world.agentd_log().c_str());
    return 1;
  }
  world.serve_in_net({WEBPROBE_BIN, "serve", kPort}, "web");
  std::vector<double> inside, outside;
  for (int r = 0; r < rounds; ++r)
    for (int side = 0; side < 2; ++side) {
      const bool sandboxed = (r + side) % 2 == 0;  // alternate who goes first
      const std::vector<std::string> argv = {WEBPROBE_BIN, "bulk", kAddr, kPort, kAddr, mib};
      (sandboxed ? inside : outside)
          .push_back(ns_per_op(sandboxed ? world.in_sandbox(agent, argv) : world.in_host(argv)));
    }
  const auto listed = world.agentctl({"sandbox", "list", "-o", "json"});
  uint64_t sent = 0, received = 0, packets = 0;
  for (const auto& s : nlohmann::json::parse(listed.out, nullptr, false))
    if (s.is_object() && s.value("agent", "") == agent) {
      sent = s["traffic"]["sent"]["by_class"]["rule"].get<uint64_t>();
      received = s["traffic"]["received"]["by_class"]["rule"].get<uint64_t>();
      packets = s["traffic"]["sent"]["packets"].get<uint64_t>();
    }
  const double in = median(inside), out = median(outside);
  const double payload = static_cast<double>(rounds) * std::strtod(mib.c_str(), nullptr) * 1024 * 1024;
  std::printf("agentd bytes-per-sandbox benchmark: %d rounds of %s MiB, medians\n", rounds, mib.c_str());
  std::printf("  bulk TCP: in a sandbox %.0f MiB/s, outside %.0f MiB/s, throughput ratio %.3f (goal >= 0.97)\n",
              1e9 / in, 1e9 / out, out / in);
  std::printf("  counted for the sandbox: sent %.1f MiB in %llu packets (payload %.1f MiB: %.4f), received %.1f MiB\n",
              sent / 1048576.0, static_cast<unsigned long long>(packets), payload / 1048576.0, sent / payload,
              received / 1048576.0);
  return 0;
}
