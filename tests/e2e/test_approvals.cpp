// Approvals end to end: denials become requests, operators answer, grants
// open the kernel for the scope chosen, survive kill -9, expire, and never
// beat an explicit deny; the audit trail says what happened.
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <catch2/catch.hpp>

#include "approvals_helpers.hpp"
#include "expectations.hpp"
#include "policies.hpp"
#include "world.hpp"

using namespace agentd::e2e;
using nlohmann::json;

TEST_CASE("three identical denials make one request, and approving it makes the retry succeed", "[each-kernel]") {
  World world;
  world.write_policy("acme.yaml", kAcmePolicy);
  REQUIRE(world.start_agentd());
  for (int i = 0; i < 3; ++i) expect_refused(connect_from(world, "acme/eng/coder-1", kDest, kPort));
  json request = wait_for_request(world, "acme/eng/coder-1", kDest, kPort, "pending", 3);
  INFO(world.agentd_log());
  REQUIRE(request.is_object());
  CHECK(request["count"] == 3);
  CHECK(request["protocol"] == "tcp");
  CHECK(request["process"]["comm"] == "netprobe");
  auto all = agentctl_json(world, {"approvals", "list"});
  REQUIRE(all.is_array());
  CHECK(all.size() == 1);

  auto answer = agentctl_json(world, {"approvals", "approve", std::to_string(id_of(request)), "--for", "1h"});
  REQUIRE(answer.is_object());
  CHECK(answer["request"]["state"] == "approved");
  CHECK(answer["grant"]["scope"] == "agent");
  CHECK(answer["grant"]["subject"] == "acme/eng/coder-1");
  // In force when the answer returns: the very next try succeeds.
  expect_ok(connect_from(world, "acme/eng/coder-1", kDest, kPort));
  // Only that port and protocol.
  expect_refused(connect_from(world, "acme/eng/coder-1", kDest, 443));
  // Scope agent does not open the team.
  expect_refused(connect_from(world, "acme/eng/coder-2", kDest, kPort));
  // Answered once: a second answer is refused.
  auto again = world.agentctl({"approvals", "deny", std::to_string(id_of(request))});
  CHECK(again.exit_code == 1);
  CHECK(again.err.find("already approved") != std::string::npos);
  auto explain = agentctl_json(world, {"policy", "explain", "--agent", "acme/eng/coder-1", "--dest",
                                       std::string(kDest) + ":" + std::to_string(kPort)});
  REQUIRE(explain.is_object());
  CHECK(explain["allowed"] == true);
  CHECK(explain["explanation"].get<std::string>().find("allowed by grant") != std::string::npos);
  CHECK(world.stray_packets() == 0);
}

TEST_CASE("approvals reopen takes an answer back: a grant closes at once and a deny's silence ends",
          "[kernel-neutral]") {
  World world;
  world.write_policy("acme.yaml", kAcmePolicy);
  REQUIRE(world.start_agentd());
  expect_refused(connect_from(world, "acme/eng/coder-1", kDest, kPort));
  json request = wait_for_request(world, "acme/eng/coder-1", kDest, kPort);
  INFO(world.agentd_log());
  REQUIRE(request.is_object());
  const std::string id = std::to_string(id_of(request));
  REQUIRE(agentctl_json(world, {"approvals", "approve", id, "--scope", "team"}).is_object());
  expect_ok(connect_from(world, "acme/eng/coder-1", kDest, kPort));

  // An approval taken back: its grant is revoked before the answer returns.
  auto reopened = agentctl_json(world, {"approvals", "reopen", id});
  REQUIRE(reopened.is_object());
  CHECK(reopened["request"]["state"] == "pending");
  CHECK(reopened["was"].get<std::string>().find("allow team") == 0);
  CHECK(reopened["revoked_grant"]["subject"] == "acme/eng");
  expect_refused(connect_from(world, "acme/eng/coder-1", kDest, kPort));
  auto grants = agentctl_json(world, {"grants", "list"});
  REQUIRE(grants.is_array());
  CHECK(grants.empty());
  // The retry folds into the reopened request; no second request opens.
  json again = wait_for_request(world, "acme/eng/coder-1", kDest, kPort, "pending", 2);
  REQUIRE(again.is_object());
  CHECK(again["id"] == request["id"]);
  CHECK(agentctl_json(world, {"approvals", "list"}).size() == 1);
  auto twice = world.agentctl({"approvals", "reopen", id});
  CHECK(twice.exit_code == 1);
  CHECK(twice.err.find("pending already") != std::string::npos);

  // A deny taken back: while it is silent, grants add says how to undo it.
  REQUIRE(agentctl_json(world, {"approvals", "deny", id, "--for", "1h"}).is_object());
  const std::string dest = std::string(kDest) + ":" + std::to_string(kPort);
  auto blocked = world.agentctl({"grants", "add", "--agent", "acme/eng/coder-1", "--dest", dest});
  CHECK(blocked.exit_code == 1);
  CHECK(blocked.err.find("agentctl approvals reopen " + id) != std::string::npos);
  auto human = world.agentctl({"approvals", "reopen", id});
  CHECK(human.exit_code == 0);
  CHECK(human.out.find("pending again") != std::string::npos);
  CHECK(human.out.find("it was: deny") != std::string::npos);
  REQUIRE(agentctl_json(world, {"approvals", "approve", id}).is_object());
  expect_ok(connect_from(world, "acme/eng/coder-1", kDest, kPort));

  // Both are in the audit trail, by whom and what they undid.
  auto audited = agentctl_json(world, {"audit", "--decision", "reopened"});
  REQUIRE(audited.is_array());
  CHECK(audited.size() == 2);

  // Nothing to reopen while something else opens it: a team's grant.
  const std::string dest_text = std::string(kDest) + ":" + std::to_string(kPort);
  REQUIRE(agentctl_json(world, {"grants", "add", "--agent", "acme/eng/coder-9", "--dest", dest_text, "--scope", "team"})
              .is_object());
  auto open = world.agentctl({"approvals", "reopen", id});
  CHECK(open.exit_code == 1);
  CHECK(open.err.find("it is open now: allowed by grant") != std::string::npos);
  auto unknown = world.agentctl({"approvals", "reopen", "987654"});
  CHECK(unknown.exit_code == 1);
  CHECK(unknown.err.find("no request 987654") != std::string::npos);
  CHECK(world.stray_packets() == 0);
}

