// agentctl approvals list|approve|deny, grants list|revoke, audit: the
// same answers as the watch prompt, for scripts.
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "agentd/api/client.hpp"
#include "agentd/api/requests.hpp"
#include "agentd/common/json_dump.hpp"
#include "record_text.hpp"
#include "commands.hpp"
#include "grants_export.hpp"
#include "table.hpp"
#include "terminal_text.hpp"

namespace agentctl {
using nlohmann::json;

namespace {

int fail(const agentd::Error& error) {
  std::cerr << "agentctl: " << terminal_text(error.describe()) << "\n";  // may quote a record
  return kExitFailure;
}

// Calls agentd; prints JSON as is, or hands the result to `table`.
// The same, with `shown` choosing what of the answer -o json prints.
template <typename Print, typename Shown>
int call_and_print(const Globals& g, const json& request, Print print, Shown shown) {
  auto result = agentd::api::call(g.socket, request);
  if (!result) return fail(result.error());
  if (g.output == "json")
    std::cout << agentd::dump_json(shown(*result), 2) << "\n";
  else
    print(*result);
  return 0;
}

template <typename Print>
int call_and_print(const Globals& g, const json& request, Print print) {
  return call_and_print(g, request, print, [](const json& j) { return j; });
}

void print_requests(const json& list) {
  Table table({"ID", "STATE", "AGENT", "DESTINATION", "HOST", "TRIES", "PROCESS", "FIRST SEEN", "EXPIRES", "ANSWER"});
  for (const auto& r : list)
    table.add({json_text(r["id"]), json_text(r["state"]), json_text(r["sandbox"]), destination_text(r),
               json_text(r["host"]), json_text(r["count"]),
               json_text(r["process"]["comm"]) + " (" + json_text(r["process"]["pid"]) + ")",
               json_text(r["first_seen"]), json_text(r["expires_at"]),
               r["answer"].is_null() ? "-" : json_text(r["answer"]) + " by " + json_text(r["answered_by"])});
  table.print(std::cout);
}

void print_grants(const json& list) {
  // FLEET: the host that made a fleet grant and its id there ("-": this host's alone).
  Table table({"ID", "SCOPE", "FOR", "DESTINATION", "HOST", "EXPIRES", "BY", "REQUEST", "FLEET"});
  for (const auto& g : list) {
    const json& fleet = g.contains("fleet") ? g["fleet"] : json();
    table.add({json_text(g["id"]), json_text(g["scope"]), json_text(g["subject"]), destination_text(g),
               json_text(g["host"]), g.value("permanent", false) ? "never" : json_text(g["expires_at"]),
               json_text(g["created_by"]), json_text(g["request_id"]),
               fleet.is_object() ? json_text(fleet["host"]) + "/" + json_text(fleet["id"]) : "-"});
  }
  table.print(std::cout);
}

}  // namespace

// A sandbox past its request caps has one "N more destinations" entry
// instead of a request per destination; --expand shows what it holds.
void print_fold(const json& fold) {
  std::cout << json_text(fold["sandbox"]) << ": " << json_text(fold["summary"]) << " (" << json_text(fold["denials"])
            << " denials; past " << json_text(fold["why"]) << "; since " << json_text(fold["first_seen"]) << ")\n";
  Table table({"DESTINATION", "HOST", "TRIES", "FIRST SEEN", "LAST SEEN"});
  for (const auto& d : fold["kept"])
    table.add({destination_text(d), json_text(d["host"]), json_text(d["count"]), json_text(d["first_seen"]),
               json_text(d["last_seen"])});
  table.print(std::cout);
  if (fold["kept"].size() < fold["destinations"].get<uint64_t>())
    std::cout << "(the first " << fold["kept"].size()
              << " destinations are kept; the others are counted and in the audit trail)\n";
}

namespace {

// What `filter` takes of a list of requests or folds (by their sandbox).
json only_matching(const json& list, const AgentFilter& filter) {
  json kept = json::array();
  for (const auto& item : list)
    if (filter.matches(item.value("sandbox", ""))) kept.push_back(item);
  return kept;
}

void print_answer(const json& result) {
  const json& r = result["request"];
  std::cout << "request " << json_text(r["id"]) << " (" << flow_text(r["sandbox"], r) << "): " << json_text(r["answer"])
            << "\n";
  if (result.contains("grant"))
    std::cout << "grant " << json_text(result["grant"]["id"]) << " for " << json_text(result["grant"]["subject"])
              << ", " << json_text(result["grant"]["opens"])
              << (result["grant"].value("permanent", false) ? ", permanent"
                                                            : ", until " + json_text(result["grant"]["expires_at"]))
              << "\n";
}

json answer_request(uint64_t id, bool allow, const std::string& scope, const std::string& duration, bool always,
                    const std::string& ports) {
  agentd::api::ApprovalsAnswerRequest request{id, allow, {}};
  if (allow) request.terms.scope = scope;
  if (!ports.empty()) request.terms.ports = ports;
  if (!duration.empty()) request.terms.duration = duration;
  request.terms.permanent = always;
  return request.to_json();
}

}  // namespace

int approvals_list(const Globals& g, const std::string& state, const std::string& expand, const AgentFilter& filter) {
  if (auto why = filter.problem(); !why.empty()) return fail(agentd::Error{why});
  if (!expand.empty()) return call_and_print(g, agentd::api::ApprovalsFoldsRequest{expand}.to_json(), print_fold);
  agentd::api::ApprovalsListRequest list;
  if (!state.empty()) list.state = state;
  const json request = list.to_json();
  if (int code = call_and_print(
          g, request, [&](const json& list) { print_requests(only_matching(list, filter)); },
          [&](const json& list) { return only_matching(list, filter); });
      code != 0)
    return code;
  if (g.output == "json" || (!state.empty() && state != "pending")) return 0;
  auto folds = agentd::api::call(g.socket, agentd::api::ApprovalsFoldsRequest{}.to_json());
  if (!folds) return fail(folds.error());
  for (const auto& f : only_matching(*folds, filter))
    std::cout << json_text(f["sandbox"]) << ": " << json_text(f["summary"]) << " (agentctl approvals list --expand "
              << json_text(f["sandbox"]) << ")\n";
  return 0;
}

int approvals_answer(const Globals& g, uint64_t id, bool allow, const std::string& scope, const std::string& duration,
                     bool always, const std::string& ports) {
  return call_and_print(g, answer_request(id, allow, scope, duration, always, ports), print_answer);
}

int approvals_answer_all(const Globals& g, const AgentFilter& filter, bool allow, const std::string& scope,
                         const std::string& duration, bool always, const std::string& ports) {
  if (filter.empty()) return fail(agentd::Error{"--all needs --agent or --tenant: say whose requests"});
  if (auto why = filter.problem(); !why.empty()) return fail(agentd::Error{why});
  auto pending = agentd::api::call(g.socket, agentd::api::ApprovalsListRequest{}.to_json());
  if (!pending) return fail(pending.error());
  json answers = json::array();
  int code = 0;
  for (const auto& r : only_matching(*pending, filter)) {
    const uint64_t id = r["id"].get<uint64_t>();
    auto result = agentd::api::call(g.socket, answer_request(id, allow, scope, duration, always, ports));
    if (!result) {
      // Answered meanwhile (a grant of this batch settled it, another
      // operator): said, and the others still answered.
      std::cerr << "agentctl: request " << id << ": " << terminal_text(result.error().describe()) << "\n";
      code = kExitFailure;
      continue;
    }
    if (g.output == "json")
      answers.push_back(*result);
    else
      print_answer(*result);
  }
  if (g.output == "json")
    std::cout << agentd::dump_json(answers, 2) << "\n";
  else if (answers.empty() && code == 0 && only_matching(*pending, filter).empty())
    std::cout << "no pending request matches\n";
  return code;
}

int approvals_reopen(const Globals& g, uint64_t id) {
  return call_and_print(g, agentd::api::ApprovalsReopenRequest{id}.to_json(), [](const json& result) {
    const json& r = result["request"];
    std::cout << "request " << json_text(r["id"]) << " (" << flow_text(r["sandbox"], r) << ") is pending again, until "
              << json_text(r["expires_at"]) << "; it was: " << json_text(result["was"]) << "\n";
    if (result.contains("revoked_grant"))
      std::cout << "grant " << json_text(result["revoked_grant"]["id"]) << " revoked ("
                << flow_text(result["revoked_grant"]["subject"], result["revoked_grant"]) << ")\n";
  });
}

int grants_list(const Globals& g) {
  return call_and_print(g, agentd::api::GrantsListRequest{}.to_json(), print_grants);
}

int grants_revoke(const Globals& g, uint64_t id) {
  return call_and_print(g, agentd::api::GrantsRevokeRequest{id}.to_json(), [](const json& grant) {
    std::cout << "grant " << json_text(grant["id"]) << " revoked (" << flow_text(grant["subject"], grant) << ")\n";
  });
}

int grants_add(const Globals& g, const std::string& agent, const std::string& dest, const std::string& scope,
               const std::string& duration, bool always) {
  agentd::api::GrantsAddRequest request{agent, dest, {}};
  request.terms.scope = scope;
  if (!duration.empty()) request.terms.duration = duration;
  request.terms.permanent = always;
  return call_and_print(g, request.to_json(), print_answer);
}

int grants_export(const Globals& g, const std::string& tenant) {
  auto grants = agentd::api::call(g.socket, agentd::api::GrantsListRequest{}.to_json());
  if (!grants) return fail(grants.error());
  std::string chosen = tenant;
  if (chosen.empty()) {
    std::set<std::string> tenants;
    for (const auto& grant : *grants) tenants.insert(grant.value("tenant", ""));
    if (tenants.size() > 1) {
      std::string names;
      for (const auto& t : tenants) names += (names.empty() ? "" : ", ") + t;
      std::cerr << "agentctl: grants export: grants of several tenants (" << terminal_text(names)
                << "): choose one with --tenant\n";
      return 2;  // bad usage (commands.hpp)
    }
    if (tenants.empty()) return fail(agentd::make_error("no standing grants to export"));
    chosen = *tenants.begin();
  }
  auto text = grants_as_policy(*grants, chosen);
  if (!text) return fail(text.error());
  std::cout << *text;
  return 0;
}

namespace {

const std::vector<std::string> kAuditColumns = {"TIME",  "KIND",        "DECISION", "BY",
                                                "AGENT", "DESTINATION", "HOST",     "DETAIL"};

std::vector<std::string> audit_cells(const json& e) {
  std::string detail;
  for (const auto& [k, v] : e["detail"].items())
    if (k == "reason" || k == "answer" || k == "request_id" || k == "grant_id" || k == "trigger" || k == "error")
      detail += (detail.empty() ? "" : " ") + k + "=" + json_text(v);
  return {json_text(e["time"]),
          json_text(e["kind"]),
          json_text(e["decision"]),
          json_text(e["actor"]),
          json_text(e["sandbox"]),
          json_text(e["dest"]).empty() ? "-" : destination_text(e),
          json_text(e["host"]).empty() ? "-" : json_text(e["host"]),
          detail.empty() ? "-" : detail};
}

// --follow: what matches now, then each event as agentd stores it, one
// line each (-o json: one JSON object a line), until interrupted. agentd
// restarting (a package upgrade) is waited out and said.
[[noreturn]] void follow_audit(const Globals& g, agentd::api::AuditQueryRequest request) {
  std::optional<uint64_t> cursor;
  bool away = false;
  for (;;) {
    if (cursor) {
      request.after_id = *cursor;
      request.limit = 1000;  // the oldest after the cursor: none skipped
    }
    auto rows = agentd::api::call(g.socket, request.to_json());
    // Refused (a bad --since, no role), or agentd not there when asked
    // first: said, and done; only a restart under way is waited out.
    if (!rows && (agentd::api::is_refusal(rows.error()) || !cursor)) std::exit(fail(rows.error()));
    if (!rows) {
      if (!away)
        std::cerr << "agentctl: agentd does not answer (" << terminal_text(rows.error().describe()) << "); waiting\n";
      away = true;
      std::this_thread::sleep_for(std::chrono::seconds(1));
      continue;
    }
    if (away) std::cerr << "agentctl: agentd answers again\n";
    away = false;
    if (!cursor && g.output != "json") {
      std::string header;
      for (const auto& c : kAuditColumns) header += (header.empty() ? "" : "  ") + c;
      std::cout << header << "\n";
    }
    uint64_t last = cursor.value_or(0);
    for (const auto& e : *rows) {
      if (g.output == "json") {
        std::cout << agentd::dump_json(e) << "\n";
      } else {
        std::string line;
        for (const auto& cell : audit_cells(e)) line += (line.empty() ? "" : "  ") + cell;
        std::cout << line << "\n";
      }
      last = std::max(last, e.value("id", uint64_t{0}));
    }
    std::cout.flush();
    cursor = last;
    if (rows->size() < 1000) std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

}  // namespace

int audit(const Globals& g, const std::string& agent, const std::string& since, const std::string& decision,
          size_t limit, bool follow) {
  agentd::api::AuditQueryRequest query;
  query.limit = limit;
  if (!agent.empty()) query.agent = agent;
  if (!since.empty()) query.since = since;
  if (!decision.empty()) query.decision = decision;
  if (follow) follow_audit(g, query);
  return call_and_print(g, query.to_json(), [](const json& rows) {
    Table table(kAuditColumns);
    for (const auto& e : rows) table.add(audit_cells(e));
    table.print(std::cout);
  });
}

}  // namespace agentctl
