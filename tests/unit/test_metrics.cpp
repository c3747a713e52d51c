// The Prometheus exposition rendered from a status document, the cap on
// per-sandbox series, label escaping, and --metrics-listen's checks.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <catch2/catch.hpp>

#include "agentd/bpf/traffic_json.hpp"
#include "agentd/metrics/exposition.hpp"
#include "agentd/metrics/listen_address.hpp"

using namespace agentd::metrics;
using nlohmann::json;

namespace {

json sandbox(const std::string& agent, int allowed, int denied) {
  return {
      {"agent", agent},     {"allowed", allowed}, {"denied", denied},
      {"recorded", denied}, {"suppressed", 0},    {"held", 0},
      {"dropped", 0},       {"state", "running"}, {"names", {{"verified", 1}, {"refused", 0}, {"unverifiable", 0}}}};
}

// What the kernel counts, as status shows it (bpf/traffic_json).
json traffic(uint64_t rule_sent, uint64_t inference_received) {
  agentd_traffic t{};
  t.sent_bytes[AGENTD_TRAFFIC_RULE] = rule_sent;
  t.sent_bytes[AGENTD_TRAFFIC_OTHER] = 60;
  t.received_bytes[AGENTD_TRAFFIC_INFERENCE] = inference_received;
  t.sent_packets = 3;
  t.received_packets = 2;
  return agentd::bpf::traffic_to_json(t);
}

json status_with(std::vector<json> sandboxes) {
  json dns_sandboxes = json::array();
  for (const auto& s : sandboxes)
    dns_sandboxes.push_back({{"agent", s["agent"]}, {"learned", 3}, {"queries", {{"allowed", 4}, {"refused", 2}}}});
  return {{"daemon", {{"version", "0.1.0"}}},
          {"policy", {{"generation", 7}, {"last_error", nullptr}}},
          {"sandboxes", sandboxes},
          {"events", {{"received", 10}, {"dropped", 1}, {"suppressed", 2}, {"held", 0}, {"malformed", 0}}},
          {"dns", {{"queries", {{"received", 9}, {"refused", 2}}}, {"sandboxes", dns_sandboxes}}},
          {"approvals", {{"pending_requests", 1}, {"pending_by_sandbox", {{"acme/eng/coder-1", 1}}}, {"grants", 2}}},
          {"kernel", {{"features", {{"btf", true}, {"bpf_lsm", false}, {"kernel_release", "6.1"}}}}}};
}

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

}  // namespace

TEST_CASE("metrics are the status document in Prometheus text") {
  ReloadMetrics reloads;
  reloads.applied = 3;
  reloads.refused = 1;
  reloads.duration.observe(0.004);
  reloads.duration.observe(0.2);
  const std::string text = render(status_with({sandbox("acme/eng/coder-1", 5, 2)}), reloads, 500);
  CHECK(has_line(text, "# TYPE agentd_sandbox_verdicts_total counter"));
  CHECK(
      has_line(text, R"(agentd_sandbox_verdicts_total{tenant="acme",team="eng",agent="coder-1",verdict="allowed"} 5)"));
  CHECK(
      has_line(text, R"(agentd_sandbox_verdicts_total{tenant="acme",team="eng",agent="coder-1",verdict="denied"} 2)"));
  CHECK(has_line(text,
                 R"(agentd_sandbox_dns_queries_total{tenant="acme",team="eng",agent="coder-1",verdict="refused"} 2)"));
  CHECK(has_line(text, R"(agentd_sandbox_learned_addresses{tenant="acme",team="eng",agent="coder-1"} 3)"));
  CHECK(has_line(text, R"(agentd_sandbox_pending_requests{tenant="acme",team="eng",agent="coder-1"} 1)"));
  CHECK(has_line(text, "agentd_policy_generation 7"));
  CHECK(has_line(text, R"(agentd_policy_reloads_total{result="applied"} 3)"));
  CHECK(has_line(text, R"(agentd_policy_reloads_total{result="refused"} 1)"));
  CHECK(has_line(text, R"(agentd_policy_reload_duration_seconds_bucket{le="0.005"} 1)"));
  CHECK(has_line(text, R"(agentd_policy_reload_duration_seconds_bucket{le="0.25"} 2)"));
  CHECK(has_line(text, R"(agentd_policy_reload_duration_seconds_bucket{le="+Inf"} 2)"));
  CHECK(has_line(text, "agentd_policy_reload_duration_seconds_count 2"));
  CHECK(has_line(text, R"(agentd_events_total{outcome="dropped"} 1)"));
  CHECK(has_line(text, R"(agentd_kernel_feature{feature="btf"} 1)"));
  CHECK(has_line(text, R"(agentd_kernel_feature{feature="bpf_lsm"} 0)"));
  CHECK(text.find("kernel_release") == std::string::npos);  // not a number: no series
  CHECK(has_line(text, "agentd_policy_last_reload_refused 0"));
}