TEST_CASE("scope team opens the team and its later sandboxes, not the tenant") {
  World world;
  world.write_policy("acme.yaml", kAcmePolicy);
  REQUIRE(world.start_agentd());
  expect_refused(connect_from(world, "acme/eng/coder-1", kDest, kPort));
  expect_refused(connect_from(world, "acme/ops/runner", kDest, kPort));
  json request = wait_for_request(world, "acme/eng/coder-1", kDest, kPort);
  REQUIRE(
      agentctl_json(world, {"approvals", "approve", std::to_string(id_of(request)), "--scope", "team"}).is_object());
  expect_ok(connect_from(world, "acme/eng/coder-1", kDest, kPort));
  expect_ok(connect_from(world, "acme/eng/coder-9", kDest, kPort));  // a sandbox made after the answer
  expect_refused(connect_from(world, "acme/ops/runner", kDest, kPort));
  auto grants = agentctl_json(world, {"grants", "list"});
  REQUIRE(grants.is_array());
  REQUIRE(grants.size() == 1);
  CHECK(grants[0]["subject"] == "acme/eng");
  CHECK(grants[0]["scope"] == "team");
  // Revoked: closed again at once.
  REQUIRE(world.agentctl({"grants", "revoke", std::to_string(grants[0]["id"].get<uint64_t>())}).exit_code == 0);
  expect_refused(connect_from(world, "acme/eng/coder-1", kDest, kPort));
}

TEST_CASE("pending requests that a team grant or a reload now allows settle themselves, audited", "[kernel-neutral]") {
  World world;
  world.write_policy("acme.yaml", kAcmePolicy);
  REQUIRE(world.start_agentd());
  for (const char* agent : {"acme/eng/coder-1", "acme/eng/coder-2", "acme/ops/runner"})
    expect_refused(connect_from(world, agent, kDest, kPort));
  json first = wait_for_request(world, "acme/eng/coder-1", kDest, kPort);
  REQUIRE(wait_for_request(world, "acme/eng/coder-2", kDest, kPort).is_object());
  REQUIRE(wait_for_request(world, "acme/ops/runner", kDest, kPort).is_object());

  // A team grant for coder-1's request answers coder-2's too: same team,
  // same destination. The runner's team is another.
  REQUIRE(agentctl_json(world, {"approvals", "approve", std::to_string(id_of(first)), "--scope", "team"}).is_object());
  json second = wait_for_request(world, "acme/eng/coder-2", kDest, kPort, "approved");
  REQUIRE(second.is_object());
  CHECK(second["answered_by"] == "agentd");
  CHECK(second["answer"].get<std::string>().find("allowed by grant") != std::string::npos);
  auto pending = agentctl_json(world, {"approvals", "list"});
  REQUIRE(pending.is_array());
  REQUIRE(pending.size() == 1);
  CHECK(pending[0]["sandbox"] == "acme/ops/runner");

  // A reload whose policy allows the runner's destination answers it.
  world.write_policy("acme.yaml", std::string(kAcmePolicy) + "      - cidr: 198.51.100.20/32\n        ports: [8080]\n");
  world.signal_agentd(SIGHUP);
  json third = wait_for_request(world, "acme/ops/runner", kDest, kPort, "approved");
  REQUIRE(third.is_object());
  CHECK(third["answered_by"] == "agentd");
  CHECK(third["answer"].get<std::string>().find("allowed by") != std::string::npos);
  CHECK(agentctl_json(world, {"approvals", "list"}).empty());
  CHECK(daemon_status(world)["approvals"]["requests_settled"] == 2);
  // On the record as agentd's decisions, with what changed.
  auto decisions = agentctl_json(world, {"audit", "--decision", "approved"});
  REQUIRE(decisions.is_array());
  size_t by_agentd = 0;
  for (const auto& d : decisions)
    if (d["actor"] == "agentd") {
      ++by_agentd;
      INFO(d.dump());
      CHECK(d["detail"].contains("trigger"));
    }
  CHECK(by_agentd == 2);
  expect_ok(connect_from(world, "acme/ops/runner", kDest, kPort));
}

