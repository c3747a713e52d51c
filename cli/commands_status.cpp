// agentctl status and sandbox list|adopt.
#include <iostream>

#include <nlohmann/json.hpp>
#include <fmt/format.h>

#include "agentd/api/client.hpp"
#include "agentd/api/requests.hpp"
#include "agentd/common/duration.hpp"
#include "agentd/common/json_dump.hpp"
#include "commands.hpp"
#include "record_text.hpp"
#include "table.hpp"
#include "terminal_text.hpp"

namespace agentctl {
using nlohmann::json;

namespace {

void print_sandboxes(const json& sandboxes) {
  // DENIED = RECORDED + SUPPRESSED + HELD + DROPPED, per sandbox.
  Table table({"AGENT", "SLOT", "STATE", "AGE", "CLASS", "ALLOWED", "DENIED", "RECORDED", "SUPPRESSED", "HELD",
               "DROPPED", "CGROUP"});
  for (const auto& s : sandboxes) {
    const int64_t age = s.value("age_seconds", int64_t{-1});
    table.add({json_text(s["agent"]), json_text(s["slot"]),
               json_text(s["state"]) + (s.value("keep", false) ? " (kept)" : ""),
               age >= 0 ? agentd::format_duration(std::chrono::seconds{age}) : "-", json_text(s["class_id"]),
               json_text(s["allowed"]), json_text(s["denied"]), json_text(s["recorded"]), json_text(s["suppressed"]),
               json_text(s["held"]), json_text(s["dropped"]),
               json_text(s["cgroup"]) + (s.value("adopted", false) ? " (adopted)" : "")});
  }
  table.print(std::cout);
}

// Name-allowed TCP connections by what their first bytes showed: an
// allowed name, a refusal, or another protocol passed by address. Only
// the sandboxes that made any.
void print_name_checks(const json& sandboxes) {
  Table table({"AGENT", "VERIFIED", "REFUSED", "UNVERIFIABLE"});
  bool any = false;
  for (const auto& s : sandboxes) {
    if (!s.contains("names")) continue;
    const json& n = s["names"];
    if (n.value("verified", uint64_t{0}) + n.value("refused", uint64_t{0}) + n.value("unverifiable", uint64_t{0}) == 0)
      continue;
    any = true;
    table.add({json_text(s["agent"]), json_text(n["verified"]), json_text(n["refused"]), json_text(n["unverifiable"])});
  }
  if (!any) return;
  std::cout << "\nname checks (connections allowed only by a host rule or a name grant):\n";
  table.print(std::cout);
}

// Only the sandboxes that hold something or hit a budget: a flood shows
// against the sandbox that made it.
void print_dns_budgets(const json& sandboxes) {
  Table table({"AGENT", "LEARNED", "QUOTA HITS", "TCP", "TCP REFUSED", "IDLE CLOSED", "CUT OFF", "IN FLIGHT REFUSED",
               "PAST SHARE"});
  bool any = false;
  for (const auto& s : sandboxes) {
    const auto n = [&](const char* key) { return s.value(key, uint64_t{0}); };
    if (n("learned") + n("quota_hits") + n("tcp") + n("tcp_refused") + n("tcp_evicted") + n("tcp_idle_closed") +
            n("tcp_cut_off") + n("in_flight_refused") + n("upstream_refused") ==
        0)
      continue;
    any = true;
    table.add(
        {json_text(s["agent"]), json_text(s["learned"]) + "/" + json_text(s["quota"]), json_text(s["quota_hits"]),
         json_text(s["tcp"]),
         json_text(s["tcp_refused"]) + (n("tcp_evicted") ? " (+" + json_text(s["tcp_evicted"]) + " evicted)" : ""),
         json_text(s["tcp_idle_closed"]), json_text(s["tcp_cut_off"]), json_text(s["in_flight_refused"]),
         json_text(s.value("upstream_refused", json(0)))});
  }
  if (any) table.print(std::cout);
}

int fail(const agentd::Error& error) {
  std::cerr << "agentctl: " << terminal_text(error.describe()) << "\n";  // may quote a record
  return kExitFailure;
}

}  // namespace

int status(const Globals& g, std::optional<uint32_t> sandboxes) {
  auto result = agentd::api::call(
      g.socket, agentd::api::StatusRequest{sandboxes ? std::optional<uint64_t>(*sandboxes) : std::nullopt}.to_json());
  if (!result) return fail(result.error());
  const json& s = *result;
  if (g.output == "json") {
    std::cout << agentd::dump_json(s, 2) << "\n";
    return 0;
  }
  const json& d = s["daemon"];
  std::cout << "agentd " << json_text(d["version"]) << " (pid " << json_text(d["pid"]) << "), up since "
            << json_text(d["started_at"]) << "\n"
            << "  cgroup root " << json_text(d["cgroup_root"]) << ", bpffs " << json_text(d["bpffs_dir"]) << "\n\n";
  const json& p = s["policy"];
  std::cout << "policy " << json_text(p["dir"]) << ": generation " << json_text(p["generation"]) << ", loaded "
            << json_text(p["loaded_at"]) << " (" << json_text(p["last_reload"]["trigger"]) << ", "
            << json_text(p["last_reload"]["ms"]) << " ms)\n  digest " << json_text(p["digest"])
            << (p.value("watching", false) ? ", watching the dir for changes" : "") << "\n";
  if (!p["last_error"].is_null()) std::cout << "  last reload refused:\n" << json_text(p["last_error"]) << "\n";
  if (const json f = p.value("fleet", json(nullptr)); f.is_object()) {
    std::cout << "  fleet: host " << json_text(f["host"]) << ", etcd revision " << json_text(f["applied_revision"])
              << " applied (" << json_text(f["received_revision"]) << " received), " << json_text(f["watch"]) << "\n";
    if (f["last_refusal"].is_object())
      std::cout << "  etcd revision " << json_text(f["last_refusal"]["revision"]) << " refused at "
                << json_text(f["last_refusal"]["at"]) << "\n";
  }
  Table tenants({"TENANT", "RULES", "INFERENCE", "FILE"});
  for (const auto& t : p["tenants"])
    tenants.add({json_text(t["tenant"]), json_text(t["rules"]), json_text(t["inference"]), json_text(t["file"])});
  tenants.print(std::cout);
  const size_t count = s.value("sandbox_count", s["sandboxes"].size());
  std::cout << "\nsandboxes: " << count << "\n";
  print_sandboxes(s["sandboxes"]);
  if (count > s["sandboxes"].size())
    std::cout << "  ... and " << count - s["sandboxes"].size()
              << " more (agentctl status --sandboxes N, or agentctl sandbox list)\n";
  print_name_checks(s["sandboxes"]);
  const json& e = s["events"];
  std::cout << "\ndenial records: " << json_text(e["received"]) << " received, " << json_text(e["dropped"])
            << " dropped (ring full), " << json_text(e["suppressed"]) << " suppressed (repeats of one destination), "
            << json_text(e["held"]) << " held by sandbox budgets of "
            << json_text(e["sandbox_budget"]["records_per_second"]) << "/s, burst "
            << json_text(e["sandbox_budget"]["burst"]) << " (each counted per sandbox above), "
            << json_text(e["malformed"]) << " malformed, " << json_text(e["records_failed"])
            << " failed (logged and skipped)\n";
  if (const json& dns = s["dns"]; dns.value("enabled", false)) {
    const json& q = dns["queries"];
    // No upstream is something to fix, so it says why and what it costs.
    const std::string upstream = dns["upstream"].is_null()
                                     ? fmt::format("none ({}; {} allowed names refused)", json_text(dns["no_upstream"]),
                                                   json_text(dns["no_upstream_refused"]))
                                     : json_text(dns["upstream"]);
    std::cout << "dns proxy: upstream " << upstream << ", 127.64.<slot>:" << json_text(dns["port"])
              << ", [::1]:" << json_text(dns["ipv6"]["port_base"]) << "+<slot> ("
              << json_text(dns["ipv6"]["sandboxes_served"])
              << " sandboxes served)\n  queries: " << json_text(q["received"]) << " received, "
              << json_text(q["refused"]) << " refused, " << json_text(q["forwarded"]) << " forwarded ("
              << json_text(q["forwarded_tcp"]) << " over TCP), " << json_text(q["cache_hits"]) << " from the cache, "
              << json_text(q["upstream_failures"]) << " upstream failures, " << json_text(q["mismatched"])
              << " stray answers discarded, " << json_text(q["malformed"])
              << " malformed; reverse lookups: " << json_text(dns["reverse_answered"]) << " answered here, "
              << json_text(dns["reverse_refused"])
              << " refused quietly\n  learned: " << json_text(dns["learned_entries"]) << " addresses now, "
              << json_text(dns["rebinding_refused"]) << " refused for rebinding, "
              << json_text(dns["unlearnable_refused"]) << " never learnable (broadcast, multicast, ...), "
              << json_text(dns["quota_refused"]) << " answers refused at a quota (" << json_text(dns["learned_quota"])
              << " a sandbox)\n  tcp: " << json_text(dns["tcp"]["connections"]) << " connections ("
              << json_text(dns["tcp"]["per_sandbox"]) << " a sandbox, " << json_text(dns["tcp"]["total"])
              << " in all), idle ones closed after " << json_text(dns["tcp"]["idle_timeout_ms"]) << " ms; "
              << json_text(q["over_budget"])
              << " queries past a sandbox's in-flight limit or its share of the upstream\n";
    print_dns_budgets(dns["sandboxes"]);
  } else {
    std::cout << "dns proxy: off\n";
  }
  if (const json& a = s["approvals"]; a.is_object()) {
    // Newer than the rest of "store": an older agentd has not got it.
    const json by_kind = a["store"].value("pruned_for_size_by_kind", json::object());
    std::cout << "approvals: " << json_text(a["pending_requests"]) << " pending ("
              << json_text(a.value("in_memory", json::object()).value("requests", json())) << " requests in memory), "
              << json_text(a["grants"]) << " grants (" << json_text(a["grant_entries"]) << " kernel entries), "
              << json_text(a["watchers"]) << " watching; store " << json_text(a["store"]["file"]) << ", "
              << json_text(a["store"]["audit_rows"]) << " audit events, " << json_text(a["store"]["bytes"])
              << " bytes of " << json_text(a["store"]["max_bytes"]) << " (file " << json_text(a["store"]["file_bytes"])
              << "; keeps " << json_text(a["store"]["max_age"]) << ", " << json_text(a["store"]["pruned_for_size"])
              << " oldest events, " << json_text(by_kind.value("requests", json())) << " finished requests and "
              << json_text(by_kind.value("grants", json())) << " ended grants removed for size)\n  requests capped at "
              << json_text(a["caps"]["per_sandbox"]) << " per sandbox, " << json_text(a["caps"]["per_tenant"])
              << " per tenant: " << json_text(a["requests_folded"]) << " denials folded into " << json_text(a["folds"])
              << " \"more destinations\" entries (agentctl approvals list)\n  denial rows into the store: "
              << json_text(a["store"]["denial_rows"]["last_second"]) << " in the last second, busiest "
              << json_text(a["store"]["denial_rows"]["busiest_second"]) << ", limit "
              << json_text(a["store"]["denial_rows"]["per_second_max"]) << "/s ("
              << json_text(a["store"]["denial_rows"].value("share_per_sandbox", json())) << " a sandbox, "
              << json_text(a["store"]["denial_rows"].value("sandboxes_writing", json())) << " writing), "
              << json_text(a["store"]["denial_rows"]["not_stored"]) << " not stored (counted in summary rows)\n";
    // Newer than the rest: an older agentd has not got it.
    if (const json limit = a.value("grant_limit", json()); limit.is_object()) {
      size_t busiest = 0;
      std::string busiest_tenant;
      const json by_tenant = limit.value("by_tenant", json::object());
      for (const auto& [tenant, n] : by_tenant.items())
        if (n.is_number_unsigned() && n.get<size_t>() > busiest) busiest = n.get<size_t>(), busiest_tenant = tenant;
      std::cout << "  grants: at most " << json_text(limit["per_tenant"]) << " kernel entries a tenant"
                << (busiest_tenant.empty()
                        ? std::string()
                        : ", most held by " + terminal_text(busiest_tenant) + " (" + std::to_string(busiest) + ")")
                << "; " << json_text(limit["refused"]) << " grants refused at the limit, "
                << json_text(limit["over_limit"]) << " entries left out by it, "
                << json_text(a.value("grant_write_failures", json())) << " kernel writes failed\n";
    }
  }
  std::cout << "\nkernel features:\n";
  Table features({"FEATURE", "VALUE"});
  for (const auto& [name, value] : s["kernel"]["features"].items()) features.add({name, json_text(value)});
  features.print(std::cout);
  std::cout << "socket family hook: " << json_text(s["kernel"]["enforcement"]["socket_family_hook"]) << "\n";
  return 0;
}

int sandbox_list(const Globals& g) {
  auto result = agentd::api::call(g.socket, {{"method", "sandbox.list"}});
  if (!result) return fail(result.error());
  if (g.output == "json") {
    std::cout << agentd::dump_json(*result, 2) << "\n";
  } else {
    print_sandboxes(*result);
  }
  return 0;
}

int sandbox_remove(const Globals& g, const std::string& agent) {
  auto result = agentd::api::call(g.socket, agentd::api::SandboxRemoveRequest{agent}.to_json());
  if (!result) return fail(result.error());
  std::cout << "removed the sandbox of " << json_text((*result)["agent"]) << " (slot " << json_text((*result)["slot"])
            << "); its records stay in the audit trail\n";
  return 0;
}

int sandbox_adopt(const Globals& g, const std::string& agent, const std::string& cgroup, bool unknown_tenant) {
  auto result = agentd::api::call(g.socket, agentd::api::SandboxAdoptRequest{agent, cgroup, unknown_tenant}.to_json());
  if (!result) return fail(result.error());
  std::cout << "adopted " << json_text((*result)["cgroup"]) << " as the sandbox of " << json_text((*result)["agent"])
            << " (slot " << json_text((*result)["slot"]) << ")\n";
  return 0;
}

}  // namespace agentctl