TEST_CASE("budget counters of status are metrics too") {
  json status = status_with({sandbox("acme/eng/coder-1", 5, 2), sandbox("globex/ops/bot", 1, 1)});
  status["dns"]["sandboxes"][0].update({{"quota_hits", 7},
                                        {"tcp_refused", 3},
                                        {"tcp_evicted", 0},
                                        {"tcp_idle_closed", 4},
                                        {"tcp_cut_off", 5},
                                        {"in_flight_refused", 6}});
  status["dns"]["records_held"] = 11;
  status["approvals"].update(
      {{"requests_folded", 40},
       {"folds", 2},
       {"caps", {{"per_sandbox", 32}, {"per_tenant", 256}}},
       {"grant_entries", 9},
       {"grant_write_failures", 1},
       {"grant_limit",
        {{"per_tenant", 4096}, {"by_tenant", {{"acme", 8}, {"globex", 1}}}, {"over_limit", 0}, {"refused", 3}}},
       {"store",
        {{"bytes", 100},
         {"max_bytes", 268435456},
         {"pruned_for_size_by_kind", {{"audit", 12}, {"requests", 13}, {"grants", 14}}},
         {"denial_rows", {{"not_stored", 15}}}}}});
  status["control"] = {{"clients", 2},
                       {"subscriptions", 16},
                       {"limits", {{"per_uid", 64}, {"subscriptions_per_uid", 16}, {"total", 4096}}}};
  const std::string text = render(status, ReloadMetrics{}, 500);
  const std::string coder = R"(tenant="acme",team="eng",agent="coder-1")";
  CHECK(has_line(text, "agentd_sandbox_dns_budget_refusals_total{" + coder + R"(,budget="learned_quota"} 7)"));
  CHECK(has_line(text, "agentd_sandbox_dns_budget_refusals_total{" + coder + R"(,budget="tcp_refused"} 3)"));
  CHECK(has_line(text, "agentd_sandbox_dns_budget_refusals_total{" + coder + R"(,budget="tcp_idle_closed"} 4)"));
  CHECK(has_line(text, "agentd_sandbox_dns_budget_refusals_total{" + coder + R"(,budget="tcp_cut_off"} 5)"));
  CHECK(has_line(text, "agentd_sandbox_dns_budget_refusals_total{" + coder + R"(,budget="in_flight"} 6)"));
  // A sandbox whose part says nothing reads 0, not missing.
  CHECK(has_line(
      text,
      R"(agentd_sandbox_dns_budget_refusals_total{tenant="globex",team="ops",agent="bot",budget="in_flight"} 0)"));
  CHECK(has_line(text, "agentd_dns_records_held_total 11"));
  CHECK(has_line(text, "agentd_approvals_denials_folded_total 40"));
  CHECK(has_line(text, "agentd_approvals_fold_entries 2"));
  CHECK(has_line(text, R"(agentd_approvals_request_cap{per="tenant"} 256)"));
  CHECK(has_line(text, "agentd_approvals_grant_entries 9"));
  CHECK(has_line(text, "agentd_approvals_grant_entries_per_tenant_limit 4096"));
  CHECK(has_line(text, "agentd_approvals_grants_refused_total 3"));
  CHECK(has_line(text, "agentd_approvals_grant_write_failures_total 1"));
  CHECK(has_line(text, R"(agentd_tenant_grant_entries{tenant="acme"} 8)"));
  CHECK(has_line(text, R"(agentd_store_pruned_for_size_total{kind="requests"} 13)"));
  CHECK(has_line(text, "agentd_store_denial_rows_not_stored_total 15"));
  CHECK(has_line(text, "agentd_store_max_bytes 268435456"));
  CHECK(has_line(text, "agentd_control_subscriptions 16"));
  CHECK(has_line(text, R"(agentd_control_limit{what="subscriptions_per_uid"} 16)"));
  // Tenants past the cap are summed too.
  const std::string capped = render(status, ReloadMetrics{}, 1);
  CHECK(has_line(capped, R"(agentd_tenant_grant_entries{tenant="acme"} 8)"));
  CHECK(has_line(capped, R"(agentd_tenant_grant_entries{tenant="_other"} 1)"));
  CHECK(capped.find(R"(tenant="globex")") == std::string::npos);
}

