// The abuse benchmark of issue 12 (not a test), in one run: sandbox A
// (tenant acme) floods everything it shares with other tenants at once:
// it connects to a new denied destination every time, as fast as it can,
// and floods the DNS proxy (dnsperf over UDP with many queries outstanding:
// refused names, more names of a wildcard zone than its learned quota, an
// allowed name; 600 idle TCP connections; a TCP client that pipelines
// queries and never reads). Meanwhile sandbox B (tenant globex) works
// normally: 20 denied connects spread over the flood, and DNS lookups one
// at a time over UDP and over TCP, measured alone before the flood and
// during it. It reports
//   - B's records lost (goal 0) and B's held/dropped counts;
//   - B's DNS p99 under the flood against idle (goal <= 2x), beside the
//     same lookups straight to dnsmasq from outside any sandbox (on a small
//     machine the flood takes CPU from everything, agentd or not);
//   - A's accounting: attempts against the kernel's denied count, and
//     recorded + suppressed + held + dropped against that;
//   - agentd's largest RSS (goal < 100 MB), sampled every 100 ms;
//   - the store's size against its cap (never above), largest seen;
//   - pending approval requests (bounded) and the fold entry;
//   - denial rows stored per second (busiest second, the limit).
//
//   [SANDBOX_NICE=N] [AGENTD_NICE=-10] build/tests/bench/bench_abuse [seconds] [store cap MB]
// The bench runs itself (and so agentd, dnsmasq and B's lookups) at nice 0,
// as a host's services run, whatever it was started at; sandboxes run
// --sandbox-nice levels below (SANDBOX_NICE, default agentd's 5; 0 shows
// the flood with sandboxes at agentd's own priority). AGENTD_NICE renices
// agentd on top.
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>
#include <atomic>

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
const std::string kResolver = "198.51.100.53";  // dnsmasq; the hooks send sandboxes' queries to agentd

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

