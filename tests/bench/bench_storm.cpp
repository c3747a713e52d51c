// The denial storm benchmark of issue 6 (not a test): a sandboxed process
// loops on a denied connect as fast as it can for 10 s. It reports
//   - accounting: the loop's refused connects against the kernel's denied
//     count, and records received + ring drops + rate-limited (suppressed)
//     against that: every denial is accounted for;
//   - agentd's largest RSS, sampled every 100 ms;
//   - `status` answer times during the storm against the idle baseline
//     measured just before (median and max, and their ratio);
//   - audit events per second written into the store during the storm, and
//     the store's own capacity (batched inserts into a scratch store).
//
//   build/tests/bench/bench_storm [seconds]
#include <unistd.h>

#include <algorithm>
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
#include "agentd/store/store.hpp"
#include "bench_stats.hpp"
#include "policies.hpp"
#include "world.hpp"

using namespace agentd::bench;
using namespace agentd::e2e;
using nlohmann::json;

namespace {

const std::string kAgent = "acme/eng/coder-1";

double status_ms(const World& world, json* status = nullptr) {
  const auto start = std::chrono::steady_clock::now();
  auto result = agentd::api::call(world.socket(), {{"method", "status"}});
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (!result) {
    std::fprintf(stderr, "status failed: %s\n", result.error().describe().c_str());
    std::exit(1);
  }
  if (status) *status = *result;
  return ms;
}

json sandbox_of(const json& status) {
  for (const auto& s : status["sandboxes"])
    if (s["agent"] == kAgent) return s;
  return json::object();
}

// Batched inserts into a scratch store: what the store can take at most.
double store_capacity_per_second() {
  char tmpl[] = "/tmp/agentd-bench-store-XXXXXX";
  const std::filesystem::path dir = mkdtemp(tmpl);
  double rate = 0;
  {
    auto store = agentd::store::Store::open(dir / "agentd.db", {});
    if (!store) return 0;
    constexpr int kEvents = 200000, kBatch = 1000;
    agentd::store::AuditEvent e;
    e.kind = "denial";
    e.decision = "deny";
    e.actor = "kernel";
    e.sandbox = kAgent;
    e.dest = "198.51.100.20";
    e.port = 8080;
    e.protocol = "tcp";
    e.detail = {{"reason", "no_rule"}, {"hook", "connect4"}, {"comm", "netprobe"}, {"pid", 1234}, {"uid", 0}};
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kEvents; i += kBatch) {
      auto batch = (*store)->transaction();
      for (int j = 0; j < kBatch; ++j) {
        e.time = agentd::approvals::Clock::now();
        (void)(*store)->audit(e);
      }
      (void)batch.commit();
    }
    rate = kEvents / std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  std::filesystem::remove_all(dir);
  return rate;
}

}  // namespace

// A benchmark that throws ends with std::terminate's message, which is enough.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  const int seconds = argc > 1 ? static_cast<int>(std::strtol(argv[1], nullptr, 10)) : 10;
  World world;
  world.write_policy("acme.yaml", kAcmePolicy);
  if (!world.start_agentd({"--events-log", (world.dir() / "events.jsonl").string()})) {
    std::fprintf(stderr, "agentd did not start:\n%s\n", world.agentd_log().c_str());
    return 1;
  }
  json status;
  status_ms(world, &status);
  const int pid = status["daemon"]["pid"].get<int>();
  // The sandbox exists before the storm, so its counters start at zero.
  world.netprobe_in_sandbox(kAgent, {"connect", "tcp", "198.51.100.10", "80"});

  std::vector<double> idle;
  for (int i = 0; i < 50; ++i) {
    idle.push_back(status_ms(world));
    usleep(20'000);
  }
  status_ms(world, &status);
  const json before = sandbox_of(status);
  const uint64_t received_before = status["events"]["received"].get<uint64_t>();
  const uint64_t written_before = status["approvals"]["store"]["written"].get<uint64_t>();

  // 198.51.100.20:8080: no rule decides it, so each try is a denial record
  // candidate and feeds one approval request.
  const auto stop = world.dir() / "stop";
  pid_t loop = world.spawn_in_sandbox(kAgent, {"loop", "198.51.100.20", "8080", stop.string()}, "storm");
  std::vector<double> during;
  uint64_t max_rss = rss_kb(pid);
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < std::chrono::seconds(seconds)) {
    during.push_back(status_ms(world));
    max_rss = std::max(max_rss, rss_kb(pid));
    usleep(100'000);
  }
  std::ofstream(stop) << "stop";
  auto result = world.wait_spawned(loop, "storm");
  const double storm_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  usleep(500'000);  // the last records drained
  status_ms(world, &status);
  max_rss = std::max(max_rss, rss_kb(pid));

  auto outcome = json::parse(result.out.substr(result.out.rfind('{')), nullptr, false);
  const uint64_t attempts = outcome.is_object() ? outcome.value("refused", uint64_t{0}) : 0;
  const json after = sandbox_of(status);
  const uint64_t denied = after["denied"].get<uint64_t>() - before["denied"].get<uint64_t>();
  const uint64_t suppressed = after["suppressed"].get<uint64_t>() - before["suppressed"].get<uint64_t>();
  const uint64_t received = status["events"]["received"].get<uint64_t>() - received_before;
  const uint64_t dropped = status["events"]["dropped"].get<uint64_t>();
  const uint64_t written = status["approvals"]["store"]["written"].get<uint64_t>() - written_before;
  auto requests = agentd::api::call(world.socket(), {{"method", "approvals.list"}});
  const uint64_t request_tries = requests && !requests->empty() ? (*requests)[0]["count"].get<uint64_t>() : 0;

  fmt::print("denial storm, {:.1f} s, one sandbox looping on a denied TCP connect\n", storm_s);
  fmt::print("  attempts (loop's EPERM)          {}  ({:.0f}/s)\n", attempts, attempts / storm_s);
  fmt::print("  kernel denied count              {}\n", denied);
  fmt::print("  records received                 {}\n", received);
  fmt::print("  dropped, ring full               {}\n", dropped);
  fmt::print("  unrecorded by the rate limit     {}\n", suppressed);
  fmt::print("  accounted (received+dropped+unrecorded) {} = attempts {}: {}\n", received + dropped + suppressed,
             attempts, received + dropped + suppressed == attempts && denied == attempts ? "yes" : "NO");
  fmt::print("  one request, tries counted       {} (the last second's held-back tries are in the counters)\n",
             request_tries);
  fmt::print("  agentd max RSS                   {:.1f} MB (limit 100 MB)\n", max_rss / 1024.0);
  fmt::print("  status answer, idle              median {:.2f} ms, max {:.2f} ms\n", median(idle),
             *std::max_element(idle.begin(), idle.end()));
  fmt::print(
      "  status answer, storm             median {:.2f} ms, max {:.2f} ms (limit 100 ms); median ratio {:.2f}x\n",
      median(during), *std::max_element(during.begin(), during.end()), median(during) / median(idle));
  fmt::print("  audit events into the store      {} ({:.0f}/s during the storm)\n", written, written / storm_s);
  fmt::print("  store capacity (batched inserts) {:.0f} events/s\n", store_capacity_per_second());
  return 0;
}
