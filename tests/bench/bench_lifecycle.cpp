// The sandbox life cycle benchmark of issue 14 (not a test): one short
// `agentctl run` per task, each in a sandbox of its own (a new agent name
// every time), as a host that runs one sandbox per task does. With a pool
// of slots far smaller than the runs, every slot is retired and reused many
// times over: no run may fail for want of a slot, and agentd's memory must
// stay flat (its RSS at the end against after the first tenth).
//
//   build/tests/bench/bench_lifecycle [runs] [slots]     (default 20000 256)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench_stats.hpp"
#include "world.hpp"

using namespace agentd::bench;
using namespace agentd::e2e;
using nlohmann::json;

// A benchmark that throws ends with std::terminate's message, which is enough.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  const int runs = argc > 1 ? static_cast<int>(std::strtol(argv[1], nullptr, 10)) : 20000;
  const std::string slots = argc > 2 ? argv[2] : "256";

  World world;
  world.write_policy("bench.yaml", R"(apiVersion: agentd/v1
tenant: bench
rules:
  - agents: "bench/*/*"
    allow:
      - cidr: 198.51.100.20/32
        ports: [80]
)");
  if (!world.start_agentd({"--retire-grace", "1s", "--max-sandboxes", slots})) {
    std::fprintf(stderr, "agentd did not start:\n%s\n", world.agentd_log().c_str());
    return 1;
  }
  const auto started = std::chrono::steady_clock::now();
  long rss_warm = 0;
  int failed = 0;
  size_t most_live = 0;
  std::string first_failure;
  for (int i = 0; i < runs; ++i) {
    auto r = world.agentctl({"run", "--agent", fmt::format("bench/tasks/t{}", i), "--", "/bin/true"});
    if (r.exit_code != 0 && ++failed == 1) first_failure = r.describe();
    if (i == runs / 10) rss_warm = status_kb(world.agentd_pid(), "VmRSS:");
    if (i % 500 == 0) {
      auto list = world.agentctl({"sandbox", "list", "-o", "json"});
      if (list.exit_code == 0) most_live = std::max(most_live, json::parse(list.out).size());
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const long rss_end = status_kb(world.agentd_pid(), "VmRSS:");
  const long hwm = status_kb(world.agentd_pid(), "VmHWM:");
  auto status = json::parse(world.agentctl({"status", "-o", "json"}).out);
  std::printf("agentd sandbox life cycle benchmark: %d runs, each in a new sandbox, %s slots\n", runs, slots.c_str());
  std::printf("  runs failed: %d (goal 0)%s%s\n", failed, failed ? "; the first: " : "", first_failure.c_str());
  std::printf("  %.1f runs a second; at most %zu sandboxes alive at a sample (retired %s after their last process)\n",
              runs / seconds, most_live, "1 s + the 5 s sweep");
  std::printf("  agentd RSS: %ld kB after %d runs, %ld kB at the end: ratio %.3f (goal <= 1.10, flat); peak %ld kB\n",
              rss_warm, runs / 10, rss_end, rss_warm > 0 ? static_cast<double>(rss_end) / rss_warm : 0.0, hwm);
  std::printf("  sandboxes now: %zu; loop failures: %s\n", status.value("sandbox_count", size_t{0}),
              status.value("loop_failures", json(0)).dump().c_str());
  return failed == 0 ? 0 : 1;
}
