// agentctl approvals list|approve|deny, grants list|revoke, audit: the
// same answers as the watch prompt, for scripts.
#include <iostream>

#include <nlohmann/json.hpp>

#include "agentd/api/client.hpp"
#include "commands.hpp"
#include "table.hpp"

namespace agentctl {
using nlohmann::json;

namespace {

std::string str(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "-";
  return value.dump();
}

std::string destination(const json& r) {
  const std::string dest = str(r["dest"]);
  const bool v6 = dest.find(':') != std::string::npos;
  return (v6 ? "[" + dest + "]" : dest) + ":" + str(r["port"]) + "/" + str(r["protocol"]);
}

int fail(const agentd::Error& error) {
  std::cerr << "agentctl: " << error.describe() << "\n";
  return kExitFailure;
}

// Calls agentd; prints JSON as is, or hands the result to `table`.
template <typename Print>
int call_and_print(const Globals& g, const json& request, Print print) {
  auto result = agentd::api::call(g.socket, request);
  if (!result) return fail(result.error());
  if (g.output == "json") std::cout << result->dump(2) << "\n";
  else print(*result);
  return 0;
}

void print_requests(const json& list) {
  Table table({"ID", "STATE", "AGENT", "DESTINATION", "HOST", "TRIES", "PROCESS", "FIRST SEEN", "EXPIRES", "ANSWER"});
  for (const auto& r : list)
    table.add({str(r["id"]), str(r["state"]), str(r["sandbox"]), destination(r), str(r["host"]), str(r["count"]),
               str(r["process"]["comm"]) + " (" + str(r["process"]["pid"]) + ")", str(r["first_seen"]),
               str(r["expires_at"]),
               r["answer"].is_null() ? "-" : str(r["answer"]) + " by " + str(r["answered_by"])});
  table.print(std::cout);
}

void print_grants(const json& list) {
  Table table({"ID", "SCOPE", "FOR", "DESTINATION", "HOST", "EXPIRES", "BY", "REQUEST"});
  for (const auto& g : list)
    table.add({str(g["id"]), str(g["scope"]), str(g["subject"]), destination(g), str(g["host"]),
               g.value("permanent", false) ? "never" : str(g["expires_at"]), str(g["created_by"]),
               str(g["request_id"])});
  table.print(std::cout);
}

}  // namespace

int approvals_list(const Globals& g, const std::string& state) {
  json request = {{"method", "approvals.list"}};
  if (!state.empty()) request["state"] = state;
  return call_and_print(g, request, print_requests);
}

int approvals_answer(const Globals& g, uint64_t id, bool allow, const std::string& scope, const std::string& duration,
                     bool always) {
  json request = {{"method", allow ? "approvals.approve" : "approvals.deny"}, {"id", id}};
  if (allow) request["scope"] = scope;
  if (!duration.empty()) request["for"] = duration;
  if (always) request["permanent"] = true;
  return call_and_print(g, request, [](const json& result) {
    const json& r = result["request"];
    std::cout << "request " << str(r["id"]) << " (" << str(r["sandbox"]) << " -> " << destination(r)
              << "): " << str(r["answer"]) << "\n";
    if (result.contains("grant"))
      std::cout << "grant " << str(result["grant"]["id"]) << " for " << str(result["grant"]["subject"])
                << (result["grant"].value("permanent", false) ? ", permanent"
                                                               : ", until " + str(result["grant"]["expires_at"]))
                << "\n";
  });
}

int grants_list(const Globals& g) { return call_and_print(g, {{"method", "grants.list"}}, print_grants); }

int grants_revoke(const Globals& g, uint64_t id) {
  return call_and_print(g, {{"method", "grants.revoke"}, {"id", id}}, [](const json& grant) {
    std::cout << "grant " << str(grant["id"]) << " revoked (" << str(grant["subject"]) << " -> " << destination(grant)
              << ")\n";
  });
}

int audit(const Globals& g, const std::string& agent, const std::string& since, const std::string& decision,
          size_t limit) {
  json request = {{"method", "audit.query"}, {"limit", limit}};
  if (!agent.empty()) request["agent"] = agent;
  if (!since.empty()) request["since"] = since;
  if (!decision.empty()) request["decision"] = decision;
  return call_and_print(g, request, [](const json& rows) {
    Table table({"TIME", "KIND", "DECISION", "BY", "AGENT", "DESTINATION", "HOST", "DETAIL"});
    for (const auto& e : rows) {
      std::string detail;
      for (const auto& [k, v] : e["detail"].items())
        if (k == "reason" || k == "answer" || k == "request_id" || k == "grant_id" || k == "trigger" || k == "error")
          detail += (detail.empty() ? "" : " ") + k + "=" + str(v);
      table.add({str(e["time"]), str(e["kind"]), str(e["decision"]), str(e["actor"]), str(e["sandbox"]),
                 str(e["dest"]).empty() ? "-" : destination(e), str(e["host"]).empty() ? "-" : str(e["host"]),
                 detail.empty() ? "-" : detail});
    }
    table.print(std::cout);
  });
}

}  // namespace agentctl