TEST_CASE("approvals list and deny take --agent and --tenant, and --all answers every matching request",
          "[kernel-neutral]") {
  World world;
  world.write_policy("acme.yaml", kAcmePolicy);
  REQUIRE(world.start_agentd());
  for (int port : {8080, 8081})
    for (const char* agent : {"acme/eng/coder-1", "acme/ops/runner"})
      expect_refused(connect_from(world, agent, kDest, port));
  REQUIRE(wait_for_request(world, "acme/ops/runner", kDest, 8081).is_object());
  REQUIRE(wait_for_request(world, "acme/eng/coder-1", kDest, 8081).is_object());
  auto eng = agentctl_json(world, {"approvals", "list", "--agent", "acme/eng/*"});
  REQUIRE(eng.is_array());
  CHECK(eng.size() == 2);
  for (const auto& r : eng) CHECK(r["sandbox"] == "acme/eng/coder-1");
  CHECK(agentctl_json(world, {"approvals", "list", "--tenant", "globex"}).empty());
  // Bad filters and a bare --all are refused before anything is answered.
  CHECK(world.agentctl({"approvals", "deny", "--all"}).exit_code == 1);
  CHECK(world.agentctl({"approvals", "list", "--agent", "coder-*"}).exit_code == 1);
  CHECK(world.agentctl({"approvals", "deny"}).exit_code == 2);
  CHECK(agentctl_json(world, {"approvals", "list"}).size() == 4);

  auto denied = agentctl_json(world, {"approvals", "deny", "--agent", "acme/ops/*", "--all"});
  REQUIRE(denied.is_array());
  CHECK(denied.size() == 2);
  auto left = agentctl_json(world, {"approvals", "list"});
  REQUIRE(left.is_array());
  CHECK(left.size() == 2);
  for (const auto& r : left) CHECK(r["sandbox"] == "acme/eng/coder-1");
}

