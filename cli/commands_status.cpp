// agentctl status and sandbox list|adopt.
#include <iostream>

#include <nlohmann/json.hpp>

#include "agentd/api/client.hpp"
#include "commands.hpp"
#include "table.hpp"

namespace agentctl {
using nlohmann::json;

namespace {

std::string text(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "-";
  return value.dump();
}

void print_sandboxes(const json& sandboxes) {
  Table table({"AGENT", "SLOT", "CLASS", "ALLOWED", "DENIED", "UNRECORDED", "CGROUP"});
  for (const auto& s : sandboxes)
    table.add({text(s["agent"]), text(s["slot"]), text(s["class_id"]), text(s["allowed"]), text(s["denied"]),
               text(s["suppressed"]),
               text(s["cgroup"]) + (s.value("adopted", false) ? " (adopted)" : "")});
  table.print(std::cout);
}

int fail(const agentd::Error& error) {
  std::cerr << "agentctl: " << error.describe() << "\n";
  return kExitFailure;
}

}  // namespace

int status(const Globals& g) {
  auto result = agentd::api::call(g.socket, {{"method", "status"}});
  if (!result) return fail(result.error());
  const json& s = *result;
  if (g.output == "json") {
    std::cout << s.dump(2) << "\n";
    return 0;
  }
  const json& d = s["daemon"];
  std::cout << "agentd " << text(d["version"]) << " (pid " << text(d["pid"]) << "), up since "
            << text(d["started_at"]) << "\n"
            << "  cgroup root " << text(d["cgroup_root"]) << ", bpffs " << text(d["bpffs_dir"]) << "\n\n";
  const json& p = s["policy"];
  std::cout << "policy " << text(p["dir"]) << ": generation " << text(p["generation"]) << ", loaded "
            << text(p["loaded_at"]) << " (" << text(p["last_reload"]["trigger"]) << ", "
            << text(p["last_reload"]["ms"]) << " ms)\n  digest " << text(p["digest"])
            << (p.value("watching", false) ? ", watching the dir for changes" : "") << "\n";
  if (!p["last_error"].is_null()) std::cout << "  last reload refused:\n" << text(p["last_error"]) << "\n";
  Table tenants({"TENANT", "RULES", "INFERENCE", "FILE"});
  for (const auto& t : p["tenants"])
    tenants.add({text(t["tenant"]), text(t["rules"]), text(t["inference"]), text(t["file"])});
  tenants.print(std::cout);
  std::cout << "\nsandboxes:\n";
  print_sandboxes(s["sandboxes"]);
  const json& e = s["events"];
  std::cout << "\ndenial records: " << text(e["received"]) << " received, " << text(e["dropped"])
            << " dropped (ring full), " << text(e["suppressed"])
            << " unrecorded by the rate limit (counted per sandbox above)\n";
  if (const json& a = s["approvals"]; a.is_object())
    std::cout << "approvals: " << text(a["pending_requests"]) << " pending, " << text(a["grants"]) << " grants ("
              << text(a["grant_entries"]) << " kernel entries), " << text(a["watchers"]) << " watching; store "
              << text(a["store"]["file"]) << ", " << text(a["store"]["audit_rows"]) << " audit events, "
              << text(a["store"]["bytes"]) << " bytes (keeps " << text(a["store"]["max_age"]) << ")\n";
  std::cout << "\nkernel features:\n";
  Table features({"FEATURE", "VALUE"});
  for (const auto& [name, value] : s["kernel"]["features"].items()) features.add({name, text(value)});
  features.print(std::cout);
  std::cout << "socket family hook: " << text(s["kernel"]["enforcement"]["socket_family_hook"]) << "\n";
  return 0;
}

int sandbox_list(const Globals& g) {
  auto result = agentd::api::call(g.socket, {{"method", "sandbox.list"}});
  if (!result) return fail(result.error());
  if (g.output == "json") {
    std::cout << result->dump(2) << "\n";
  } else {
    print_sandboxes(*result);
  }
  return 0;
}

int sandbox_adopt(const Globals& g, const std::string& agent, const std::string& cgroup) {
  auto result = agentd::api::call(g.socket, {{"method", "sandbox.adopt"}, {"agent", agent}, {"cgroup", cgroup}});
  if (!result) return fail(result.error());
  std::cout << "adopted " << text((*result)["cgroup"]) << " as the sandbox of " << text((*result)["agent"])
            << " (slot " << text((*result)["slot"]) << ")\n";
  return 0;
}

}  // namespace agentctl
