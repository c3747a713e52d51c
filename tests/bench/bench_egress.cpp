// The egress benchmark of issue 2 (not a test): with 100,000 CIDR rules
// loaded for the sandbox, a loop of TCP connect+accept+close on loopback
// and a loop of unconnected UDP sendto, inside the sandbox and outside any
// sandbox, interleaved round by round in one run; medians and their ratio.
// Also: how long the 100,000 rules took to compile and load into the maps.
//
//   build/tests/bench/bench_egress [rounds] [connects per round] [sendtos per round]
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench_stats.hpp"
#include "world.hpp"

using namespace agentd::bench;
using namespace agentd::e2e;
using nlohmann::json;

namespace {

constexpr int kRules = 100000;

std::string big_policy() {
  // 100,000 CIDR rules: /32s and /24s spread over 10.0.0.0/8 (no traffic
  // goes there; they only fill the trie), plus the loopback test service.
  std::string text = "apiVersion: agentd/v1\ntenant: bench\nrules:\n  - agents: \"bench/*/*\"\n    allow:\n";
  text.reserve(kRules * 40);
  for (int i = 0; i < kRules - 1; ++i) {
    const int j = i / 2;  // 50,000 of each, all distinct
    if (i % 2) text += fmt::format("      - cidr: 10.{}.{}.0/24\n", j >> 8, j & 0xff);
    else text += fmt::format("      - cidr: 10.200.{}.{}/32\n", j >> 8, j & 0xff);
  }
  text += "      - cidr: 127.0.0.1/32\n        ports: [7070]\n";
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 21;
  const std::string connects = argc > 2 ? argv[2] : "2000";
  const std::string sendtos = argc > 3 ? argv[3] : "20000";

  World world;
  world.write_policy("bench.yaml", big_policy());
  if (!world.start_agentd()) {
    std::fprintf(stderr, "agentd did not start:\n%s\n", world.agentd_log().c_str());
    return 1;
  }
  const std::string agent = "bench/b/runner";
  // The first run creates the sandbox: 100,000 rules compiled and written.
  auto first = world.agentctl({"run", "--agent", agent, "--", "true"});
  if (first.exit_code != 0) {
    std::fprintf(stderr, "%s\n", first.describe().c_str());
    return 1;
  }
  auto status = json::parse(world.agentctl({"status", "-o", "json"}).out);
  const json load = status["policy"]["largest_class_write"];

  std::vector<double> connect_in, connect_out, sendto_in, sendto_out;
  for (int r = 0; r < rounds; ++r) {
    // Alternate which side goes first, so drift hits both alike.
    for (int side = 0; side < 2; ++side) {
      const bool inside = (r + side) % 2 == 0;
      auto run = [&](std::vector<std::string> args) {
        return inside ? world.netprobe_in_sandbox(agent, args) : world.netprobe_outside(args);
      };
      (inside ? connect_in : connect_out).push_back(ns_per_op(run({"bench", "connect", "127.0.0.1", "7070", connects})));
      (inside ? sendto_in : sendto_out).push_back(ns_per_op(run({"bench", "sendto", "127.0.0.1", "7070", sendtos})));
    }
  }
  const double ci = median(connect_in), co = median(connect_out), si = median(sendto_in), so = median(sendto_out);
  std::printf("agentd egress benchmark: %d CIDR rules for the sandbox, %d rounds, medians\n", kRules, rounds);
  std::printf("  rules loaded: %zu trie entries, compiled in %.0f ms, written to the maps in %.0f ms (goal < 1000 ms)\n",
              load["entries"].get<size_t>(), load["compile_ms"].get<double>(), load["write_ms"].get<double>());
  std::printf("  TCP connect+accept+close, loopback: inside %.0f ns, outside %.0f ns, ratio %.3f (goal <= 1.05)\n", ci,
              co, ci / co);
  std::printf("  UDP sendto, unconnected:            inside %.0f ns, outside %.0f ns, ratio %.3f (goal <= 1.10)\n", si,
              so, si / so);
  json report = {{"rules", kRules},
                 {"rounds", rounds},
                 {"load", load},
                 {"connect_ns", {{"inside", ci}, {"outside", co}, {"ratio", ci / co}}},
                 {"sendto_ns", {{"inside", si}, {"outside", so}, {"ratio", si / so}}}};
  std::printf("%s\n", report.dump().c_str());
  return 0;
}
