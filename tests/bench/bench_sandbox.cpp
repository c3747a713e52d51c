// The sandbox profile benchmark of issue 7 (not a test): a loop of
// open+read+close of a file and a loop of getppid, in the sandbox's cgroup
// with no profile (the baseline) and under `agentctl run` with the default
// profile (seccomp default profile, no_new_privs, capabilities dropped,
// Landlock scoping), interleaved round by round in one run; medians and
// ratios. Also, for information: the floor, the baseline under a
// one-instruction allow-all seccomp filter (any filter moves every syscall
// to the kernel's slow entry path; our filter's own cost is the rest), and
// a profile with files confined (Landlock checks every open).
//
//   build/tests/bench/bench_sandbox [rounds] [opens per round] [getppids per round]
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench_stats.hpp"
#include "world.hpp"

using namespace agentd::bench;
using namespace agentd::e2e;
using nlohmann::json;

// A benchmark that throws ends with std::terminate's message, which is enough.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  const int rounds = argc > 1 ? static_cast<int>(std::strtol(argv[1], nullptr, 10)) : 21;
  const std::string opens = argc > 2 ? argv[2] : "20000";
  const std::string getppids = argc > 3 ? argv[3] : "200000";

  World world;
  const std::string file = (world.dir() / "data" / "bench.txt").string();
  std::filesystem::create_directories(world.dir() / "data");
  std::ofstream(file) << "the file the loop reads, inside the sandbox's profile\n";
  world.write_policy("bench.yaml", fmt::format(R"(apiVersion: agentd/v1
tenant: bench
rules:
  - agents: "bench/files/*"
    sandbox:
      filesystem:
        read_only: [/etc, "{}"]
        execute: [/usr/lib, "{}"]
)",
                                               (world.dir() / "data").string(),
                                               std::filesystem::path(SYSPROBE_BIN).parent_path().string()));
  if (!world.start_agentd()) {
    std::fprintf(stderr, "agentd did not start:\n%s\n", world.agentd_log().c_str());
    return 1;
  }
  // The sandboxes exist after their first run.
  for (const char* agent : {"bench/default/runner", "bench/files/runner"}) {
    auto first = world.agentctl({"run", "--agent", agent, "--", SYSPROBE_BIN, "status"});
    if (first.exit_code != 0) {
      std::fprintf(stderr, "%s\n", first.describe().c_str());
      return 1;
    }
  }
  const auto cgroup = world.cgroup_root() / "bench" / "default" / "runner";
  // 0: no profile, 1: default profile, 2: files confined, 3: the floor.
  constexpr int kVariants = 4;
  auto run = [&](int variant, std::vector<std::string> args) {
    if (variant == 3) args.insert(args.begin(), "allow-all");
    args.insert(args.begin(), SYSPROBE_BIN);
    if (variant == 0 || variant == 3) {
      // The baseline: the same cgroup, nothing else.
      std::string cmd = "echo $$ > '" + (cgroup / "cgroup.procs").string() + "' && exec";
      for (const auto& a : args) cmd += " '" + a + "'";
      return world.in_host({"sh", "-c", cmd});
    }
    std::vector<std::string> argv = {"run", "--agent", variant == 1 ? "bench/default/runner" : "bench/files/runner",
                                     "--"};
    argv.insert(argv.end(), args.begin(), args.end());
    return world.agentctl(argv);
  };
  std::vector<double> file_ns[kVariants], getppid_ns[kVariants];
  for (int r = 0; r < rounds; ++r) {
    // Rotate which variant goes first, so drift hits all alike.
    for (int i = 0; i < kVariants; ++i) {
      const int variant = (r + i) % kVariants;
      file_ns[variant].push_back(ns_per_op(run(variant, {"bench", "file", file, opens})));
      getppid_ns[variant].push_back(ns_per_op(run(variant, {"bench", "getppid", getppids})));
    }
  }
  const double f0 = median(file_ns[0]), f1 = median(file_ns[1]), f2 = median(file_ns[2]), f3 = median(file_ns[3]);
  const double g0 = median(getppid_ns[0]), g1 = median(getppid_ns[1]), g2 = median(getppid_ns[2]),
               g3 = median(getppid_ns[3]);
  std::printf("agentd sandbox profile benchmark: %d rounds, medians\n", rounds);
  std::printf("  open+read+close: no profile %.0f ns, default profile %.0f ns, ratio %.3f (goal <= 1.10)\n", f0, f1,
              f1 / f0);
  std::printf("  getppid:         no profile %.0f ns, default profile %.0f ns, ratio %.3f (goal <= 1.25)\n", g0, g1,
              g1 / g0);
  std::printf(
      "  the floor, any seccomp filter (one allow-all instruction): open+read+close %.0f ns (ratio %.3f), "
      "getppid %.0f ns (ratio %.3f)\n",
      f3, f3 / f0, g3, g3 / g0);
  std::printf(
      "  files confined (Landlock on every open): open+read+close %.0f ns (ratio %.3f), getppid %.0f ns "
      "(ratio %.3f)\n",
      f2, f2 / f0, g2, g2 / g0);
  json report = {{"rounds", rounds},
                 {"file_ns",
                  {{"none", f0},
                   {"default", f1},
                   {"files", f2},
                   {"floor", f3},
                   {"ratio", f1 / f0},
                   {"files_ratio", f2 / f0},
                   {"floor_ratio", f3 / f0}}},
                 {"getppid_ns",
                  {{"none", g0},
                   {"default", g1},
                   {"files", g2},
                   {"floor", g3},
                   {"ratio", g1 / g0},
                   {"files_ratio", g2 / g0},
                   {"floor_ratio", g3 / g0}}}};
  std::printf("%s\n", report.dump().c_str());
  return 0;
}
