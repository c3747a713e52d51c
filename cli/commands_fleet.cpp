// agentctl policy push | policy diff --fleet | fleet status.
#include "commands_fleet.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "agentd/common/json_dump.hpp"
#include "agentd/common/safe_text.hpp"
#include "agentd/fleet/etcd_client.hpp"
#include "agentd/fleet/policy_read.hpp"
#include "agentd/fleet/policy_snapshot.hpp"
#include "agentd/fleet/push_plan.hpp"
#include "agentd/policy/diff.hpp"
#include "agentd/policy/loader.hpp"

namespace agentctl {

using agentd::Result;
using agentd::terminal_text;
using nlohmann::json;
namespace fleet = agentd::fleet;

Result<EtcdConnection> connect_etcd(const EtcdArgs& args) {
  auto endpoints = fleet::parse_endpoints(args.endpoints);
  if (!endpoints) return endpoints.error();
  auto layout = fleet::KeyLayout::make(args.prefix);
  if (!layout) return layout.error();
  fleet::EtcdConfig config;
  config.endpoints = *endpoints;
  config.ca_file = args.ca_file;
  config.cert_file = args.cert_file;
  config.key_file = args.key_file;
  auto client = fleet::EtcdClient::make(std::move(config));
  if (!client) return client.error();
  return EtcdConnection{std::move(*client), std::move(*layout)};
}

namespace {

Result<EtcdConnection> connect(const EtcdArgs& args) { return connect_etcd(args); }

int fail(const std::string& message) {
  std::cerr << "agentctl: " << terminal_text(message) << "\n";
  return kExitFailure;
}

// The candidate dir, validated as agentd validates a policy: errors go to
// stderr and refuse the command.
std::optional<agentd::policy::PolicySet> load_dir(const std::string& dir) {
  auto loaded = agentd::policy::load_policy_dir(dir);
  for (const auto& e : loaded.errors) std::cerr << terminal_text(e.str()) << "\n";
  if (!loaded.ok()) {
    std::cerr << "agentctl: " << terminal_text(dir) << " does not validate: nothing was sent to etcd\n";
    return std::nullopt;
  }
  return std::move(*loaded.policy);
}

std::string push_record(const std::string& dir, const std::string& digest) {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  const auto now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  return agentd::dump_json({{"digest", digest}, {"from", dir}, {"host", host}, {"uid", getuid()}, {"unix_time", now}});
}

json changes_json(const fleet::PushPlan& plan) {
  json out = json::array();
  for (const auto& c : plan.changes) out.push_back({{"change", fleet::change_sign(c.kind)}, {"key", c.key}});
  return out;
}

void print_changes(const fleet::PushPlan& plan) {
  for (const auto& c : plan.changes) std::cout << fleet::change_sign(c.kind) << " " << terminal_text(c.key) << "\n";
}

// A local policy dir (validated) against what etcd holds now, as a plan.
struct Comparison {
  agentd::policy::PolicySet candidate;
  EtcdConnection conn;
  fleet::RangeAnswer current;
  fleet::PushPlan plan;
};

// Errors are printed; nullopt then.
std::optional<Comparison> compare(const EtcdArgs& etcd, const std::string& dir, int64_t base_revision) {
  auto candidate = load_dir(dir);
  if (!candidate) return std::nullopt;
  auto conn = connect(etcd);
  if (!conn) return fail(conn.error().describe()), std::nullopt;
  auto current = fleet::read_policy_range(conn->client, conn->layout);
  if (!current) return fail(current.error().describe()), std::nullopt;
  // The push record as it was at the base the operator diffed against (a
  // compacted base is an error: diff again).
  std::optional<int64_t> push_mod_at_base;
  if (base_revision > 0) {
    auto text = conn->client.call("/v3/kv/range", fleet::range_request(conn->layout.push_key(), "", base_revision));
    auto at_base = text ? fleet::parse_range(*text) : Result<fleet::RangeAnswer>(text.error());
    if (!at_base)
      return fail(fmt::format("reading revision {}: {}", base_revision, at_base.error().describe())), std::nullopt;
    push_mod_at_base = at_base->kvs.empty() ? 0 : at_base->kvs.front().mod_revision;
  }
  const auto& sources = *candidate->sources();
  auto plan = fleet::plan_push(*current, conn->layout, sources.files, sources.presets,
                               push_record(dir, candidate->source_digest()), base_revision, push_mod_at_base);
  if (!plan) return fail(plan.error().describe()), std::nullopt;
  return Comparison{std::move(*candidate), std::move(*conn), std::move(*current), std::move(*plan)};
}

}  // namespace

int policy_push(const Globals& g, const EtcdArgs& etcd, const std::string& dir, int64_t base_revision) {
  auto comparison = compare(etcd, dir, base_revision);
  if (!comparison) return kExitFailure;
  auto* conn = &comparison->conn;
  const auto* plan = &comparison->plan;
  const auto* candidate = &comparison->candidate;
  if (plan->changes.empty()) {
    if (g.output == "json")
      std::cout << agentd::dump_json({{"pushed", false}, {"changes", json::array()}}, 2) << "\n";
    else
      std::cout << "nothing to push: etcd already holds this policy\n";
    return 0;
  }
  auto text = conn->client.call("/v3/kv/txn", fleet::txn_request(plan->txn));
  if (!text) return fail(text.error().describe());
  auto txn = fleet::parse_txn(*text);
  if (!txn) return fail(txn.error().describe());
  if (g.output == "json")
    std::cout << agentd::dump_json({{"pushed", txn->succeeded},
                                    {"revision", txn->revision},
                                    {"base_revision", plan->base_revision},
                                    {"changes", changes_json(*plan)}},
                                   2)
              << "\n";
  if (!txn->succeeded)
    return fail(
        fmt::format("push refused: etcd's policy changed after revision {} (another push?); nothing was written. See "
                    "`agentctl policy diff --fleet {}` and push again",
                    plan->base_revision, dir));
  if (g.output != "json") {
    print_changes(*plan);
    std::cout << fmt::format("pushed: revision {} ({} tenants)\n", txn->revision, candidate->tenants().size());
  }
  return 0;
}

int policy_diff_fleet(const Globals& g, const EtcdArgs& etcd, const std::string& dir) {
  auto comparison = compare(etcd, dir, 0);
  if (!comparison) return kExitFailure;
  auto snapshot = fleet::snapshot_of(comparison->current, comparison->conn.layout);
  if (!snapshot) return fail(snapshot.error().describe());
  const auto* plan = &comparison->plan;
  const auto* candidate = &comparison->candidate;
  // Rule by rule, when what etcd holds validates (it may not: a hand edit).
  json rules = json::array();
  auto held = agentd::policy::parse_policy_texts(snapshot->tenants, snapshot->presets);
  if (held.ok())
    for (const auto& c : agentd::policy::diff_policies(*held.policy, *candidate))
      rules.push_back({{"change", c.added ? "+" : "-"}, {"tenant", c.tenant}, {"rule", c.line}, {"at", c.location}});
  if (g.output == "json") {
    std::cout << agentd::dump_json({{"revision", snapshot->revision},
                                    {"keys", changes_json(*plan)},
                                    {"rules", rules},
                                    {"etcd_validates", held.ok()}},
                                   2)
              << "\n";
    return 0;
  }
  std::cout << fmt::format("etcd's policy is at revision {} (push --base-revision {} to push against it)\n",
                           snapshot->revision, snapshot->revision);
  if (plan->changes.empty()) {
    std::cout << "no changes: etcd holds this policy\n";
    return 0;
  }
  print_changes(*plan);
  if (!held.ok()) std::cout << "(what etcd holds does not validate: no rule-by-rule diff)\n";
  for (const auto& r : rules)
    std::cout << "  " << r["change"].get<std::string>() << " " << terminal_text(r["tenant"].get<std::string>()) << ": "
              << terminal_text(r["rule"].get<std::string>()) << "\n";
  return 0;
}

namespace {

// Every key under `prefix`, by the name after it.
Result<std::map<std::string, json>> reports_under(fleet::EtcdClient& client, const std::string& prefix) {
  auto text = client.call("/v3/kv/range", fleet::range_request(prefix, fleet::range_end_of_prefix(prefix)));
  if (!text) return text.error();
  auto range = fleet::parse_range(*text);
  if (!range) return range.error();
  std::map<std::string, json> reports;
  for (const auto& kv : range->kvs) {
    json report = json::parse(kv.value, nullptr, false);
    if (!report.is_object()) report = json{{"error", "its report is not a JSON object"}};
    const std::string name = kv.key.substr(prefix.size());
    report["host"] = name;  // the key names the host, not what it wrote
    reports[name] = std::move(report);
  }
  return reports;
}

// "40 s", "12 min", "3 h", "2 d": how long a host has been silent.
std::string silence_text(int64_t seconds) {
  if (seconds < 120) return fmt::format("{} s", seconds);
  if (seconds < 7200) return fmt::format("{} min", seconds / 60);
  if (seconds < 172800) return fmt::format("{} h", seconds / 3600);
  return fmt::format("{} d", seconds / 86400);
}

}  // namespace

int fleet_status(const Globals& g, const EtcdArgs& etcd) {
  auto conn = connect(etcd);
  if (!conn) return fail(conn.error().describe());
  auto policy = fleet::read_policy_range(conn->client, conn->layout);
  if (!policy) return fail(policy.error().describe());
  auto snapshot = fleet::snapshot_of(*policy, conn->layout);
  const int64_t newest = snapshot ? snapshot->revision : 0;
  auto live = reports_under(conn->client, conn->layout.hosts_prefix());
  if (!live) return fail(live.error().describe());
  auto members = reports_under(conn->client, conn->layout.members_prefix());
  if (!members) return fail(members.error().describe());
  // A member with no live key is silent: unreachable (its lease ran out)
  // or stopped; its member key says since when.
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  std::map<std::string, json> all = *live;
  for (auto& [name, member] : *members) {
    if (all.contains(name)) continue;
    const auto seen = member.value("seen_at_ms", json(0));
    const int64_t silent_s =
        seen.is_number_integer() ? std::max<int64_t>(0, (now_ms - seen.get<int64_t>()) / 1000) : -1;
    member["live"] = false;
    member["state"] = member.value("stopped", false) ? "stopped" : "unreachable";
    member["silent_s"] = silent_s;
    all[name] = std::move(member);
  }
  json list = json::array();
  size_t converged = 0;
  std::vector<std::string> behind;
  for (auto& [name, report] : all) {
    if (!report.contains("live")) {
      report["live"] = true;
      report["state"] = "live";
    }
    const auto applied = report.value("applied_revision", json(0));
    const bool at_newest = report["live"] == true && applied.is_number_integer() && applied.get<int64_t>() == newest;
    converged += at_newest ? 1 : 0;
    if (!at_newest) {
      std::string why = "behind";
      if (report["live"] == false)
        why =
            fmt::format("{} {}", report["state"].get<std::string>(),
                        report["silent_s"].get<int64_t>() < 0 ? "?" : silence_text(report["silent_s"].get<int64_t>()));
      else if (report.contains("last_refusal") && report["last_refusal"].is_object())
        why = "refused: " + report["last_refusal"].value("error", std::string("?")).substr(0, 120);
      behind.push_back(fmt::format("{} (applied {}, {})", name, applied.dump(), why));
    }
    report["converged"] = at_newest;
    list.push_back(std::move(report));
  }
  if (g.output == "json") {
    std::cout << agentd::dump_json(
                     {{"revision", newest}, {"hosts", list}, {"converged", converged}, {"total", list.size()}}, 2)
              << "\n";
    return 0;
  }
  std::cout << fmt::format("converged at revision {}: {}/{} hosts", newest, converged, list.size());
  if (!behind.empty()) std::cout << fmt::format(", {} behind", behind.size());
  std::cout << "\n";
  for (const auto& h : list) {
    std::cout << fmt::format("  {:<24} revision {:>8} generation {:>6} sandboxes {:>5}  {}{}",
                             terminal_text(h["host"].get<std::string>()), h.value("applied_revision", json(0)).dump(),
                             h.value("generation", json(0)).dump(), h.value("sandboxes", json(0)).dump(),
                             h["state"].get<std::string>(), h["converged"].get<bool>() ? "" : "  BEHIND")
              << "\n";
  }
  for (const auto& b : behind) std::cout << "  behind: " << terminal_text(b) << "\n";
  return 0;
}

int fleet_forget(const EtcdArgs& etcd, const std::string& host) {
  if (!fleet::is_host_name(host))
    return fail(fmt::format("host \"{}\" is not [A-Za-z0-9_.-]{{1,253}}", terminal_text(host)));
  auto conn = connect(etcd);
  if (!conn) return fail(conn.error().describe());
  auto live = reports_under(conn->client, conn->layout.hosts_prefix());
  if (!live) return fail(live.error().describe());
  if (live->count(host))
    return fail(fmt::format("{} is live (its agentd reports to etcd): stop it first, or it is listed again", host));
  auto text = conn->client.call("/v3/kv/deleterange", fleet::delete_request(conn->layout.member_key(host)));
  if (!text) return fail(text.error().describe());
  auto answer = json::parse(*text, nullptr, false);
  const auto deleted = answer.is_object() ? answer.value("deleted", json("0")) : json("0");
  if (deleted == "0" || deleted == 0) return fail(fmt::format("{} is not a member of the fleet", host));
  std::cout << "forgot " << host << "\n";
  return 0;
}

}  // namespace agentctl
