// The egress benchmark of issues 2 and 15 (not a test): with 100,000 rules
// of random prefixes loaded for the sandbox, four loops on loopback, each
// run three ways, rounds interleaved in one run:
//
//   outside      outside any sandbox: the baseline;
//   hooks only   in the sandbox's cgroup, no profile: what agentd's BPF
//                programs add (sock_create, connect/sendmsg, the packet
//                path, sockops);
//   agentctl run the sandbox as an agent gets it: the hooks plus the
//                default profile's seccomp filter and Landlock.
//
// The loops: TCP connect+accept+close (to a server outside the sandbox),
// unconnected UDP sendto (to a sink that answers nothing), and
// socket()+close() for TCP and for UDP. Medians per way and their ratios
// against outside; goals (issue 15) for the agentctl run column.
//
//   build/tests/bench/bench_egress [rounds] [connects] [sendtos] [sockets]
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench_policy.hpp"
#include "bench_stats.hpp"
#include "world.hpp"

using namespace agentd::bench;
using namespace agentd::e2e;
using nlohmann::json;

namespace {

constexpr int kRules = 100000;
constexpr const char* kAgent = "bench/b/runner";

std::string big_policy() {
  return "apiVersion: agentd/v1\ntenant: bench\nrules:\n  - agents: \"bench/*/*\"\n    allow:\n" +
         random_prefix_rules(kRules - 1) +
         "      - cidr: 127.0.0.1/32\n        ports: [7070, 7071]\n";  // the loopback server and sink
}

enum Way { kOutside, kHooks, kRun, kWays };
constexpr const char* kWayNames[kWays] = {"outside", "hooks_only", "agentctl_run"};

struct Loop {
  const char* name;   // in the JSON report
  const char* label;  // in the table
  std::vector<std::string> args;
  double goal;  // for the agentctl run ratio
  std::vector<double> ns[kWays];
};

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 21;
  const std::string connects = argc > 2 ? argv[2] : "2000";
  const std::string sendtos = argc > 3 ? argv[3] : "20000";
  const std::string sockets = argc > 4 ? argv[4] : "20000";

  World world;
  world.write_policy("bench.yaml", big_policy());
  if (!world.start_agentd()) {
    std::fprintf(stderr, "agentd did not start:\n%s\n", world.agentd_log().c_str());
    return 1;
  }
  // The first run creates the sandbox: 100,000 rules compiled and written.
  auto first = world.agentctl({"run", "--agent", kAgent, "--", "true"});
  if (first.exit_code != 0) {
    std::fprintf(stderr, "%s\n", first.describe().c_str());
    return 1;
  }
  auto status = json::parse(world.agentctl({"status", "-o", "json"}).out);
  const json load = status["policy"]["largest_class_write"];
  const auto cgroup = world.cgroup_root() / "bench" / "b" / "runner";

  std::vector<Loop> loops = {
      {"connect", "TCP connect+accept+close", {"bench", "connect", "127.0.0.1", "7070", connects}, 1.02, {}},
      {"sendto", "UDP sendto, unconnected", {"bench", "sendto", "127.0.0.1", "7071", sendtos}, 1.05, {}},
      {"socket_tcp", "TCP socket()+close()", {"bench", "socket", "127.0.0.1", "0", sockets}, 1.05, {}},
      {"socket_udp", "UDP socket()+close()", {"bench", "socket-udp", "127.0.0.1", "0", sockets}, 1.05, {}},
  };
  auto run = [&](Way way, const std::vector<std::string>& args) {
    switch (way) {
      case kOutside:
        return world.netprobe_outside(args);
      case kHooks:
        return world.netprobe_in_cgroup(cgroup, args);
      default:
        return world.netprobe_in_sandbox(kAgent, args);
    }
  };
  for (int r = 0; r < rounds; ++r) {
    // Rotate which way goes first, so drift hits all alike.
    for (int i = 0; i < kWays; ++i) {
      const Way way = static_cast<Way>((r + i) % kWays);
      for (auto& loop : loops) loop.ns[way].push_back(ns_per_op(run(way, loop.args)));
    }
  }

  std::printf("agentd egress benchmark: %d rules (random /8-/32) for the sandbox, %d rounds, medians\n", kRules,
              rounds);
  std::printf("  rules loaded: %zu trie entries, compiled in %.0f ms, written to the maps in %.0f ms\n",
              load["entries"].get<size_t>(), load["compile_ms"].get<double>(), load["write_ms"].get<double>());
  std::printf("  %-26s %9s %11s %13s %9s %8s %6s\n", "ns per operation", "outside", "hooks only", "agentctl run",
              "hooks/out", "run/out", "goal");
  json report = {{"rules", kRules}, {"rounds", rounds}, {"load", load}};
  for (const auto& loop : loops) {
    double m[kWays];
    for (int w = 0; w < kWays; ++w) m[w] = median(loop.ns[w]);
    std::printf("  %-26s %9.0f %11.0f %13.0f %9.3f %8.3f %6.2f\n", loop.label, m[kOutside], m[kHooks], m[kRun],
                m[kHooks] / m[kOutside], m[kRun] / m[kOutside], loop.goal);
    json entry;
    for (int w = 0; w < kWays; ++w) entry[kWayNames[w]] = m[w];
    entry["ratio_hooks_only"] = m[kHooks] / m[kOutside];
    entry["ratio_agentctl_run"] = m[kRun] / m[kOutside];
    entry["goal"] = loop.goal;
    report[loop.name] = entry;
  }
  std::printf("%s\n", report.dump().c_str());
  return 0;
}
