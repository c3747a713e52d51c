// The egress benchmark of issues 2 and 15 (not a test): with 100,000 rules
// of random prefixes loaded for the sandbox, four loops on loopback, each
// run three ways, rounds interleaved in one run:
//
//   outside      outside any sandbox: the baseline;
//   hooks only   in the sandbox's cgroup, no profile: what agentd's BPF
//                programs add (sock_create, connect/sendmsg, the packet
//                path, sockops);
//   agentctl run the sandbox as an agent gets it: the hooks plus the
//                default profile's seccomp filter and Landlock;
//   nftables     the wall a user would build without agentd: a cgroup of
//                its own matched by `socket cgroupv2` against the same
//                rules in one interval set (nftables_wall.hpp), the rest
//                of that cgroup's traffic dropped.
//
// The loops: TCP connect+accept+close (to a server outside the sandbox),
// unconnected UDP sendto (to a sink that answers nothing), and
// socket()+close() for TCP and for UDP. Medians per way and their ratios
// against outside; goals (issue 15) for the agentctl run column.
//
//   build/tests/bench/bench_egress [rounds] [connects] [sendtos] [sockets]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench_policy.hpp"
#include "bench_stats.hpp"
#include "nftables_wall.hpp"
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

enum Way { kOutside, kHooks, kRun, kNftables, kWays };
constexpr const char* kWayNames[kWays] = {"outside", "hooks_only", "agentctl_run", "nftables"};

struct Loop {
  const char* name;   // in the JSON report
  const char* label;  // in the table
  std::vector<std::string> args;
  double goal;  // for the agentctl run ratio
  std::vector<double> ns[kWays];
};

struct NftablesWall {
  std::filesystem::path cgroup;
  size_t elements;  // the set's: prefixes no other prefix contains, and the loopback ports
  double load_ms;   // nft -f, the whole table
};

// The nftables wall on the same rules, for a cgroup of its own; checked to
// drop what it does not allow before anything is measured behind it.
NftablesWall build_nftables_wall(World& world) {
  const auto cgroup = world.make_foreign_cgroup("nftables");
  const auto script = world.dir() / "wall.nft";
  const auto prefixes = random_prefixes(kRules - 1);
  std::ofstream(script) << nftables_wall(world.cgroup2_mount(), cgroup, prefixes);
  const auto start = std::chrono::steady_clock::now();
  auto loaded = world.in_host({"nft", "-f", script.string()});
  const std::chrono::duration<double, std::milli> load_time = std::chrono::steady_clock::now() - start;
  if (loaded.exit_code != 0) throw std::runtime_error("nft -f wall.nft: " + loaded.describe());
  // A datagram to a port no rule allows: sent unless the wall drops it (a
  // dropped datagram fails with EPERM at once; a dropped SYN is retried).
  auto denied = world.netprobe_in_cgroup(cgroup, {"sendto", "udp", "127.0.0.1", "7072"});
  if (denied.out.find("\"error\":\"EPERM\"") == std::string::npos)
    throw std::runtime_error("the nftables wall let through what it should drop: " + denied.describe());
  return {cgroup, outermost_prefixes(prefixes).size() + 1, load_time.count()};
}

}  // namespace

// A benchmark that throws ends with std::terminate's message, which is enough.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  const int rounds = argc > 1 ? static_cast<int>(std::strtol(argv[1], nullptr, 10)) : 21;
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
  const auto wall = build_nftables_wall(world);

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
      case kNftables:
        return world.netprobe_in_cgroup(wall.cgroup, args);
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
  std::printf("  nftables wall: %zu set elements (the prefixes no other contains), loaded in %.0f ms\n", wall.elements,
              wall.load_ms);
  std::printf("  %-26s %9s %11s %13s %9s %9s %8s %8s %6s\n", "ns per operation", "outside", "hooks only",
              "agentctl run", "nftables", "hooks/out", "run/out", "nft/out", "goal");
  json report = {{"rules", kRules},
                 {"rounds", rounds},
                 {"load", load},
                 {"nftables", {{"elements", wall.elements}, {"load_ms", wall.load_ms}}}};
  for (const auto& loop : loops) {
    double m[kWays];
    for (int w = 0; w < kWays; ++w) m[w] = median(loop.ns[w]);
    std::printf("  %-26s %9.0f %11.0f %13.0f %9.0f %9.3f %8.3f %8.3f %6.2f\n", loop.label, m[kOutside], m[kHooks],
                m[kRun], m[kNftables], m[kHooks] / m[kOutside], m[kRun] / m[kOutside], m[kNftables] / m[kOutside],
                loop.goal);
    json entry;
    for (int w = 0; w < kWays; ++w) entry[kWayNames[w]] = m[w];
    entry["ratio_hooks_only"] = m[kHooks] / m[kOutside];
    entry["ratio_agentctl_run"] = m[kRun] / m[kOutside];
    entry["ratio_nftables"] = m[kNftables] / m[kOutside];
    entry["goal"] = loop.goal;
    report[loop.name] = entry;
  }
  std::printf("%s\n", report.dump().c_str());
  return 0;
}
