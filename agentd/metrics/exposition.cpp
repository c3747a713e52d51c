#include "agentd/metrics/exposition.hpp"

#include <fmt/format.h>

#include <array>
#include <cmath>
#include <map>
#include <utility>
#include <vector>

#include "agentd/common/safe_text.hpp"

namespace agentd::metrics {

using nlohmann::json;

namespace {

using Labels = std::vector<std::pair<std::string, std::string>>;

// The writer: each family's HELP and TYPE once, then its samples.
class Text {
 public:
  void family(const std::string& name, const char* type, const char* help) {
    out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  void sample(const std::string& name, const Labels& labels, double value) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      for (size_t i = 0; i < labels.size(); ++i)
        out_ += fmt::format("{}{}=\"{}\"", i ? "," : "", labels[i].first, escape_label_value(labels[i].second));
      out_ += '}';
    }
    out_ += ' ';
    out_ += format_value(value);
    out_ += '\n';
  }
  // A family of one unlabelled sample.
  void single(const std::string& name, const char* type, const char* help, double value) {
    family(name, type, help);
    sample(name, {}, value);
  }
  std::string take() { return std::move(out_); }

 private:
  static std::string format_value(double value) {
    if (std::isnan(value)) return "NaN";
    if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
    // Whole numbers as integers (counters), checked in range before the cast.
    if (value < 9.0e15 && value > -9.0e15 && value == std::floor(value))
      return fmt::format("{}", static_cast<int64_t>(value));
    return fmt::format("{}", value);
  }
  std::string out_;
};

// A number at `pointer` in `doc`, 0 where it is missing or not a number
// (a status from an agentd without that part: the series reads 0).
double number(const json& doc, const char* pointer) {
  const json::json_pointer at(pointer);
  if (!doc.contains(at)) return 0;
  const json& value = doc.at(at);
  if (value.is_number()) return value.get<double>();
  if (value.is_boolean()) return value.get<bool>() ? 1 : 0;
  return 0;
}

// tenant/team/agent of "acme/eng/coder-1".
Labels agent_labels(const std::string& agent) {
  std::array<std::string, 3> parts;
  size_t start = 0;
  for (size_t i = 0; i < 3; ++i) {
    const size_t slash = i < 2 ? agent.find('/', start) : std::string::npos;
    parts[i] = agent.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return {{"tenant", parts[0]}, {"team", parts[1]}, {"agent", parts[2]}};
}

Labels with(Labels labels, const std::string& name, const std::string& value) {
  labels.emplace_back(name, value);
  return labels;
}

// One sandbox's numbers, summed where several share a series.
struct SandboxSeries {
  Labels labels;
  std::map<std::string, double> values;
};

constexpr std::array<std::pair<const char*, const char*>, 20> kSandboxFields = {{
    {"sent_inference", "/traffic/sent/by_class/inference"},
    {"sent_rule", "/traffic/sent/by_class/rule"},
    {"sent_name", "/traffic/sent/by_class/name"},
    {"sent_other", "/traffic/sent/by_class/other"},
    {"received_inference", "/traffic/received/by_class/inference"},
    {"received_rule", "/traffic/received/by_class/rule"},
    {"received_name", "/traffic/received/by_class/name"},
    {"received_other", "/traffic/received/by_class/other"},
    {"sent_packets", "/traffic/sent/packets"},
    {"received_packets", "/traffic/received/packets"},
    {"allowed", "/allowed"},
    {"denied", "/denied"},
    {"recorded", "/recorded"},
    {"suppressed", "/suppressed"},
    {"held", "/held"},
    {"dropped", "/dropped"},
    {"names_verified", "/names/verified"},
    {"names_refused", "/names/refused"},
    {"names_unverifiable", "/names/unverifiable"},
    {"running", "/running"},
}};

// Per sandbox, what each of its DNS budgets refused it.
constexpr std::array<std::pair<const char*, const char*>, 6> kDnsBudgetFields = {{
    {"dns_quota_hits", "/quota_hits"},
    {"dns_tcp_refused", "/tcp_refused"},
    {"dns_tcp_evicted", "/tcp_evicted"},
    {"dns_tcp_idle_closed", "/tcp_idle_closed"},
    {"dns_tcp_cut_off", "/tcp_cut_off"},
    {"dns_in_flight_refused", "/in_flight_refused"},
}};

std::vector<SandboxSeries> sandbox_series(const json& status, size_t max_series, size_t& folded) {
  // DNS and approval numbers by agent, from their own parts of status.
  std::map<std::string, const json*> dns_by_agent;
  if (const auto it = status.find("dns"); it != status.end() && it->contains("sandboxes"))
    for (const auto& d : (*it)["sandboxes"])
      if (d.contains("agent") && d["agent"].is_string()) dns_by_agent[d["agent"].get<std::string>()] = &d;
  std::map<std::string, double> pending_by_agent;
  if (status.contains(json::json_pointer("/approvals/pending_by_sandbox")))
    for (const auto& [agent, n] : status.at(json::json_pointer("/approvals/pending_by_sandbox")).items())
      if (n.is_number()) pending_by_agent[agent] = n.get<double>();

  std::vector<SandboxSeries> series;
  folded = 0;
  const json empty = json::array();
  const json& sandboxes = status.contains("sandboxes") && status["sandboxes"].is_array() ? status["sandboxes"] : empty;
  for (const auto& s : sandboxes) {
    const std::string agent = s.value("agent", "");
    json item = s;
    item["running"] = s.value("state", "") == "running";
    SandboxSeries one;
    for (const auto& [key, pointer] : kSandboxFields) one.values[key] = number(item, pointer);
    if (auto d = dns_by_agent.find(agent); d != dns_by_agent.end()) {
      one.values["dns_allowed"] = number(*d->second, "/queries/allowed");
      one.values["dns_refused"] = number(*d->second, "/queries/refused");
      one.values["learned"] = number(*d->second, "/learned");
      // What the sandbox's DNS budgets refused it (README, "DNS budgets").
      for (const auto& [key, pointer] : kDnsBudgetFields) one.values[key] = number(*d->second, pointer);
    }
    one.values["pending"] = pending_by_agent.contains(agent) ? pending_by_agent[agent] : 0;
    if (series.size() < max_series) {
      one.labels = agent_labels(agent);
      series.push_back(std::move(one));
      continue;
    }
    // Past the cap: into the one "_other" series, which comes last.
    if (folded++ == 0) series.push_back({{{"tenant", "_other"}, {"team", "_other"}, {"agent", "_other"}}, {}});
    for (const auto& [key, value] : one.values) series.back().values[key] += value;
  }
  return series;
}

// Grant entries per tenant: at most max_series tenants (those holding
// entries, by name), the rest summed into tenant="_other".
void write_tenants(Text& text, const json& status, size_t max_series) {
  text.family("agentd_tenant_grant_entries", "gauge", "Kernel grant entries the tenant's grants hold.");
  const json::json_pointer at("/approvals/grant_limit/by_tenant");
  if (!status.contains(at) || !status.at(at).is_object()) return;
  size_t shown = 0;
  double other = 0;
  bool folded = false;
  for (const auto& [tenant, n] : status.at(at).items()) {
    if (!n.is_number()) continue;
    if (shown++ < max_series) {
      text.sample("agentd_tenant_grant_entries", {{"tenant", tenant}}, n.get<double>());
    } else {
      other += n.get<double>();
      folded = true;
    }
  }
  if (folded) text.sample("agentd_tenant_grant_entries", {{"tenant", "_other"}}, other);
}

void write_sandboxes(Text& text, const json& status, size_t max_series) {
  size_t folded = 0;
  const auto series = sandbox_series(status, max_series, folded);
  auto per_sandbox = [&](const std::string& name, const char* type, const char* help,
                         const std::vector<std::pair<const char*, std::string>>& keys, const char* label) {
    text.family(name, type, help);
    for (const auto& s : series)
      for (const auto& [key, value] : keys) {
        auto found = s.values.find(key);
        const double v = found == s.values.end() ? 0 : found->second;
        text.sample(name, label ? with(s.labels, label, value) : s.labels, v);
      }
  };
  per_sandbox("agentd_sandbox_sent_bytes_total", "counter",
              "Bytes the sandbox's sockets sent (IP packets), by what allowed them: the tenant's inference "
              "endpoints, a CIDR rule, a name (host rule), or other (grants, DNS, anything over loopback).",
              {{"sent_inference", "inference"}, {"sent_rule", "rule"}, {"sent_name", "name"}, {"sent_other", "other"}},
              "class");
  per_sandbox("agentd_sandbox_received_bytes_total", "counter",
              "Bytes the sandbox's sockets received (IP packets), by what allowed the socket's traffic.",
              {{"received_inference", "inference"},
               {"received_rule", "rule"},
               {"received_name", "name"},
               {"received_other", "other"}},
              "class");
  per_sandbox("agentd_sandbox_packets_total", "counter",
              "Packets the sandbox's sockets sent and received (a GSO or GRO batch counts once).",
              {{"sent_packets", "sent"}, {"received_packets", "received"}}, "direction");
  per_sandbox("agentd_sandbox_verdicts_total", "counter",
              "Connections and sends the kernel judged for the sandbox, by verdict.",
              {{"allowed", "allowed"}, {"denied", "denied"}}, "verdict");
  per_sandbox("agentd_sandbox_denial_records_total", "counter",
              "What became of the sandbox's denials: recorded, suppressed (repeats of one destination), held "
              "(its record budget) or dropped (the ring was full).",
              {{"recorded", "recorded"}, {"suppressed", "suppressed"}, {"held", "held"}, {"dropped", "dropped"}},
              "outcome");
  per_sandbox("agentd_sandbox_name_checks_total", "counter",
              "Name-allowed TCP connections by what their first bytes showed.",
              {{"names_verified", "verified"}, {"names_refused", "refused"}, {"names_unverifiable", "unverifiable"}},
              "outcome");
  per_sandbox("agentd_sandbox_dns_queries_total", "counter", "The sandbox's DNS queries, by the proxy's verdict.",
              {{"dns_allowed", "allowed"}, {"dns_refused", "refused"}}, "verdict");
  per_sandbox("agentd_sandbox_dns_budget_refusals_total", "counter",
              "What the sandbox's DNS budgets refused it: answers past its learned-address quota, TCP connections "
              "refused at accept or evicted, idle ones closed, clients cut off for not reading, queries past its "
              "in-flight limit.",
              {{"dns_quota_hits", "learned_quota"},
               {"dns_tcp_refused", "tcp_refused"},
               {"dns_tcp_evicted", "tcp_evicted"},
               {"dns_tcp_idle_closed", "tcp_idle_closed"},
               {"dns_tcp_cut_off", "tcp_cut_off"},
               {"dns_in_flight_refused", "in_flight"}},
              "budget");
  per_sandbox("agentd_sandbox_learned_addresses", "gauge", "Addresses the sandbox holds through DNS answers.",
              {{"learned", ""}}, nullptr);
  per_sandbox("agentd_sandbox_pending_requests", "gauge", "Approval requests of the sandbox waiting for an operator.",
              {{"pending", ""}}, nullptr);
  per_sandbox("agentd_sandbox_running", "gauge", "1 while a process runs in the sandbox, 0 while it is empty.",
              {{"running", ""}}, nullptr);
  text.family("agentd_metrics_sandboxes_folded", "gauge",
              "Sandboxes past --metrics-sandboxes, summed into the tenant=\"_other\" series.");
  text.sample("agentd_metrics_sandboxes_folded", {}, static_cast<double>(folded));
}

void write_daemon(Text& text, const json& status, const ReloadMetrics& reloads) {
  text.family("agentd_build_info", "gauge", "agentd's version.");
  text.sample("agentd_build_info", {{"version", status.value(json::json_pointer("/daemon/version"), "")}}, 1);
  text.family("agentd_sandboxes", "gauge", "Sandboxes agentd holds.");
  text.sample("agentd_sandboxes", {},
              status.contains("sandboxes") ? static_cast<double>(status["sandboxes"].size()) : 0);

  text.family("agentd_policy_generation", "gauge", "The running policy's generation (1 at start, +1 per reload).");
  text.sample("agentd_policy_generation", {}, number(status, "/policy/generation"));
  text.family("agentd_policy_reloads_total", "counter", "Policy reloads since agentd started, by result.");
  text.sample("agentd_policy_reloads_total", {{"result", "applied"}}, static_cast<double>(reloads.applied));
  text.sample("agentd_policy_reloads_total", {{"result", "refused"}}, static_cast<double>(reloads.refused));
  text.family("agentd_policy_last_reload_refused", "gauge",
              "1 while the last reload was refused (the previous policy is enforced).");
  const bool refused = status.contains(json::json_pointer("/policy/last_error")) &&
                       status.at(json::json_pointer("/policy/last_error")).is_string();
  text.sample("agentd_policy_last_reload_refused", {}, refused ? 1 : 0);
  text.family("agentd_policy_reload_duration_seconds", "histogram", "How long applied reloads took.");
  for (size_t i = 0; i < reloads.duration.bounds().size(); ++i)
    text.sample("agentd_policy_reload_duration_seconds_bucket",
                {{"le", fmt::format("{}", reloads.duration.bounds()[i])}},
                static_cast<double>(reloads.duration.cumulative()[i]));
  text.sample("agentd_policy_reload_duration_seconds_bucket", {{"le", "+Inf"}},
              static_cast<double>(reloads.duration.count()));
  text.sample("agentd_policy_reload_duration_seconds_sum", {}, reloads.duration.sum());
  text.sample("agentd_policy_reload_duration_seconds_count", {}, static_cast<double>(reloads.duration.count()));

  text.family("agentd_events_total", "counter",
              "Denial records: received by agentd, dropped (the ring was full), suppressed, held (sandbox budgets), "
              "malformed.");
  for (const auto& [outcome, pointer] :
       std::vector<std::pair<const char*, const char*>>{{"received", "/events/received"},
                                                        {"dropped", "/events/dropped"},
                                                        {"suppressed", "/events/suppressed"},
                                                        {"held", "/events/held"},
                                                        {"malformed", "/events/malformed"}})
    text.sample("agentd_events_total", {{"outcome", outcome}}, number(status, pointer));
  text.family("agentd_unclassified_sockets_total", "counter",
              "Sockets under the sandbox root in no known sandbox (denied everything).");
  text.sample("agentd_unclassified_sockets_total", {}, number(status, "/events/unclassified_sockets"));

  text.single("agentd_dns_records_held_total", "counter",
              "DNS denial records held back past a sandbox's 20 a second (counted in its next record).",
              number(status, "/dns/records_held"));
  text.family("agentd_dns_queries_total", "counter", "The DNS proxy's queries, by what became of them.");
  if (status.contains(json::json_pointer("/dns/queries")))
    for (const auto& [outcome, value] : status.at(json::json_pointer("/dns/queries")).items())
      if (value.is_number()) text.sample("agentd_dns_queries_total", {{"outcome", outcome}}, value.get<double>());

  text.family("agentd_approvals_pending_requests", "gauge", "Approval requests waiting for an operator.");
  text.sample("agentd_approvals_pending_requests", {}, number(status, "/approvals/pending_requests"));
  text.family("agentd_approvals_requests_total", "counter", "Approval requests opened since agentd started.");
  text.sample("agentd_approvals_requests_total", {}, number(status, "/approvals/requests_created"));
  text.family("agentd_approvals_grants", "gauge", "Live grants.");
  text.sample("agentd_approvals_grants", {}, number(status, "/approvals/grants"));
  text.family("agentd_approvals_watchers", "gauge", "Operators watching (agentctl watch).");
  text.sample("agentd_approvals_watchers", {}, number(status, "/approvals/watchers"));

  // The folds past the request caps, and the grant entries: one sample each.
  struct Scalar {
    const char *name, *type, *help, *pointer;
  };
  static constexpr std::array<Scalar, 7> kApprovalScalars = {{
      {"agentd_approvals_denials_folded_total", "counter",
       "Denials of new destinations past the pending-request caps, folded into fold entries.",
       "/approvals/requests_folded"},
      {"agentd_approvals_fold_entries", "gauge",
       "Fold entries (\"N more destinations from this sandbox\"): sandboxes past a request cap.", "/approvals/folds"},
      {"agentd_approvals_grant_entries", "gauge",
       "Entries the live grants hold in the kernel (one per address or name and sandbox covered).",
       "/approvals/grant_entries"},
      {"agentd_approvals_grant_entries_per_tenant_limit", "gauge",
       "Kernel grant entries one tenant's grants may hold (--grants-per-tenant).", "/approvals/grant_limit/per_tenant"},
      {"agentd_approvals_grant_entries_over_limit", "gauge",
       "Grant entries not written: their tenant was at its limit (sandboxes made after its grants).",
       "/approvals/grant_limit/over_limit"},
      {"agentd_approvals_grants_refused_total", "counter",
       "Approvals refused: the grant would take its tenant past --grants-per-tenant.",
       "/approvals/grant_limit/refused"},
      {"agentd_approvals_grant_write_failures_total", "counter",
       "Writes of grant entries into the kernel that failed (a grant the kernel does not hold).",
       "/approvals/grant_write_failures"},
  }};
  for (const auto& m : kApprovalScalars) text.single(m.name, m.type, m.help, number(status, m.pointer));
  text.family("agentd_approvals_request_cap", "gauge",
              "Pending approval requests allowed, per sandbox and per tenant.");
  text.sample("agentd_approvals_request_cap", {{"per", "sandbox"}}, number(status, "/approvals/caps/per_sandbox"));
  text.sample("agentd_approvals_request_cap", {{"per", "tenant"}}, number(status, "/approvals/caps/per_tenant"));

  text.family("agentd_store_bytes", "gauge", "The SQLite store's size (pages in use).");
  text.sample("agentd_store_bytes", {}, number(status, "/approvals/store/bytes"));
  text.single("agentd_store_max_bytes", "gauge", "The store's size cap (--audit-max-mb).",
              number(status, "/approvals/store/max_bytes"));
  text.family("agentd_store_pruned_for_size_total", "counter",
              "Rows the store removed to stay under its cap, by kind (audit events, finished requests, ended grants).");
  for (const auto& [kind, pointer] : std::vector<std::pair<const char*, const char*>>{
           {"audit", "/approvals/store/pruned_for_size_by_kind/audit"},
           {"requests", "/approvals/store/pruned_for_size_by_kind/requests"},
           {"grants", "/approvals/store/pruned_for_size_by_kind/grants"}})
    text.sample("agentd_store_pruned_for_size_total", {{"kind", kind}}, number(status, pointer));
  text.single("agentd_store_denial_rows_not_stored_total", "counter",
              "Denial rows past the store's write budget (they reached the events log and the SIEM).",
              number(status, "/approvals/store/denial_rows/not_stored"));
  text.family("agentd_store_rows_written_total", "counter", "Rows written to the store.");
  text.sample("agentd_store_rows_written_total", {}, number(status, "/approvals/store/written"));
  text.family("agentd_store_errors_total", "counter", "Store writes that failed.");
  text.sample("agentd_store_errors_total", {}, number(status, "/approvals/store/errors"));

  text.family("agentd_control_clients", "gauge", "Clients connected to the control socket.");
  text.sample("agentd_control_clients", {}, number(status, "/control/clients"));
  text.single("agentd_control_subscriptions", "gauge", "Control-socket subscriptions (agentctl watch).",
              number(status, "/control/subscriptions"));
  text.family("agentd_control_limit", "gauge",
              "What the control socket allows: connections and subscriptions per uid, connections in all.");
  for (const auto& [what, pointer] : std::vector<std::pair<const char*, const char*>>{
           {"connections_per_uid", "/control/limits/per_uid"},
           {"subscriptions_per_uid", "/control/limits/subscriptions_per_uid"},
           {"connections", "/control/limits/total"}})
    text.sample("agentd_control_limit", {{"what", what}}, number(status, pointer));
  text.family("agentd_control_refused_total", "counter", "Control-socket clients refused, by why.");
  for (const auto& [why, pointer] :
       std::vector<std::pair<const char*, const char*>>{{"in_sandbox", "/control/refused_in_sandbox"},
                                                        {"over_limit", "/control/refused_over_limit"},
                                                        {"no_role", "/control/refused_no_role"},
                                                        {"out_of_descriptors", "/control/shed_out_of_descriptors"}})
    text.sample("agentd_control_refused_total", {{"why", why}}, number(status, pointer));

  text.family("agentd_failures_total", "counter",
              "Units of work that threw, were logged with their cause and skipped, by kind.");
  for (const auto& [kind, pointer] :
       std::vector<std::pair<const char*, const char*>>{{"records", "/failures/records"},
                                                        {"control_requests", "/failures/control_requests"},
                                                        {"dns", "/failures/dns"},
                                                        {"loop_callbacks", "/failures/loop_callbacks"}})
    text.sample("agentd_failures_total", {{"kind", kind}}, number(status, pointer));

  text.family("agentd_kernel_feature", "gauge", "Kernel features agentd found (1 present, 0 not).");
  if (status.contains(json::json_pointer("/kernel/features")))
    for (const auto& [feature, value] : status.at(json::json_pointer("/kernel/features")).items())
      if (value.is_boolean()) text.sample("agentd_kernel_feature", {{"feature", feature}}, value.get<bool>() ? 1 : 0);
}

}  // namespace

std::string escape_label_value(const std::string& value) {
  const std::string text = safe_text(value);
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string render(const json& status, const ReloadMetrics& reloads, size_t max_sandbox_series) {
  Text text;
  write_daemon(text, status, reloads);
  write_sandboxes(text, status, max_sandbox_series);
  write_tenants(text, status, max_sandbox_series);
  return text.take();
}

}  // namespace agentd::metrics