TEST_CASE("an explicit deny wins over an approval") {
  World world;
  world.write_policy("acme.yaml", kAcmePolicy);
  REQUIRE(world.start_agentd());
  // ops agents have no rule for 198.51.100.66; coder-* deny it explicitly.
  expect_refused(connect_from(world, "acme/ops/runner", "198.51.100.66", 80));
  expect_refused(connect_from(world, "acme/eng/coder-1", "198.51.100.66", 80));
  json request = wait_for_request(world, "acme/ops/runner", "198.51.100.66", 80);
  REQUIRE(
      agentctl_json(world, {"approvals", "approve", std::to_string(id_of(request)), "--scope", "tenant", "--always"})
          .is_object());
  expect_ok(connect_from(world, "acme/ops/runner", "198.51.100.66", 80));
  expect_refused(connect_from(world, "acme/eng/coder-1", "198.51.100.66", 80));
  // An explicit deny asks nobody: no request came of coder-1's denials.
  auto all = agentctl_json(world, {"approvals", "list", "--state", "all"});
  REQUIRE(all.is_array());
  for (const auto& r : all) CHECK(r["sandbox"] != "acme/eng/coder-1");
  // Nor does a reload that adds the deny for everyone open it again.
  world.write_policy("acme.yaml", std::string(kAcmePolicy) + R"(  - agents: "acme/ops/*"
    deny:
      - cidr: 198.51.100.66/32
)");
  REQUIRE(world.agentctl({"policy", "apply"}).exit_code == 0);
  expect_refused(connect_from(world, "acme/ops/runner", "198.51.100.66", 80));
  // The grant can never take effect again: the reload revoked it, and says so.
  auto grants = agentctl_json(world, {"grants", "list"});
  REQUIRE(grants.is_array());
  for (const auto& g : grants) CHECK(g["address"] != "198.51.100.66");
  auto revoked = agentctl_json(world, {"audit", "--decision", "revoked"});
  INFO(revoked.dump(2));
  REQUIRE(revoked.is_array());
  bool by_reload = false;
  for (const auto& e : revoked) by_reload |= e.dump().find("policy reload") != std::string::npos;
  CHECK(by_reload);
}

TEST_CASE("grants survive kill -9 and a restart, and close again when their time is up") {
  World world;
  world.write_policy("acme.yaml", kAcmePolicy);
  REQUIRE(world.start_agentd());
  expect_refused(connect_from(world, "acme/eng/coder-1", kDest, kPort));
  expect_refused(connect_from(world, "acme/eng/coder-1", kDest, 443));
  json forever = wait_for_request(world, "acme/eng/coder-1", kDest, kPort);
  json brief = wait_for_request(world, "acme/eng/coder-1", kDest, 443);
  REQUIRE(agentctl_json(world, {"approvals", "approve", std::to_string(id_of(forever)), "--always"}).is_object());
  REQUIRE(agentctl_json(world, {"approvals", "approve", std::to_string(id_of(brief)), "--for", "3s"}).is_object());
  expect_ok(connect_from(world, "acme/eng/coder-1", kDest, kPort));

  world.kill_agentd(SIGKILL);
  const auto sandbox = world.cgroup_root() / "acme" / "eng" / "coder-1";
  expect_ok(world.netprobe_in_cgroup(sandbox, {"connect", "tcp", kDest, std::to_string(kPort)}));
  INFO(world.agentd_log());
  REQUIRE(world.start_agentd());
  expect_ok(connect_from(world, "acme/eng/coder-1", kDest, kPort));
  auto grants = agentctl_json(world, {"grants", "list"});
  REQUIRE(grants.is_array());
  CHECK(!grants.empty());

  // The 3 s grant closes on its own (the kernel compares its deadline).
  bool closed = false;
  for (int i = 0; i < 100 && !closed; ++i) {
    closed = connect_from(world, "acme/eng/coder-1", kDest, 443).exit_code == 1;
    if (!closed) usleep(100'000);
  }
  CHECK(closed);
  bool gone = false;
  for (int i = 0; i < 50 && !gone; ++i) {
    grants = agentctl_json(world, {"grants", "list"});
    gone = grants.is_array() && grants.size() == 1;
    if (!gone) usleep(100'000);
  }
  CHECK(gone);
  expect_ok(connect_from(world, "acme/eng/coder-1", kDest, kPort));
  auto expiries = agentctl_json(world, {"audit", "--decision", "expired"});
  REQUIRE(expiries.is_array());
  CHECK_FALSE(expiries.empty());
}

TEST_CASE("the audit query returns what happened, and OCSF lines go to the audit log", "[kernel-neutral]") {
  World world;
  world.write_policy("acme.yaml", kAcmePolicy);
  const auto audit_log = world.dir() / "audit.ocsf.jsonl";
  REQUIRE(world.start_agentd({"--audit-log", audit_log.string()}));
  expect_refused(connect_from(world, "acme/eng/coder-1", kDest, kPort));
  json request = wait_for_request(world, "acme/eng/coder-1", kDest, kPort);
  REQUIRE(agentctl_json(world, {"approvals", "approve", std::to_string(id_of(request))}).is_object());

  auto events = agentctl_json(world, {"audit", "--agent", "acme/*/*", "--since", "1h"});
  REQUIRE(events.is_array());
  std::set<std::string> kinds;
  for (const auto& e : events) kinds.insert(e["kind"].get<std::string>() + ":" + e["decision"].get<std::string>());
  INFO(events.dump(2));
  CHECK(kinds.count("denial:deny"));
  CHECK(kinds.count("request:pending"));
  CHECK(kinds.count("decision:approved"));
  auto approved = agentctl_json(world, {"audit", "--decision", "approved"});
  REQUIRE(approved.is_array());
  REQUIRE(approved.size() == 1);
  CHECK(approved[0]["actor"].get<std::string>().find("uid 0") != std::string::npos);
  CHECK(approved[0]["sandbox"] == "acme/eng/coder-1");
  auto policy_loads = agentctl_json(world, {"audit", "--decision", "loaded"});
  REQUIRE(policy_loads.is_array());
  CHECK(policy_loads.size() == 1);
  CHECK(agentctl_json(world, {"audit", "--agent", "globex/*/*"}).empty());

  // The SIEM's view: OCSF Network Activity, one line per event.
  bool denial = false, decision = false;
  std::istringstream lines(read_file(audit_log));
  std::string line;
  while (std::getline(lines, line)) {
    auto e = json::parse(line);
    CHECK(e["class_uid"] == 4001);
    CHECK(e["category_uid"] == 4);
    CHECK(e["type_uid"] == e["class_uid"].get<int>() * 100 + e["activity_id"].get<int>());
    if (e["disposition_id"] == 2 && e["dst_endpoint"]["port"] == kPort) denial = true;
    if (e["activity_id"] == 99 && e["action_id"] == 1) decision = true;
  }
  CHECK(denial);
  CHECK(decision);
}

TEST_CASE("a sandboxed process, even root, cannot use the control socket or approve itself") {
  World world;
  world.write_policy("acme.yaml", kAcmePolicy);
  REQUIRE(world.start_agentd());
  expect_refused(connect_from(world, "acme/eng/coder-1", kDest, kPort));
  json request = wait_for_request(world, "acme/eng/coder-1", kDest, kPort);
  // agentctl run hides the control socket from what it starts...
  auto inside = world.in_sandbox("acme/eng/coder-1", {agentctl_bin(), "--socket", world.socket().string(), "approvals",
                                                      "approve", std::to_string(id_of(request))});
  INFO(inside.describe());
  CHECK(inside.exit_code == 1);
  // ...and a root process that entered the sandbox's cgroup some other way
  // reaches the socket but is refused by the gate.
  const auto cgroup = world.cgroup_root() / "acme" / "eng" / "coder-1";
  auto entered = world.in_host({"sh", "-c",
                                "echo $$ > '" + (cgroup / "cgroup.procs").string() + "' && exec '" + agentctl_bin() +
                                    "' --socket '" + world.socket().string() + "' approvals approve " +
                                    std::to_string(id_of(request))});
  INFO(entered.describe());
  CHECK(entered.exit_code == 1);
  CHECK(entered.err.find("requests from inside a sandbox are refused") != std::string::npos);
  CHECK(wait_for_request(world, "acme/eng/coder-1", kDest, kPort).is_object());  // still pending
  expect_refused(connect_from(world, "acme/eng/coder-1", kDest, kPort));
}

TEST_CASE("operators are authorised per tenant from their uid and groups", "[kernel-neutral]") {
  World world;
  world.write_policy("acme.yaml", kAcmePolicy);
  world.write_policy("globex.yaml", kGlobexPolicy);
  // Numeric ids no account uses: an approver group for acme, a viewer user,
  // and a user in the socket's group with no role.
  const std::string approvers = "47710", socket_group = "47711", approver = "47701", viewer = "47702", nobody = "47703";
  const auto roles = world.dir() / "roles.yaml";
  std::ofstream(roles) << "roles:\n"
                          "  - groups: [\""
                       << approvers
                       << "\"]\n"
                          "    role: approver\n"
                          "    tenants: [acme]\n"
                          "  - users: [\""
                       << viewer
                       << "\"]\n"
                          "    role: viewer\n";
  std::filesystem::permissions(world.dir(), std::filesystem::perms::owner_all | std::filesystem::perms::others_exec |
                                                std::filesystem::perms::group_exec);
  REQUIRE(world.start_agentd({"--roles", roles.string(), "--socket-group", socket_group}));
  auto as = [&](const std::string& uid, const std::vector<std::string>& groups, std::vector<std::string> args) {
    std::string list;
    for (const auto& g : groups) list += (list.empty() ? "" : ",") + g;
    std::vector<std::string> argv = {"setpriv",      "--reuid=" + uid, "--regid=" + uid,       "--groups=" + list,
                                     agentctl_bin(), "--socket",       world.socket().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return world.in_host(argv);
  };

  expect_refused(connect_from(world, "acme/eng/coder-1", kDest, kPort));
  expect_refused(connect_from(world, "globex/eng/bot", kDest, kPort));
  json acme = wait_for_request(world, "acme/eng/coder-1", kDest, kPort);
  json globex = wait_for_request(world, "globex/eng/bot", kDest, kPort);

  auto refused = as(approver, {approvers, socket_group}, {"approvals", "approve", std::to_string(id_of(globex))});
  INFO(refused.describe());
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("may not answer requests of tenant globex") != std::string::npos);
  expect_refused(connect_from(world, "globex/eng/bot", kDest, kPort));

  auto approved = as(approver, {approvers, socket_group}, {"approvals", "approve", std::to_string(id_of(acme))});
  INFO(approved.describe());
  CHECK(approved.exit_code == 0);
  expect_ok(connect_from(world, "acme/eng/coder-1", kDest, kPort));

  // A viewer sees, never answers.
  auto list = as(viewer, {socket_group}, {"approvals", "list", "-o", "json"});
  INFO(list.describe());
  CHECK(list.exit_code == 0);
  CHECK(list.out.find("globex/eng/bot") != std::string::npos);
  auto viewer_answer = as(viewer, {socket_group}, {"approvals", "deny", std::to_string(id_of(globex))});
  CHECK(viewer_answer.exit_code == 1);
  CHECK(viewer_answer.err.find("needs the approver role") != std::string::npos);
  // The approver's role holds for acme only: it does not see globex.
  auto approver_list = as(approver, {approvers, socket_group}, {"approvals", "list", "-o", "json"});
  CHECK(approver_list.out.find("globex") == std::string::npos);
  // Nor its sandboxes, their DNS or its policy file, in status or sandbox list.
  for (const std::vector<std::string>& read :
       {std::vector<std::string>{"status", "-o", "json"}, std::vector<std::string>{"sandbox", "list", "-o", "json"}}) {
    auto seen = as(approver, {approvers, socket_group}, read);
    INFO(seen.describe());
    CHECK(seen.exit_code == 0);
    CHECK(seen.out.find("acme/eng/coder-1") != std::string::npos);
    CHECK(seen.out.find("globex") == std::string::npos);
  }
  auto everything = as(viewer, {socket_group}, {"sandbox", "list", "-o", "json"});
  CHECK(everything.out.find("globex/eng/bot") != std::string::npos);  // a viewer of every tenant
  // Admin work needs an admin.
  CHECK(as(approver, {approvers, socket_group}, {"policy", "apply"}).exit_code == 1);
  // In the socket's group but with no role: not served.
  auto stranger = as(nobody, {socket_group}, {"status"});
  CHECK(stranger.exit_code == 1);
  CHECK(stranger.err.find("has no role") != std::string::npos);
  // Not in the socket's group: cannot even connect.
  CHECK(as(viewer, {"47799"}, {"status"}).exit_code == 1);
}

TEST_CASE("grants export prints standing grants as policy rules that keep the access once merged and revoked",
          "[kernel-neutral]") {
  World world;
  world.write_policy("acme.yaml", kAcmePolicy);
  world.write_policy("globex.yaml", kGlobexPolicy);
  REQUIRE(world.start_agentd());
  // Nothing granted yet: nothing to export.
  auto empty = world.agentctl({"grants", "export"});
  CHECK(empty.exit_code == 1);
  CHECK(empty.err.find("no standing grants") != std::string::npos);

  expect_refused(connect_from(world, "acme/eng/coder-1", kDest, kPort));
  auto request = wait_for_request(world, "acme/eng/coder-1", kDest, kPort);
  REQUIRE(request.is_object());
  REQUIRE(
      agentctl_json(world, {"approvals", "approve", std::to_string(id_of(request)), "--scope", "team"}).is_object());
  expect_refused(connect_from(world, "globex/eng/bot", kDest, kPort));
  auto other = wait_for_request(world, "globex/eng/bot", kDest, kPort);
  REQUIRE(other.is_object());
  REQUIRE(agentctl_json(world, {"approvals", "approve", std::to_string(id_of(other))}).is_object());

  // Two tenants hold grants: which one is the operator's to say.
  auto ambiguous = world.agentctl({"grants", "export"});
  CHECK(ambiguous.exit_code == 2);
  CHECK(ambiguous.err.find("acme, globex") != std::string::npos);
  auto exported = world.agentctl({"grants", "export", "--tenant", "acme"});
  INFO(exported.describe());
  REQUIRE(exported.exit_code == 0);
  CHECK(exported.out.find("agents: \"acme/eng/*\"") != std::string::npos);
  CHECK(exported.out.find("globex") == std::string::npos);

  // Merged into acme's file (its rules appended), applied, the grant revoked:
  // the team keeps the access, now by policy.
  const auto rules = exported.out.substr(exported.out.find("rules:\n") + 7);
  world.write_policy("acme.yaml", std::string(kAcmePolicy) + rules);
  auto applied = world.agentctl({"policy", "apply"});
  INFO(applied.describe());
  REQUIRE(applied.exit_code == 0);
  auto grants = agentctl_json(world, {"grants", "list"});
  REQUIRE(grants.is_array());
  for (const auto& g : grants)
    if (g["tenant"] == "acme")
      REQUIRE(world.agentctl({"grants", "revoke", std::to_string(g["id"].get<uint64_t>())}).exit_code == 0);
  expect_ok(connect_from(world, "acme/eng/coder-2", kDest, kPort));
  auto explain = agentctl_json(world, {"policy", "explain", "--agent", "acme/eng/coder-2", "--dest",
                                       std::string(kDest) + ":" + std::to_string(kPort)});
  REQUIRE(explain.is_object());
  CHECK(explain["allowed"] == true);
  CHECK(explain["explanation"].get<std::string>().find("grant") == std::string::npos);
  CHECK(world.stray_packets() == 0);
}

TEST_CASE("grants add opens one address or one name before anything was refused, never over a deny",
          "[kernel-neutral]") {
  World world;
  world.write_policy("acme.yaml", kAcmePolicy);
  REQUIRE(world.start_agentd());
  const std::string agent = "acme/eng/coder-1";
  auto added = agentctl_json(world, {"grants", "add", "--agent", agent, "--dest", "198.51.100.20:8080", "--for", "1h"});
  INFO(world.agentd_log());
  REQUIRE(added.is_object());
  CHECK(added["grant"]["subject"] == agent);
  CHECK(added["request"]["state"] == "approved");
  expect_ok(connect_from(world, agent, kDest, kPort));
  expect_refused(connect_from(world, "acme/eng/coder-2", kDest, kPort));  // the agent's scope
  expect_refused(connect_from(world, agent, kDest, 443));                 // that port only

  // A name: it resolves, and its addresses open on every port (8080 is no
  // CIDR rule's port for 198.51.100.10).
  expect_refused(connect_from(world, agent, "198.51.100.10", 8080));
  auto every = agentctl_json(world, {"grants", "add", "--agent", agent, "--dest", "allowed.example.test"});
  REQUIRE(every.is_object());
  CHECK(every["grant"]["opens"] == "every port");
  expect_ok(world.netprobe_in_sandbox(agent, {"resolve", "allowed.example.test", "8080"}));
  expect_ok(world.netprobe_in_sandbox(agent, {"resolve", "allowed.example.test", "443"}));

  // A name on one port: that port of its addresses opens, no other (443 is
  // no CIDR rule's port for 198.51.100.10).
  auto narrow =
      agentctl_json(world, {"grants", "add", "--agent", "acme/eng/coder-2", "--dest", "allowed.example.test:8080"});
  REQUIRE(narrow.is_object());
  CHECK(narrow["grant"]["opens"] == "port 8080");
  CHECK(narrow["grant"]["ports"] == "8080");
  expect_ok(world.netprobe_in_sandbox("acme/eng/coder-2", {"resolve", "allowed.example.test", "8080"}));
  expect_refused(world.netprobe_in_sandbox("acme/eng/coder-2", {"resolve", "allowed.example.test", "443"}));
  auto explained =
      agentctl_json(world, {"policy", "explain", "--agent", "acme/eng/coder-2", "--dest", "allowed.example.test:443"});
  REQUIRE(explained.is_object());
  CHECK(explained["allowed"] == false);

  // Refused, naming why, with nothing made.
  struct Refusal {
    std::string dest, words;
  };
  for (const Refusal& r : std::vector<Refusal>{{"198.51.100.66:80", "an explicit deny wins"},
                                               {"198.51.100.10:80", "already"},
                                               {"198.51.100.0/24", "write a policy rule"},
                                               {"198.51.100.30", "needs a port"},
                                               {"allowed.example.test:0", "is not a port"},
                                               {"allowed.example.test:443-80", "runs backwards"},
                                               {"allowed.example.test:1,2,3,4,5,6,7,8,9", "at most 8"},
                                               {"-bad-", "dest:"}}) {
    auto refused = world.agentctl({"grants", "add", "--agent", agent, "--dest", r.dest});
    INFO(r.dest << ": " << refused.describe());
    CHECK(refused.exit_code == 1);
    CHECK(refused.err.find(r.words) != std::string::npos);
  }
  auto grants = agentctl_json(world, {"grants", "list"});
  REQUIRE(grants.is_array());
  CHECK(grants.size() == 3);
  // The audit trail says who made them, and how.
  auto rows = agentctl_json(world, {"audit", "--agent", agent});
  REQUIRE(rows.is_array());
  size_t by_add = 0;
  for (const auto& e : rows) by_add += e["detail"].value("by", "") == "grants add";
  CHECK(by_add == 2);
  CHECK(world.stray_packets() == 0);
}

namespace {

// The JSON lines a follower printed so far.
std::vector<json> followed(const World& world, const std::string& name) {
  std::vector<json> lines;
  std::ifstream in(world.dir() / (name + ".out"));
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(json::parse(line, nullptr, false));
  return lines;
}

bool wait_for_followed(const World& world, const std::string& name, const std::string& agent) {
  for (int i = 0; i < 200; ++i) {
    for (const auto& e : followed(world, name))
      if (e.is_object() && e.value("sandbox", "") == agent) return true;
    usleep(50'000);
  }
  return false;
}

}  // namespace

TEST_CASE("audit --follow prints each new event as it is stored, across an agentd restart, none twice",
          "[kernel-neutral]") {
  World world;
  world.write_policy("acme.yaml", kAcmePolicy);
  REQUIRE(world.start_agentd());
  const pid_t follower = world.spawn_in_host(
      {agentctl_bin(), "--socket", world.socket().string(), "audit", "--follow", "-o", "json", "--decision", "deny"},
      "follow");
  expect_refused(connect_from(world, "acme/eng/coder-1", kDest, kPort));
  CHECK(wait_for_followed(world, "follow", "acme/eng/coder-1"));
  // A package upgrade restarts agentd: the follower waits and goes on.
  world.kill_agentd(SIGKILL);
  bool noticed = false;  // the follower says agentd is gone (a bounded wait)
  for (int i = 0; i < 200 && !noticed; ++i, usleep(50'000))
    noticed = read_file(world.dir() / "follow.err").find("agentd does not answer") != std::string::npos;
  CHECK(noticed);
  REQUIRE(world.start_agentd());
  expect_refused(connect_from(world, "acme/eng/coder-2", kDest, kPort));
  CHECK(wait_for_followed(world, "follow", "acme/eng/coder-2"));
  ::kill(follower, SIGTERM);
  auto stopped = world.wait_spawned(follower, "follow");
  INFO(stopped.describe());
  CHECK(stopped.err.find("agentd does not answer") != std::string::npos);
  CHECK(stopped.err.find("agentd answers again") != std::string::npos);
  // A refusal is not a restart: said, and done, not waited on.
  auto refused = world.agentctl({"audit", "--follow", "--since", "yesterday-ish"});
  INFO(refused.describe());
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("since") != std::string::npos);
  // Every line one event, each once, in the order stored.
  uint64_t last = 0;
  for (const auto& e : followed(world, "follow")) {
    REQUIRE(e.is_object());
    CHECK(e["decision"] == "deny");
    CHECK(e["id"].get<uint64_t>() > last);
    last = e["id"].get<uint64_t>();
  }
}

TEST_CASE("agentctl top shows each sandbox's rates, the one being denied first", "[kernel-neutral]") {
  World world;
  world.write_policy("acme.yaml", kAcmePolicy);
  REQUIRE(world.start_agentd());
  const auto stop = world.dir() / "stop-loops";
  const pid_t allowed =
      world.spawn_in_sandbox("acme/eng/coder-1", {"loop", "198.51.100.10", "80", stop.string()}, "allowed");
  const pid_t denied =
      world.spawn_in_sandbox("acme/eng/coder-2", {"loop", "198.51.100.66", "80", stop.string()}, "denied");
  // Until both loops run (a bounded wait), then two refreshes.
  json frame;
  for (int i = 0; i < 20; ++i) {
    auto top = world.agentctl({"top", "-o", "json", "--iterations", "2", "--interval", "0.5"});
    INFO(top.describe());
    REQUIRE(top.exit_code == 0);
    std::istringstream lines(top.out);
    std::string line, last;
    int frames = 0;
    while (std::getline(lines, line))
      if (!line.empty()) last = line, ++frames;
    CHECK(frames == 2);
    frame = json::parse(last, nullptr, false);
    REQUIRE(frame.is_object());
    if (frame["sandboxes"].size() == 2 && frame["sandboxes"][0]["denied_per_s"].get<double>() > 0 &&
        frame["sandboxes"][1]["allowed_per_s"].get<double>() > 0)
      break;
  }
  // No agentd at the first sample: said, and done.
  auto nowhere = world.in_host({agentctl_bin(), "--socket", (world.dir() / "no.sock").string(), "top", "-n", "1"});
  INFO(nowhere.describe());
  CHECK(nowhere.exit_code == 1);
  CHECK(nowhere.err.find("no.sock") != std::string::npos);
  // As a table (not a terminal here: no redraw codes).
  auto table = world.agentctl({"top", "--iterations", "1", "--interval", "0.2"});
  INFO(table.describe());
  CHECK(table.exit_code == 0);
  CHECK(table.out.find("agentd top: 2 sandboxes") != std::string::npos);
  CHECK(table.out.find("DENIED/S") != std::string::npos);
  CHECK(table.out.find("acme/eng/coder-2") != std::string::npos);
  CHECK(table.out.find('\x1b') == std::string::npos);
  std::ofstream(stop) << "stop";
  world.wait_spawned(allowed, "allowed");
  world.wait_spawned(denied, "denied");
  INFO(frame.dump());
  REQUIRE(frame["sandboxes"].size() == 2);
  CHECK(frame["sandboxes"][0]["agent"] == "acme/eng/coder-2");
  CHECK(frame["sandboxes"][0]["denied_per_s"].get<double>() > 0);
  CHECK(frame["sandboxes"][0]["allowed_per_s"].get<double>() == 0);
  CHECK(frame["sandboxes"][1]["agent"] == "acme/eng/coder-1");
  CHECK(frame["sandboxes"][1]["allowed_per_s"].get<double>() > 0);
  CHECK(frame["sandboxes"][1]["denied_per_s"].get<double>() == 0);
}
