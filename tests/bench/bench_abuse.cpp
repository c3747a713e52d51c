// The abuse benchmark of issue 12, records side (not a test): sandbox A
// (tenant acme) connects to a new denied destination every time, as fast
// as it can, while sandbox B (tenant globex) makes 20 denied connects to
// 20 destinations spread over the flood. It reports
//   - B's records lost (goal 0) and B's held/dropped counts;
//   - A's accounting: attempts against the kernel's denied count, and
//     recorded + suppressed + held + dropped against that;
//   - agentd's largest RSS (goal < 100 MB), sampled every 100 ms;
//   - the store's size against its cap (never above), largest seen;
//   - pending approval requests (bounded) and the fold entry;
//   - denial rows stored per second (busiest second, the limit).
//
//   build/tests/bench/bench_abuse [seconds] [store cap MB]
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "agentd/api/client.hpp"
#include "bench_stats.hpp"
#include "policies.hpp"
#include "world.hpp"

using namespace agentd::bench;
using namespace agentd::e2e;
using nlohmann::json;

namespace {

const std::string kFlooder = "acme/eng/coder-1";
const std::string kOther = "globex/eng/bot";

json call(const World& world, const json& request) {
  auto result = agentd::api::call(world.socket(), request);
  if (!result) {
    std::fprintf(stderr, "%s failed: %s\n", request["method"].get<std::string>().c_str(),
                 result.error().describe().c_str());
    std::exit(1);
  }
  return *result;
}

json sandbox_of(const json& status, const std::string& agent) {
  for (const auto& s : status["sandboxes"])
    if (s["agent"] == agent) return s;
  return json::object();
}

uint64_t n(const json& j, const char* key) { return j.value(key, uint64_t{0}); }

uint64_t bytes_on_disk(const std::filesystem::path& file) {
  struct stat st {};
  return ::stat(file.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

}  // namespace

int main(int argc, char** argv) {
  const int seconds = argc > 1 ? std::atoi(argv[1]) : 15;
  const int cap_mb = argc > 2 ? std::atoi(argv[2]) : 8;
  if (seconds < 2 || cap_mb < 1) {
    std::fprintf(stderr, "usage: bench_abuse [seconds >= 2] [store cap MB >= 1]\n");
    return 2;
  }
  World world;
  world.write_policy("acme.yaml", kAcmePolicy);
  world.write_policy("globex.yaml", kGlobexPolicy);
  if (!world.start_agentd({"--audit-max-mb", std::to_string(cap_mb)})) {
    std::fprintf(stderr, "agentd did not start:\n%s\n", world.agentd_log().c_str());
    return 1;
  }
  json status = call(world, {{"method", "status"}});
  const int pid = status["daemon"]["pid"].get<int>();
  const uint64_t rss_idle = rss_kb(pid);
  const uint64_t store_before = status["approvals"]["store"]["bytes"].get<uint64_t>();

  const auto stop = world.dir() / "stop";
  pid_t spray = world.spawn_in_sandbox(kFlooder, {"spray", stop.string()}, "spray");
  uint64_t max_rss = rss_idle, max_store = 0, max_file = 0, max_pending = 0;
  const auto db = world.state_dir() / "agentd.db";
  const auto start = std::chrono::steady_clock::now();
  const auto period = std::chrono::seconds(seconds);
  int b_sent = 0;
  while (std::chrono::steady_clock::now() - start < period) {
    // B's 20 connects spread over the flood.
    const auto elapsed = std::chrono::steady_clock::now() - start;
    while (b_sent < 20 && elapsed >= period * b_sent / 20) {
      world.netprobe_in_sandbox(kOther, {"connect", "tcp", "192.0.2.200", std::to_string(2001 + b_sent)});
      ++b_sent;
    }
    status = call(world, {{"method", "status"}});
    max_rss = std::max(max_rss, rss_kb(pid));
    max_store = std::max(max_store, status["approvals"]["store"]["bytes"].get<uint64_t>());
    max_file = std::max(max_file, bytes_on_disk(db));
    max_pending = std::max(max_pending, status["approvals"]["pending_requests"].get<uint64_t>());
    usleep(100'000);
  }
  std::ofstream(stop) << "stop";
  auto result = world.wait_spawned(spray, "spray");
  const double storm_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  while (b_sent < 20) world.netprobe_in_sandbox(kOther, {"connect", "tcp", "192.0.2.200", std::to_string(2001 + b_sent++)});
  usleep(500'000);  // the last records drained
  status = call(world, {{"method", "status"}});
  max_rss = std::max(max_rss, rss_kb(pid));

  auto outcome = json::parse(result.out.substr(result.out.rfind('{')), nullptr, false);
  const uint64_t attempts = outcome.is_object() ? outcome.value("refused", uint64_t{0}) : 0;
  const json a = sandbox_of(status, kFlooder), b = sandbox_of(status, kOther);
  std::set<int> b_ports;
  uint64_t a_records = 0;
  for (const auto& r : world.denials()) {
    if (r["sandbox"] == kOther) b_ports.insert(r.value("port", 0));
    if (r["sandbox"] == kFlooder) ++a_records;
  }
  const json store = status["approvals"]["store"];
  const uint64_t cap = store["max_bytes"].get<uint64_t>();
  const uint64_t accounted = n(a, "recorded") + n(a, "suppressed") + n(a, "held") + n(a, "dropped");
  auto folds = call(world, {{"method", "approvals.folds"}});

  fmt::print("abuse, {:.1f} s: {} connects to distinct denied destinations, 20 denied connects from another tenant\n",
             storm_s, kFlooder);
  fmt::print("  B's records lost                 {} of 20 (goal 0); B held {}, dropped {}\n", 20 - b_ports.size(),
             n(b, "held"), n(b, "dropped"));
  fmt::print("  A's attempts (spray's EPERM)     {}  ({:.0f}/s)\n", attempts, attempts / storm_s);
  fmt::print("  A's kernel denied count          {}\n", n(a, "denied"));
  fmt::print("  A recorded / suppressed / held / dropped  {} / {} / {} / {}\n", n(a, "recorded"), n(a, "suppressed"),
             n(a, "held"), n(a, "dropped"));
  fmt::print("  A's accounting closes            {} = {}: {}\n", accounted, attempts,
             accounted == attempts && n(a, "denied") == attempts ? "yes" : "NO");
  fmt::print("  A's records in events.jsonl      {} (kernel recorded {})\n", a_records, n(a, "recorded"));
  fmt::print("  ring drops, all sandboxes        {}\n", status["events"]["dropped"].get<uint64_t>());
  fmt::print("  agentd RSS                       idle {:.1f} MB, max {:.1f} MB (goal < 100 MB)\n", rss_idle / 1024.0,
             max_rss / 1024.0);
  fmt::print("  store in use                     {:.2f} MB before, max {:.2f} MB, now {:.2f} MB; cap {:.2f} MB: {}\n",
             store_before / 1048576.0, max_store / 1048576.0, store["bytes"].get<uint64_t>() / 1048576.0,
             cap / 1048576.0, max_store <= cap ? "never above" : "ABOVE");
  fmt::print("  store file (db, largest seen)    {:.2f} MB; with WAL now {:.2f} MB; {} oldest removed for size\n",
             max_file / 1048576.0, store["file_bytes"].get<uint64_t>() / 1048576.0,
             store["pruned_for_size"].get<uint64_t>());
  fmt::print("  denial rows stored               busiest second {}, limit {}/s, {} not stored\n",
             store["denial_rows"]["busiest_second"].get<uint64_t>(),
             store["denial_rows"]["per_second_max"].get<uint64_t>(), store["denial_rows"]["not_stored"].get<uint64_t>());
  fmt::print("  pending requests                 max {}, now {} (caps {} per sandbox, {} per tenant)\n", max_pending,
             status["approvals"]["pending_requests"].get<uint64_t>(),
             status["approvals"]["caps"]["per_sandbox"].get<uint64_t>(),
             status["approvals"]["caps"]["per_tenant"].get<uint64_t>());
  for (const auto& f : folds)
    fmt::print("  fold entry                       {}: {} ({} denials)\n", f["sandbox"].get<std::string>(),
               f["summary"].get<std::string>(), f["denials"].get<uint64_t>());
  return 0;
}
