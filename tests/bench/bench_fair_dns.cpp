// Fairness of the DNS proxy under abuse (issue 12, item 7; not a test):
// how long sandbox B of one tenant waits for its DNS answers while sandbox
// A of another tenant floods the proxy, against B alone, in the same run.
// A's flood, all at once: dnsperf over UDP with many queries outstanding
// (refused names, names of a zone that answers any name, past its learned
// quota, and an allowed name), 600 idle TCP connections, and a TCP client
// that pipelines queries and never reads. B measures with dnsperf, one query
// outstanding, over UDP and over TCP. On a small machine the flood also
// takes CPU from B whatever agentd does, so the same dnsperf straight to
// dnsmasq from outside any sandbox runs beside it, idle and under the
// flood: what agentd adds is B's time through the proxy less that.
//
//   build/tests/bench/bench_fair_dns [rounds] [seconds per run] [agentd options...]
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_stats.hpp"
#include "policies.hpp"
#include "world.hpp"

using namespace agentd::bench;
using namespace agentd::e2e;
using nlohmann::json;

// A benchmark that throws ends with std::terminate's message, which is enough.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  const int rounds = argc > 1 ? static_cast<int>(std::strtol(argv[1], nullptr, 10)) : 3;
  const int seconds = argc > 2 ? static_cast<int>(std::strtol(argv[2], nullptr, 10)) : 5;
  World world;
  world.write_policy("flood.yaml", many_names_policy("flood"));
  world.write_policy("calm.yaml", many_names_policy("calm"));
  std::vector<std::string> options = {"--log-level", "warn"};
  for (int i = 3; i < argc; ++i) options.emplace_back(argv[i]);  // to compare budgets
  if (!world.start_agentd(options)) {
    std::fprintf(stderr, "agentd did not start:\n%s\n", world.agentd_log().c_str());
    return 1;
  }
  const std::string a = "flood/x/a", b = "calm/y/b";
  const auto calm_queries = world.dir() / "calm.txt";
  std::ofstream(calm_queries) << "api.example.test A\napi.example.test AAAA\n";
  // A: 6000 names of a zone that answers each with an address of its own
  // (past the default quota of 4096), refused names, an allowed name.
  const auto flood_queries = world.dir() / "flood.txt";
  {
    std::ofstream out(flood_queries);
    for (int i = 1; i <= 6000; ++i) {
      char name[80];
      std::snprintf(name, sizeof(name), "2001-db8-5--%x.many.example.test AAAA\n", i);
      out << name << "refused-" << i << ".example.test A\napi.example.test A\n";
    }
  }
  auto calm = [&](const char* mode) {
    return std::vector<std::string>{"dnsperf",
                                    "-s",
                                    "198.51.100.53",
                                    "-m",
                                    mode,
                                    "-d",
                                    calm_queries.string(),
                                    "-l",
                                    std::to_string(seconds),
                                    "-c",
                                    "1",
                                    "-q",
                                    "1",
                                    "-t",
                                    "2",
                                    "-v"};
  };
  std::vector<double> udp_idle, udp_flood, tcp_idle, tcp_flood, direct_idle, direct_flood;
  uint64_t lost_idle = 0, lost_flood = 0;
  for (int r = 0; r < rounds; ++r) {
    auto idle_udp = dnsperf_latencies_us(world.in_sandbox(b, calm("udp")), lost_idle);
    udp_idle.insert(udp_idle.end(), idle_udp.begin(), idle_udp.end());
    auto idle_tcp = dnsperf_latencies_us(world.in_sandbox(b, calm("tcp")), lost_idle);
    tcp_idle.insert(tcp_idle.end(), idle_tcp.begin(), idle_tcp.end());
    uint64_t ignored = 0;
    auto idle_direct = dnsperf_latencies_us(world.in_host(calm("udp")), ignored);
    direct_idle.insert(direct_idle.end(), idle_direct.begin(), idle_direct.end());

    const std::string flood_seconds = std::to_string(3 * seconds + 3);
    std::vector<std::pair<pid_t, std::string>> flooders;
    const std::string tag = std::to_string(r);
    flooders.emplace_back(world.spawn_in_sandbox(a,
                                                 {"-s", "198.51.100.53", "-d", flood_queries.string(), "-l",
                                                  flood_seconds, "-c", "8", "-q", "500", "-t", "1"},
                                                 "flood-udp-" + tag, "dnsperf"),
                          "flood-udp-" + tag);
    flooders.emplace_back(world.spawn_in_sandbox(a, {"hold", "203.0.113.99", "53", "600", flood_seconds},
                                                 "flood-hold-" + tag, DNSPROBE_BIN),
                          "flood-hold-" + tag);
    flooders.emplace_back(
        world.spawn_in_sandbox(a, {"pipeline", "203.0.113.99", "53", "api.example.test", flood_seconds},
                               "flood-pipe-" + tag, DNSPROBE_BIN),
        "flood-pipe-" + tag);
    sleep(1);  // the flood is under way
    auto flood_udp = dnsperf_latencies_us(world.in_sandbox(b, calm("udp")), lost_flood);
    udp_flood.insert(udp_flood.end(), flood_udp.begin(), flood_udp.end());
    auto flood_tcp = dnsperf_latencies_us(world.in_sandbox(b, calm("tcp")), lost_flood);
    tcp_flood.insert(tcp_flood.end(), flood_tcp.begin(), flood_tcp.end());
    auto flood_direct = dnsperf_latencies_us(world.in_host(calm("udp")), ignored);
    direct_flood.insert(direct_flood.end(), flood_direct.begin(), flood_direct.end());
    for (const auto& [pid, name] : flooders) world.wait_spawned(pid, name);
  }
  const auto status = json::parse(world.agentctl({"status", "-o", "json"}).out);
  json flooder;
  for (const auto& s : status["dns"]["sandboxes"])
    if (s["agent"] == a) flooder = s;
  const long hwm = status_kb(world.agentd_pid(), "VmHWM:");
  const double base_p50i = percentile(direct_idle, 0.5), base_p99i = percentile(direct_idle, 0.99);
  const double base_p50f = percentile(direct_flood, 0.5), base_p99f = percentile(direct_flood, 0.99);
  auto line = [&](const char* what, const std::vector<double>& idle, const std::vector<double>& flood) {
    const double p50i = percentile(idle, 0.5), p99i = percentile(idle, 0.99);
    const double p50f = percentile(flood, 0.5), p99f = percentile(flood, 0.99), maxf = percentile(flood, 1.0);
    // What agentd adds beyond the machine's own slowdown (the direct runs).
    const double added_i = p99i - base_p99i, added_f = p99f - base_p99f;
    std::printf(
        "  B over %s: p50 %.0f us idle, %.0f us under the flood; p99 %.0f us idle, %.0f us under the flood "
        "(ratio %.2f, goal <= 2); p99 added by agentd over the direct path %.0f us idle, %.0f us under the "
        "flood; slowest %.0f us; %zu and %zu answers\n",
        what, p50i, p50f, p99i, p99f, p99f / p99i, added_i, added_f, maxf, idle.size(), flood.size());
    return json{{"p50_idle_us", p50i},           {"p50_flood_us", p50f},     {"p99_idle_us", p99i},
                {"p99_flood_us", p99f},          {"p99_ratio", p99f / p99i}, {"p99_added_idle_us", added_i},
                {"p99_added_flood_us", added_f}, {"max_flood_us", maxf}};
  };
  std::printf(
      "agentd DNS fairness benchmark: %d rounds, %d s per run; B (tenant calm) measures one query at a time "
      "while A (tenant flood) floods over UDP and TCP\n",
      rounds, seconds);
  std::printf(
      "  the machine itself (dnsperf straight to dnsmasq, outside any sandbox): p50 %.0f us idle, %.0f us "
      "under the flood; p99 %.0f us idle, %.0f us under the flood\n",
      base_p50i, base_p50f, base_p99i, base_p99f);
  json report = {{"udp", line("UDP", udp_idle, udp_flood)},
                 {"tcp", line("TCP", tcp_idle, tcp_flood)},
                 {"direct",
                  {{"p50_idle_us", base_p50i},
                   {"p50_flood_us", base_p50f},
                   {"p99_idle_us", base_p99i},
                   {"p99_flood_us", base_p99f}}}};
  std::printf("  B's queries lost: %llu idle, %llu under the flood\n", static_cast<unsigned long long>(lost_idle),
              static_cast<unsigned long long>(lost_flood));
  std::printf("  agentd max RSS %ld kB (goal < 100 MB)\n", hwm);
  std::printf("  A's budgets: %s\n", flooder.dump().c_str());
  std::printf("  proxy counters: %s\n", status["dns"]["queries"].dump().c_str());
  report["lost"] = {{"idle", lost_idle}, {"flood", lost_flood}};
  report["agentd_max_rss_kb"] = hwm;
  report["flooder"] = flooder;
  std::printf("%s\n", report.dump().c_str());
  return 0;
}
