// The DNS benchmark of issue 5 (not a test): dnsperf inside a sandbox
// (every query redirected to agentd's proxy, judged, forwarded to dnsmasq,
// its answer learned into the kernel) against dnsperf outside any sandbox
// straight to the same dnsmasq, interleaved round by round in one run.
// Throughput runs keep 64 queries outstanding (queries per second);
// latency runs keep one outstanding (p50/p99, no queueing in the figure).
//
//   build/tests/bench/bench_dns [rounds] [seconds per run]
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_stats.hpp"
#include "world.hpp"

using namespace agentd::bench;
using namespace agentd::e2e;
using nlohmann::json;

namespace {

constexpr const char* kPolicy = R"(apiVersion: agentd/v1
tenant: bench
rules:
  - agents: "bench/*/*"
    allow:
      - host: api.example.test
        ports: [443]
      - host: "*.wild.example.test"
        ports: [443]
)";

struct Run {
  double qps = 0;
  std::vector<double> latencies_us;
};

// dnsperf -v prints one line per answer ("> NOERROR api.example.test A
// 0.000123") and a summary with "Queries per second:".
Run parse_dnsperf(const ProcessResult& result) {
  Run run;
  std::istringstream lines(result.out);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("> ", 0) == 0) {
      const auto space = line.find_last_of(' ');
      run.latencies_us.push_back(std::strtod(line.c_str() + space + 1, nullptr) * 1e6);
    } else if (auto at = line.find("Queries per second:"); at != std::string::npos) {
      run.qps = std::strtod(line.c_str() + at + 19, nullptr);
    }
  }
  if (run.qps == 0) {
    std::fprintf(stderr, "dnsperf run failed:\n%s\n", result.describe().c_str());
    std::exit(1);
  }
  return run;
}

}  // namespace

// A benchmark that throws ends with std::terminate's message, which is enough.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  const int rounds = argc > 1 ? static_cast<int>(std::strtol(argv[1], nullptr, 10)) : 3;
  const std::string seconds = argc > 2 ? argv[2] : "3";
  World world;
  world.write_policy("bench.yaml", kPolicy);
  if (!world.start_agentd({"--log-level", "warn"})) {
    std::fprintf(stderr, "agentd did not start:\n%s\n", world.agentd_log().c_str());
    return 1;
  }
  const auto queries = world.dir() / "queries.txt";
  std::ofstream(queries) << "api.example.test A\napi.example.test AAAA\na.wild.example.test A\n";
  const std::string agent = "bench/b/resolver";
  // The server named: dnsmasq's address, or an IPv6 address nobody serves
  // (only the proxy answers it, through its [::1] port for the sandbox).
  auto dnsperf = [&](const char* outstanding, bool verbose, const char* server = "198.51.100.53") {
    std::vector<std::string> argv = {"dnsperf", "-s", server, "-d", queries.string(), "-l",
                                     seconds,   "-c", "1",    "-q", outstanding};
    if (verbose) argv.emplace_back("-v");
    return argv;
  };

  std::vector<double> qps_in, qps_out, qps_in6;
  std::vector<double> lat_in, lat_out, lat_in6;
  for (int r = 0; r < rounds; ++r) {
    qps_in6.push_back(parse_dnsperf(world.in_sandbox(agent, dnsperf("64", false, "2001:db8:2::99"))).qps);
    Run latency6 = parse_dnsperf(world.in_sandbox(agent, dnsperf("1", true, "2001:db8:2::99")));
    lat_in6.insert(lat_in6.end(), latency6.latencies_us.begin(), latency6.latencies_us.end());
    for (int side = 0; side < 2; ++side) {
      const bool inside = (r + side) % 2 == 0;
      auto run_it = [&](const std::vector<std::string>& argv) {
        return parse_dnsperf(inside ? world.in_sandbox(agent, argv) : world.in_host(argv));
      };
      (inside ? qps_in : qps_out).push_back(run_it(dnsperf("64", false)).qps);
      Run latency = run_it(dnsperf("1", true));
      auto& lat = inside ? lat_in : lat_out;
      lat.insert(lat.end(), latency.latencies_us.begin(), latency.latencies_us.end());
    }
  }
  auto status = json::parse(world.agentctl({"status", "-o", "json"}).out);
  const double qi = percentile(qps_in, 0.5), qo = percentile(qps_out, 0.5);
  const double p50i = percentile(lat_in, 0.5), p50o = percentile(lat_out, 0.5);
  const double p99i = percentile(lat_in, 0.99), p99o = percentile(lat_out, 0.99);
  std::printf(
      "agentd DNS benchmark: dnsperf, %s s per run, %d rounds; qps with 64 outstanding (median of rounds), "
      "latency with 1 outstanding (all answers)\n",
      seconds.c_str(), rounds);
  std::printf("  queries/s: through the proxy %.0f, straight to dnsmasq %.0f, ratio %.2f (goal >= 0.70)\n", qi, qo,
              qi / qo);
  std::printf(
      "  latency p50: proxy %.0f us, direct %.0f us; p99: proxy %.0f us, direct %.0f us, added %.0f us "
      "(goal <= 200 us)\n",
      p50i, p50o, p99i, p99o, p99i - p99o);
  const double qi6 = percentile(qps_in6, 0.5), p99i6 = percentile(lat_in6, 0.99);
  std::printf(
      "  to an IPv6 server ([::1] port of the sandbox): %.0f queries/s, ratio %.2f; p99 %.0f us, added %.0f us\n", qi6,
      qi6 / qo, p99i6, p99i6 - p99o);
  std::printf("  proxy counters: %s\n", status["dns"]["queries"].dump().c_str());
  json report = {
      {"qps", {{"proxy", qi}, {"direct", qo}, {"ratio", qi / qo}, {"proxy_ipv6", qi6}, {"ratio_ipv6", qi6 / qo}}},
      {"p50_us", {{"proxy", p50i}, {"direct", p50o}}},
      {"p99_us", {{"proxy", p99i}, {"direct", p99o}, {"added", p99i - p99o}, {"proxy_ipv6", p99i6}}}};
  std::printf("%s\n", report.dump().c_str());
  return 0;
}
