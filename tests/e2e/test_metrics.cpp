// The metrics endpoint (--metrics-listen): what it serves passes
// `promtool check metrics`, a real Prometheus scrapes it (with the
// shipped alerting rules loaded), and the numbers follow what sandboxes
// do. Everything on the test's host namespace's loopback.
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>

#include "approvals_helpers.hpp"
#include "expectations.hpp"
#include "world.hpp"

using namespace agentd::e2e;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* kPolicy = R"(apiVersion: agentd/v1
tenant: acme
rules:
  - agents: "acme/eng/*"
    allow:
      - host: api.example.test
        ports: [443]
      - cidr: 198.51.100.20/32
        ports: [80]
)";

constexpr const char* kMetrics = "127.0.0.1:9464";
constexpr const char* kPrometheus = "127.0.0.1:9090";

ProcessResult curl(const World& world, const std::string& url, std::vector<std::string> extra = {}) {
  std::vector<std::string> argv = {"curl", "-sS", "--max-time", "10"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back(url);
  return world.in_host(argv);
}

// A PromQL query's first value through Prometheus' HTTP API, or -1.
double query(const World& world, const std::string& promql) {
  auto result =
      curl(world, std::string("http://") + kPrometheus + "/api/v1/query", {"--data-urlencode", "query=" + promql});
  auto doc = json::parse(result.out, nullptr, false);
  if (doc.is_discarded() || doc.value("status", "") != "success") return -1;
  const auto& values = doc["data"]["result"];
  if (!values.is_array() || values.empty()) return -1;
  return std::stod(values[0]["value"][1].get<std::string>());
}

}  // namespace

