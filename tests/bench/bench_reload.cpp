// The reload benchmark of issue 3 (not a test): end-to-end time from a
// policy change written to disk (temp file + rename, as editors and Git do)
// to the kernel enforcing it, seen by a sandboxed process that retries a
// connect until the outcome flips. Two cases:
//   - a one-rule change in a small policy, widening and narrowing in turn;
//   - a change of a 100,000-rule policy to another 100,000-rule policy.
// The settle time of the watcher is part of the figure: it is what a user
// waits for. While the big reload runs, a thread asks `status` over the
// control socket in a loop and reports the slowest answer.
//
//   build/tests/bench/bench_reload [rounds]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "agentd/api/client.hpp"
#include "bench_stats.hpp"
#include "world.hpp"

using namespace agentd::bench;
using namespace agentd::e2e;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr int kBigRules = 100000;
const std::string kAgent = "acme/eng/coder-1";

std::string small_policy(bool allow_target) {
  std::string text =
      "apiVersion: agentd/v1\ntenant: acme\nrules:\n  - agents: \"acme/*/*\"\n    allow:\n"
      "      - cidr: 198.51.100.20/32\n        ports: [8080]\n";
  if (allow_target) text += "      - cidr: 198.51.100.10/32\n        ports: [443]\n";
  return text;
}

// 100,000 rules over 10.0.0.0/8 (no traffic goes there); `variant` shifts
// them so that two variants share no entry, plus the target when allowed.
std::string big_policy(int variant, bool allow_target) {
  std::string text = small_policy(allow_target);
  text.reserve(size_t{kBigRules} * 40);
  for (int i = 0; i < kBigRules; ++i) {
    const int j = i + variant * kBigRules;
    text += fmt::format("      - cidr: 10.{}.{}.{}/32\n", (j >> 16) & 0xff, (j >> 8) & 0xff, j & 0xff);
  }
  return text;
}

double now_wall_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void write_atomically(const fs::path& file, const std::string& text) {
  const fs::path temp = file.parent_path() / ("." + file.filename().string() + ".tmp");
  std::ofstream(temp) << text;
  fs::rename(temp, file);
}

void wait_for_ready(const fs::path& out) {
  for (int i = 0; i < 10000; ++i) {
    std::ifstream in(out);
    std::string line;
    if (std::getline(in, line) && line.find("\"ready\":true") != std::string::npos) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::fprintf(stderr, "the sandboxed prober never became ready\n");
  std::exit(1);
}

// Writes `text` as the policy and returns the ms until a sandboxed connect
// to 198.51.100.10:443 has the outcome `wanted` (ok or refused).
double time_change(World& world, const std::string& text, const std::string& wanted, int round) {
  const std::string name = fmt::format("until-{}-{}", wanted, round);
  pid_t pid = world.spawn_in_sandbox(kAgent, {"until", wanted, "198.51.100.10", "443"}, name);
  wait_for_ready(world.dir() / (name + ".out"));
  const double written = now_wall_ms();
  write_atomically(world.dir() / "policy" / "acme.yaml", text);
  auto result = world.wait_spawned(pid, name);
  auto last = result.out.substr(result.out.rfind('{'));
  auto line = json::parse(last, nullptr, false);
  if (result.exit_code != 0 || !line.is_object() || !line.contains("at_ns")) {
    std::fprintf(stderr, "prober failed:\n%s\nagentd log:\n%s\n", result.describe().c_str(),
                 world.agentd_log().c_str());
    std::exit(1);
  }
  return line["at_ns"].get<double>() / 1e6 - written;
}

}  // namespace

// A benchmark that throws ends with std::terminate's message, which is enough.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  const int rounds = argc > 1 ? static_cast<int>(std::strtol(argv[1], nullptr, 10)) : 20;
  World world;
  world.write_policy("acme.yaml", small_policy(false));
  if (!world.start_agentd()) {
    std::fprintf(stderr, "agentd did not start:\n%s\n", world.agentd_log().c_str());
    return 1;
  }
  if (auto first = world.agentctl({"run", "--agent", kAgent, "--", "true"}); first.exit_code != 0) {
    std::fprintf(stderr, "%s\n", first.describe().c_str());
    return 1;
  }
  auto settle = json::parse(world.agentctl({"status", "-o", "json"}).out)["policy"]["settle_ms"];

  std::vector<double> widen, narrow;
  for (int r = 0; r < rounds; ++r) {
    widen.push_back(time_change(world, small_policy(true), "ok", r));
    narrow.push_back(time_change(world, small_policy(false), "refused", r));
  }

  // The big change: first load 100,000 rules (variant 0), then replace
  // them with 100,000 others (variant 1) that also open the target.
  auto generation = [&] {
    auto s = json::parse(world.agentctl({"status", "-o", "json"}).out, nullptr, false);
    return s.is_object() ? s["policy"]["generation"].get<uint64_t>() : 0;
  };
  const uint64_t before_big = generation();
  write_atomically(world.dir() / "policy" / "acme.yaml", big_policy(0, false));
  for (int i = 0; i < 600 && generation() <= before_big; ++i)  // until the 100,000 rules are in force
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::atomic<bool> polling{true};
  std::vector<double> status_ms;
  std::thread poller([&] {
    while (polling) {
      const auto started = std::chrono::steady_clock::now();
      auto answer = agentd::api::call(world.socket(), {{"method", "status"}});
      if (answer)
        status_ms.push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count());
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  const double big = time_change(world, big_policy(1, true), "ok", rounds);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the removal of variant 0 follows the switch
  polling = false;
  poller.join();
  auto status = json::parse(world.agentctl({"status", "-o", "json"}).out);

  std::printf("agentd reload benchmark: written to disk -> enforced in the kernel, settle time %s ms included\n",
              settle.dump().c_str());
  std::printf("  one-rule change, widening:  median %.1f ms, p90 %.1f ms, max %.1f ms over %d (goal < 50 ms)\n",
              percentile(widen, 0.5), percentile(widen, 0.9), percentile(widen, 1), rounds);
  std::printf("  one-rule change, narrowing: median %.1f ms, p90 %.1f ms, max %.1f ms over %d (goal < 50 ms)\n",
              percentile(narrow, 0.5), percentile(narrow, 0.9), percentile(narrow, 1), rounds);
  std::printf("  100,000-rule policy replaced by another: %.0f ms (goal < 1000 ms); agentd's own reload %.0f ms\n", big,
              status["policy"]["last_reload"]["ms"].get<double>());
  std::printf("  control socket during that reload: %zu status answers, slowest %.1f ms, median %.1f ms\n",
              status_ms.size(), percentile(status_ms, 1), percentile(status_ms, 0.5));
  json report = {{"settle_ms", settle},
                 {"one_rule_widen_ms", {{"median", percentile(widen, 0.5)}, {"max", percentile(widen, 1)}}},
                 {"one_rule_narrow_ms", {{"median", percentile(narrow, 0.5)}, {"max", percentile(narrow, 1)}}},
                 {"big_change_ms", big},
                 {"status_during_big_ms", {{"max", percentile(status_ms, 1)}, {"count", status_ms.size()}}}};
  report["samples"] = {{"widen", widen}, {"narrow", narrow}};
  std::printf("%s\n", report.dump().c_str());
  return 0;
}