// A benchmark that throws ends with std::terminate's message, which is enough.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  const int seconds = argc > 1 ? static_cast<int>(std::strtol(argv[1], nullptr, 10)) : 15;
  const int cap_mb = argc > 2 ? static_cast<int>(std::strtol(argv[2], nullptr, 10)) : 8;
  if (seconds < 5 || cap_mb < 1) {
    std::fprintf(stderr, "usage: bench_abuse [seconds >= 5] [store cap MB >= 1]\n");
    return 2;
  }
  // B's lookups: three runs (UDP, TCP, direct) fit in the flood after its first second.
  const int measure_s = std::max(1, (seconds - 2) / 3);
  if (::setpriority(PRIO_PROCESS, 0, 0) != 0) std::perror("bench_abuse: running at nice 0 (needs root)");
  World world;
  world.write_policy("acme.yaml", many_names_policy("acme"));
  world.write_policy("globex.yaml", many_names_policy("globex"));
  std::vector<std::string> args = {"--audit-max-mb", std::to_string(cap_mb), "--log-level", "warn"};
  // The benchmark reads its environment on its one thread, and sets none.
  const char* levels = std::getenv("SANDBOX_NICE");  // NOLINT(concurrency-mt-unsafe)
  if (levels) args.insert(args.end(), {"--sandbox-nice", levels});
  std::printf("sandboxes run %s nice levels below agentd\n", levels ? levels : "5");
  if (!world.start_agentd(args)) {
    std::fprintf(stderr, "agentd did not start:\n%s\n", world.agentd_log().c_str());
    return 1;
  }
  json status = call(world, {{"method", "status"}});
  const int pid = status["daemon"]["pid"].get<int>();
  const uint64_t rss_idle = rss_kb(pid);
  if (const char* nice = std::getenv("AGENTD_NICE"))  // NOLINT(concurrency-mt-unsafe): as above
    ::setpriority(PRIO_PROCESS, pid, static_cast<int>(std::strtol(nice, nullptr, 10)));
  const uint64_t store_before = status["approvals"]["store"]["bytes"].get<uint64_t>();
  // Whether each sandbox has its cgroup's CPU share (cgroup2's cpu
  // controller), or competes as processes only (a hybrid layout).
  const json& cpu = status["daemon"]["cpu"];
  fmt::print("per-sandbox CPU shares: {}\n", cpu.value("sandbox_shares", false)
                                                 ? "on"
                                                 : "off (" + cpu.value("sandbox_shares_off", std::string()) + ")");

  const auto calm_queries = world.dir() / "calm.txt";
  std::ofstream(calm_queries) << "api.example.test A\napi.example.test AAAA\n";
  const auto flood_queries = world.dir() / "flood.txt";
  {
    std::ofstream out(flood_queries);
    for (int i = 1; i <= 6000; ++i)
      out << fmt::format("2001-db8-5--{:x}.many.example.test AAAA\nrefused-{}.example.test A\napi.example.test A\n", i,
                         i);
  }
  auto lookups = [&](const char* mode) {
    return std::vector<std::string>{
        "dnsperf", "-s", kResolver, "-m", mode, "-d", calm_queries.string(), "-l", std::to_string(measure_s), "-c",
        "1",       "-q", "1",       "-t", "2",  "-v"};
  };
  uint64_t lost_idle = 0, lost_flood = 0, lost_direct = 0;
  const auto udp_idle = dnsperf_latencies_us(world.in_sandbox(kOther, lookups("udp")), lost_idle);
  const auto tcp_idle = dnsperf_latencies_us(world.in_sandbox(kOther, lookups("tcp")), lost_idle);
  const auto direct_idle = dnsperf_latencies_us(world.in_host(lookups("udp")), lost_direct);

  // A's flood, everything at once.
  const auto stop = world.dir() / "stop";
  const std::string flood_s = std::to_string(seconds);
  std::vector<std::pair<pid_t, std::string>> dns_flood;
  pid_t spray = world.spawn_in_sandbox(kFlooder, {"spray", stop.string()}, "spray");
  dns_flood.emplace_back(
      world.spawn_in_sandbox(
          kFlooder, {"-s", kResolver, "-d", flood_queries.string(), "-l", flood_s, "-c", "8", "-q", "500", "-t", "1"},
          "flood-udp", "dnsperf"),
      "flood-udp");
  dns_flood.emplace_back(
      world.spawn_in_sandbox(kFlooder, {"hold", "203.0.113.99", "53", "600", flood_s}, "flood-hold", DNSPROBE_BIN),
      "flood-hold");
  dns_flood.emplace_back(
      world.spawn_in_sandbox(kFlooder, {"pipeline", "203.0.113.99", "53", "api.example.test", flood_s}, "flood-pipe",
                             DNSPROBE_BIN),
      "flood-pipe");

  // Beside B's lookups: B's denied connects, and agentd sampled every 100 ms.
  uint64_t max_rss = rss_idle, max_store = 0, max_file = 0, max_pending = 0;
  const auto db = world.state_dir() / "agentd.db";
  const auto start = std::chrono::steady_clock::now();
  const auto period = std::chrono::seconds(seconds);
  std::atomic<int> b_sent = 0;
  std::thread sampler([&] {
    while (std::chrono::steady_clock::now() - start < period) {
      const auto elapsed = std::chrono::steady_clock::now() - start;
      while (b_sent < 20 && elapsed >= period * b_sent.load() / 20) {
        world.netprobe_in_sandbox(kOther, {"connect", "tcp", "192.0.2.200", std::to_string(2001 + b_sent)});
        ++b_sent;
      }
      const json sample = call(world, {{"method", "status"}});
      max_rss = std::max(max_rss, rss_kb(pid));
      max_store = std::max(max_store, sample["approvals"]["store"]["bytes"].get<uint64_t>());
      max_file = std::max(max_file, bytes_on_disk(db));
      max_pending = std::max(max_pending, sample["approvals"]["pending_requests"].get<uint64_t>());
      usleep(100'000);
    }
  });
  sleep(1);  // the flood is under way
  const auto udp_flood = dnsperf_latencies_us(world.in_sandbox(kOther, lookups("udp")), lost_flood);
  const auto tcp_flood = dnsperf_latencies_us(world.in_sandbox(kOther, lookups("tcp")), lost_flood);
  const auto direct_flood = dnsperf_latencies_us(world.in_host(lookups("udp")), lost_direct);
  sampler.join();
  std::ofstream(stop) << "stop";
  auto result = world.wait_spawned(spray, "spray");
  for (const auto& [flooder, name] : dns_flood) world.wait_spawned(flooder, name);
  const double storm_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  while (b_sent < 20)
    world.netprobe_in_sandbox(kOther, {"connect", "tcp", "192.0.2.200", std::to_string(2001 + b_sent++)});
  usleep(500'000);  // the last records drained
  status = call(world, {{"method", "status"}});
  max_rss = std::max(max_rss, rss_kb(pid));

  auto outcome = json::parse(result.out.substr(result.out.rfind('{')), nullptr, false);
  const uint64_t attempts = outcome.is_object() ? outcome.value("refused", uint64_t{0}) : 0;
  const json a = sandbox_of(status, kFlooder), b = sandbox_of(status, kOther);
  std::set<int> b_ports;
  uint64_t a_records = 0;
  for (const auto& r : world.denials()) {
    if (r["sandbox"] == kOther && r.value("hook", "") != "dns") b_ports.insert(r.value("port", 0));
    if (r["sandbox"] == kFlooder && r.value("hook", "") != "dns") ++a_records;
  }
  const json store = status["approvals"]["store"];
  const uint64_t cap = store["max_bytes"].get<uint64_t>();
  const uint64_t accounted = n(a, "recorded") + n(a, "suppressed") + n(a, "held") + n(a, "dropped");
  auto folds = call(world, {{"method", "approvals.folds"}});
  json a_dns;
  for (const auto& s : status["dns"]["sandboxes"])
    if (s["agent"] == kFlooder) a_dns = s;

  fmt::print(
      "abuse, {:.1f} s: {} floods (connects to distinct denied destinations, and the DNS proxy over UDP and "
      "TCP) while {} of another tenant works\n",
      storm_s, kFlooder, kOther);
  fmt::print("  B's records lost                 {} of 20 (goal 0); B held {}, dropped {}\n", 20 - b_ports.size(),
             n(b, "held"), n(b, "dropped"));
  auto dns_line = [&](const char* what, const std::vector<double>& idle, const std::vector<double>& flood) {
    const double p99i = percentile(idle, 0.99), p99f = percentile(flood, 0.99);
    fmt::print(
        "  B's DNS over {}                  p50 {:.0f} us idle, {:.0f} us flooded; p99 {:.0f} us idle, {:.0f} us "
        "flooded: ratio {:.2f} (goal <= 2); {} and {} answers\n",
        what, percentile(idle, 0.5), percentile(flood, 0.5), p99i, p99f, p99f / p99i, idle.size(), flood.size());
  };
  dns_line("UDP", udp_idle, udp_flood);
  dns_line("TCP", tcp_idle, tcp_flood);
  dns_line("UDP straight to dnsmasq, outside any sandbox,", direct_idle, direct_flood);
  fmt::print("  B's DNS queries lost             {} idle, {} flooded (goal 0)\n", lost_idle, lost_flood);
  fmt::print("  A's attempts (spray's EPERM)     {}  ({:.0f}/s)\n", attempts, attempts / storm_s);
  fmt::print("  A's kernel denied count          {}\n", n(a, "denied"));
  fmt::print("  A recorded / suppressed / held / dropped  {} / {} / {} / {}\n", n(a, "recorded"), n(a, "suppressed"),
             n(a, "held"), n(a, "dropped"));
  fmt::print("  A's accounting closes            {} = {}: {}\n", accounted, attempts,
             accounted == attempts && n(a, "denied") == attempts ? "yes" : "NO");
  fmt::print("  A's connect records in events.jsonl  {} (kernel recorded {})\n", a_records, n(a, "recorded"));
  fmt::print("  A's DNS budgets                  {}\n", a_dns.dump());
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
             store["denial_rows"]["per_second_max"].get<uint64_t>(),
             store["denial_rows"]["not_stored"].get<uint64_t>());
  fmt::print("  pending requests                 max {}, now {} (caps {} per sandbox, {} per tenant)\n", max_pending,
             status["approvals"]["pending_requests"].get<uint64_t>(),
             status["approvals"]["caps"]["per_sandbox"].get<uint64_t>(),
             status["approvals"]["caps"]["per_tenant"].get<uint64_t>());
  for (const auto& f : folds)
    fmt::print("  fold entry                       {}: {} ({} denials)\n", f["sandbox"].get<std::string>(),
               f["summary"].get<std::string>(), f["denials"].get<uint64_t>());
  return 0;
}