TEST_CASE("metrics: promtool accepts them and a real Prometheus scrapes what sandboxes do", "[kernel-neutral]") {
  require_tools({"prometheus", "promtool", "curl"});
  World world;
  world.write_policy("acme.yaml", kPolicy);
  // --no-watch: the reloads below are the two `policy apply` asks for,
  // not also the watcher's, however the timing falls.
  REQUIRE(world.start_agentd({"--metrics-listen", kMetrics, "--no-watch"}));
  const std::string agent = "acme/eng/coder-1";

  // What a sandbox does: one allowed, one denied connect, a refused name.
  expect_ok(world.netprobe_in_sandbox(agent, {"connect", "tcp", "198.51.100.20", "80"}));
  expect_refused(world.netprobe_in_sandbox(agent, {"connect", "tcp", "198.51.100.66", "80"}));
  (void)world.in_sandbox(agent, {"dig", "@198.51.100.53", "+tries=1", "+time=3", "denied.example.test"});
  REQUIRE(world.wait_for_denial([](const json& d) { return d.value("dest", "") == "198.51.100.66"; }).is_object());
  // A refused reload, then a good one.
  world.write_policy("acme.yaml", "apiVersion: agentd/v1\ntenant: acme\nrules: [oops\n");
  CHECK(world.agentctl({"policy", "apply"}).exit_code != 0);
  world.write_policy("acme.yaml", kPolicy + std::string("      - cidr: 198.51.100.21/32\n        ports: [80]\n"));
  REQUIRE(world.agentctl({"policy", "apply"}).exit_code == 0);

  auto scraped = curl(world, std::string("http://") + kMetrics + "/metrics", {"-i"});
  INFO(scraped.describe());
  REQUIRE(scraped.exit_code == 0);
  CHECK(scraped.out.find("Content-Type: text/plain; version=0.0.4") != std::string::npos);
  const std::string body = scraped.out.substr(scraped.out.find("\r\n\r\n") + 4);
  CHECK(body.find(R"(agentd_sandbox_verdicts_total{tenant="acme",team="eng",agent="coder-1",verdict="denied"} 1)") !=
        std::string::npos);
  CHECK(
      body.find(R"(agentd_sandbox_dns_queries_total{tenant="acme",team="eng",agent="coder-1",verdict="refused"} 1)") !=
      std::string::npos);
  CHECK(body.find(R"(agentd_policy_reloads_total{result="refused"} 1)") != std::string::npos);
  CHECK(body.find(R"(agentd_policy_reloads_total{result="applied"} 1)") != std::string::npos);
  // The budgets status shows are metrics too (issue 12), under promtool below.
  for (
      const char* line :
      {R"(agentd_sandbox_dns_budget_refusals_total{tenant="acme",team="eng",agent="coder-1",budget="learned_quota"} 0)",
       "agentd_approvals_grant_entries_per_tenant_limit 4096", "agentd_approvals_grant_write_failures_total 0",
       "agentd_approvals_denials_folded_total 0", R"(agentd_approvals_request_cap{per="sandbox"} 32)",
       R"(agentd_control_limit{what="subscriptions_per_uid"} 16)",
       R"(agentd_store_pruned_for_size_total{kind="audit"} 0)", "agentd_store_denial_rows_not_stored_total 0",
       "agentd_store_max_bytes 268435456"})
    CHECK(body.find(std::string("\n") + line + "\n") != std::string::npos);
  CHECK(body.find("\nagentd_control_subscriptions ") != std::string::npos);
  // The exposition format's own linter.
  std::ofstream(world.dir() / "metrics.txt") << body;
  auto lint = world.in_host({"sh", "-c", "promtool check metrics < '" + (world.dir() / "metrics.txt").string() + "'"});
  INFO(lint.describe());
  CHECK(lint.exit_code == 0);

  // A sandbox cannot read other tenants' names off the loopback port:
  // its policy does not allow it.
  expect_refused(world.netprobe_in_sandbox(agent, {"connect", "tcp", "127.0.0.1", "9464"}));
  // Only GET /metrics.
  CHECK(curl(world, std::string("http://") + kMetrics + "/", {"-o", "/dev/null", "-w", "%{http_code}"}).out == "404");
  CHECK(curl(world, std::string("http://") + kMetrics + "/metrics",
             {"-o", "/dev/null", "-w", "%{http_code}", "-X", "POST"})
            .out == "405");

  // A real Prometheus, scraping every second, with the shipped rules.
  const fs::path prom = world.dir() / "prometheus";
  fs::create_directories(prom / "data");
  std::ofstream(prom / "prometheus.yml") << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                                         << "rule_files:\n  - " << AGENTD_SOURCE_DIR
                                         << "/packaging/prometheus/agentd-alerts.yml\n"
                                         << "scrape_configs:\n  - job_name: agentd\n    static_configs:\n"
                                         << "      - targets: ['" << kMetrics << "']\n";
  const pid_t prometheus = world.spawn_in_host(
      {"prometheus", "--config.file=" + (prom / "prometheus.yml").string(),
       "--storage.tsdb.path=" + (prom / "data").string(), "--web.listen-address=" + std::string(kPrometheus)},
      "prometheus");
  double up = -1, denied = -1;
  for (int i = 0; i < 1200 && (up != 1 || denied < 2); ++i) {  // a bounded wait: startup, then scrapes
    usleep(100'000);
    up = query(world, "up{job=\"agentd\"}");
    denied = query(world, "agentd_sandbox_verdicts_total{agent=\"coder-1\",verdict=\"denied\"}");
  }
  INFO(read_file(world.dir() / "prometheus.err"));
  CHECK(up == 1);
  CHECK(denied == 2);  // the two refused connects
  // The shipped rules loaded and evaluate without error (once evaluated:
  // every second here).
  size_t healthy = 0;
  for (int i = 0; i < 300 && healthy != 6; ++i) {  // bounded
    auto rules = curl(world, std::string("http://") + kPrometheus + "/api/v1/rules");
    auto doc = json::parse(rules.out, nullptr, false);
    healthy = 0;
    if (!doc.is_discarded() && doc.contains("data"))
      for (const auto& group : doc["data"]["groups"])
        for (const auto& rule : group["rules"]) healthy += rule.value("health", "") == "ok";
    if (healthy != 6) usleep(100'000);
  }
  CHECK(healthy == 6);
  ::kill(prometheus, SIGTERM);
  CHECK(world.wait_spawned(prometheus, "prometheus").exit_code == 0);
  CHECK(world.stray_packets() == 0);
}

TEST_CASE("metrics: refused listen addresses stop agentd at start, naming why", "[kernel-neutral]") {
  World world;
  world.write_policy("acme.yaml", kPolicy);
  CHECK_FALSE(world.start_agentd({"--metrics-listen", "0.0.0.0:9464"}));
  CHECK(world.agentd_log().find("not a loopback address") != std::string::npos);
}

TEST_CASE("metrics: a unix socket, root's alone", "[kernel-neutral]") {
  require_tools({"curl"});
  World world;
  world.write_policy("acme.yaml", kPolicy);
  const fs::path socket = world.dir() / "run" / "metrics.sock";
  REQUIRE(world.start_agentd({"--metrics-listen", "unix:" + socket.string()}));
  CHECK((fs::status(socket).permissions() & (fs::perms::group_all | fs::perms::others_all)) == fs::perms::none);
  auto scraped =
      world.in_host({"curl", "-sS", "--max-time", "10", "--unix-socket", socket.string(), "http://agentd/metrics"});
  INFO(scraped.describe());
  CHECK(scraped.out.find("agentd_policy_generation 1") != std::string::npos);
  world.kill_agentd(SIGTERM);
  CHECK_FALSE(fs::exists(socket));
}