TEST_CASE("past the cap, sandboxes are summed into one _other series") {
  std::vector<json> many;
  many.reserve(5);
  for (int i = 0; i < 5; ++i) many.push_back(sandbox("acme/eng/a" + std::to_string(i), 1, 10));
  const std::string text = render(status_with(many), ReloadMetrics{}, 2);
  CHECK(has_line(text, R"(agentd_sandbox_verdicts_total{tenant="acme",team="eng",agent="a1",verdict="denied"} 10)"));
  CHECK(text.find(R"(agent="a2")") == std::string::npos);
  CHECK(has_line(text,
                 R"(agentd_sandbox_verdicts_total{tenant="_other",team="_other",agent="_other",verdict="denied"} 30)"));
  CHECK(has_line(text, "agentd_metrics_sandboxes_folded 3"));
}

TEST_CASE("label values are escaped and made UTF-8") {
  CHECK(escape_label_value("a\"b") == "a\\\"b");
  CHECK(escape_label_value("a\\b") == "a\\\\b");
  CHECK(escape_label_value("a\nb") == "a\\nb");
  CHECK(escape_label_value("a\x80z") == "a\\\\x80z");  // the \x80 safe_text writes, its backslash escaped
}

TEST_CASE("the metrics listen address is loopback or a unix socket, and a refusal says why") {
  auto v4 = parse_listen_address("127.0.0.1:9464");
  REQUIRE(v4);
  CHECK(v4->address.ss_family == AF_INET);
  CHECK(ntohs(reinterpret_cast<const sockaddr_in*>(&v4->address)->sin_port) == 9464);
  auto v6 = parse_listen_address("[::1]:9464");
  REQUIRE(v6);
  CHECK(v6->address.ss_family == AF_INET6);
  CHECK(parse_listen_address("localhost:1"));
  CHECK(parse_listen_address("127.3.4.5:9464"));
  auto path = parse_listen_address("unix:/run/agentd/metrics.sock");
  REQUIRE(path);
  CHECK(path->unix_path == "/run/agentd/metrics.sock");

  auto reason = [](const std::string& text) {
    auto parsed = parse_listen_address(text);
    REQUIRE_FALSE(parsed);
    return parsed.error().describe();
  };
  CHECK_THAT(reason("0.0.0.0:9464"), Catch::Contains("not a loopback address"));
  CHECK_THAT(reason("198.51.100.1:9464"), Catch::Contains("not a loopback address"));
  CHECK_THAT(reason("[::]:9464"), Catch::Contains("not a loopback address"));
  CHECK_THAT(reason("[2001:db8::1]:9464"), Catch::Contains("not a loopback address"));
  CHECK_THAT(reason("127.0.0.1"), Catch::Contains("ADDRESS:PORT"));
  CHECK_THAT(reason("127.0.0.1:0"), Catch::Contains("1-65535"));
  CHECK_THAT(reason("127.0.0.1:65536"), Catch::Contains("1-65535"));
  CHECK_THAT(reason("127.0.0.1:9x"), Catch::Contains("1-65535"));
  CHECK_THAT(reason("[::1]9464"), Catch::Contains("[::1]:PORT"));
  CHECK_THAT(reason("example.com:9464"), Catch::Contains("not an IP address"));
  CHECK_THAT(reason("unix:metrics.sock"), Catch::Contains("absolute path"));
  CHECK_THAT(reason("unix:/" + std::string(200, 'a')), Catch::Contains("longer than"));
  CHECK_THAT(reason("bad\x1b[2J:1"), Catch::Contains("\\x1b"));
}

TEST_CASE("bytes per sandbox: status shows them by class, the metrics carry them") {
  const json t = traffic(1000, 4000);
  CHECK(t["sent"]["bytes"] == 1060);
  CHECK(t["sent"]["by_class"]["rule"] == 1000);
  CHECK(t["sent"]["by_class"]["other"] == 60);
  CHECK(t["sent"]["by_class"]["name"] == 0);
  CHECK(t["received"]["bytes"] == 4000);
  CHECK(t["received"]["by_class"]["inference"] == 4000);
  CHECK(t["received"]["packets"] == 2);
  CHECK(std::string(agentd::bpf::traffic_class_name(99)) == "other");

  json one = sandbox("acme/eng/coder-1", 5, 2);
  one["traffic"] = t;
  const std::string text = render(status_with({one}), ReloadMetrics{}, 500);
  INFO(text);
  CHECK(has_line(text, "# TYPE agentd_sandbox_sent_bytes_total counter"));
  CHECK(
      has_line(text, R"(agentd_sandbox_sent_bytes_total{tenant="acme",team="eng",agent="coder-1",class="rule"} 1000)"));
  CHECK(
      has_line(text, R"(agentd_sandbox_sent_bytes_total{tenant="acme",team="eng",agent="coder-1",class="other"} 60)"));
  CHECK(has_line(
      text, R"(agentd_sandbox_received_bytes_total{tenant="acme",team="eng",agent="coder-1",class="inference"} 4000)"));
  CHECK(has_line(text, R"(agentd_sandbox_packets_total{tenant="acme",team="eng",agent="coder-1",direction="sent"} 3)"));
}
