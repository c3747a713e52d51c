#include "commands_approvals_cli.hpp"

#include "commands_fleet_cli.hpp"

#include <iostream>
#include <memory>

namespace agentctl {
namespace {

int usage_error(const std::string& message) {
  std::cerr << "agentctl: " << message << "\n";
  return 2;  // bad usage (commands.hpp)
}

}  // namespace

void add_approval_commands(CLI::App& app, Globals& g, const std::function<void(CLI::App*)>& add_output, int& code) {
  // The options outlive this function: CLI11 writes into them when parsing.
  struct Args {
    std::string state, scope = "agent", duration, agent, since, decision, expand, dest, ports;
    uint64_t id = 0;
    bool always = false, all = false, follow = false, fleet = false;
    AgentFilter filter;
    EtcdArgs etcd;  // watch --fleet
    size_t limit = 1000;
  };
  auto a = std::make_shared<Args>();

  auto* approvals = app.add_subcommand("approvals", "list and answer requests from scripts");
  approvals->require_subcommand(1);
  auto* list = approvals->add_subcommand("list", "requests (pending unless --state says otherwise)");
  list->add_option("--state", a->state, "pending, approved, denied, expired or all")
      ->check(CLI::IsMember({"pending", "approved", "denied", "expired", "all"}));
  list->add_option("--expand", a->expand,
                   "a sandbox past its request caps: the destinations its \"N more destinations\" entry holds");
  // Whose requests: a glob over TENANT/TEAM/AGENT, as audit --agent, or a tenant.
  auto add_filter = [a](CLI::App* command) {
    command->add_option("--agent", a->filter.agent_glob,
                        "only sandboxes matching this TENANT/TEAM/AGENT glob, e.g. 'acme/ds/*'");
    command->add_option("--tenant", a->filter.tenant, "only this tenant's sandboxes");
  };
  add_filter(list);

  auto* watch = app.add_subcommand("watch", "answer blocked requests at an interactive prompt (keys a p t n d s q)");
  add_filter(watch);
  watch->add_flag("--fleet", a->fleet,
                  "every host's requests, read from etcd and answered through it (README, \"Fleet\")");
  add_etcd_options(watch, a->etcd);
  watch->callback([&g, &code, a] {
    if (!a->fleet && !a->etcd.endpoints.empty()) {
      code = usage_error("--etcd-endpoints needs --fleet");
      return;
    }
    code = a->fleet ? agentctl::watch_fleet(g, a->filter, a->etcd) : agentctl::watch(g, a->filter);
  });
  add_output(list);
  list->callback([&g, &code, a] { code = approvals_list(g, a->state, a->expand, a->filter); });
  auto* approve = approvals->add_subcommand("approve", "allow a request's destination");
  auto* approve_id = approve->add_option("id", a->id, "the request's id");
  approve->add_flag("--all", a->all, "every pending request of --agent/--tenant instead of one id")
      ->excludes(approve_id);
  add_filter(approve);
  auto* duration =
      approve->add_option("--for", a->duration, "how long (30m, 8h, 7d) [default: the tenant's grant_duration]");
  approve->add_flag("--always", a->always, "for good (until revoked)")->excludes(duration);
  approve->add_option(
      "--ports", a->ports,
      "a name request: its addresses open on these ports only (443, 80,443, 8000-8100) [default: every port]");
  approve->add_option("--scope", a->scope, "who may reach it: the agent, its team or its whole tenant")
      ->check(CLI::IsMember({"agent", "team", "tenant"}))
      ->capture_default_str();
  add_output(approve);
  approve->callback([&g, &code, a] {
    if (a->all)
      code = approvals_answer_all(g, a->filter, true, a->scope, a->duration, a->always, a->ports);
    else if (a->id == 0)
      code = usage_error("approvals approve: give a request id, or --all with --agent or --tenant");
    else
      code = approvals_answer(g, a->id, true, a->scope, a->duration, a->always, a->ports);
  });
  auto* deny = approvals->add_subcommand("deny", "refuse a request; repeats stay silent for a while");
  auto* deny_id = deny->add_option("id", a->id, "the request's id");
  deny->add_flag("--all", a->all, "every pending request of --agent/--tenant instead of one id")->excludes(deny_id);
  add_filter(deny);
  deny->add_option("--for", a->duration, "how long repeats stay silent [default: the tenant's silence_after_deny]");
  add_output(deny);
  deny->callback([&g, &code, a] {
    if (a->all)
      code = approvals_answer_all(g, a->filter, false, "", a->duration, false);
    else if (a->id == 0)
      code = usage_error("approvals deny: give a request id, or --all with --agent or --tenant");
    else
      code = approvals_answer(g, a->id, false, "", a->duration, false);
  });

  auto* reopen = approvals->add_subcommand(
      "reopen",
      "take an answer back: the request is pending again (an approval's grant is revoked, a deny's silence ends)");
  reopen->add_option("id", a->id, "the request's id (approvals list --state all)")->required();
  add_output(reopen);
  reopen->callback([&g, &code, a] { code = approvals_reopen(g, a->id); });

  auto* grants = app.add_subcommand("grants", "show and remove grants");
  grants->require_subcommand(1);
  auto* glist = grants->add_subcommand("list", "live grants");
  add_output(glist);
  glist->callback([&g, &code] { code = grants_list(g); });
  auto* revoke = grants->add_subcommand("revoke", "remove a grant now");
  revoke->add_option("id", a->id, "the grant's id")->required();
  add_output(revoke);
  revoke->callback([&g, &code, a] { code = grants_revoke(g, a->id); });
  auto* gadd = grants->add_subcommand("add", "grant before anything was refused: one ADDR:PORT[/udp] or one NAME");
  gadd->add_option("--agent", a->agent, "TENANT/TEAM/AGENT the grant is for")->required();
  gadd->add_option("--dest", a->dest,
                   "ADDR:PORT[/udp] ([ADDR]:PORT for IPv6), or a NAME: it resolves, and its addresses open on every "
                   "port, or NAME:PORTS (NAME:443, NAME:80,443) on those only")
      ->required();
  auto* gadd_for =
      gadd->add_option("--for", a->duration, "how long (30m, 8h, 7d) [default: the tenant's grant_duration]");
  gadd->add_flag("--always", a->always, "for good (until revoked)")->excludes(gadd_for);
  gadd->add_option("--scope", a->scope, "who may reach it: the agent, its team or its whole tenant")
      ->check(CLI::IsMember({"agent", "team", "tenant"}))
      ->capture_default_str();
  add_output(gadd);
  gadd->callback([&g, &code, a] { code = grants_add(g, a->agent, a->dest, a->scope, a->duration, a->always); });
  auto* gexport = grants->add_subcommand("export", "standing grants as policy YAML rules, to move them into Git");
  gexport->add_option("--tenant", a->filter.tenant, "the tenant whose grants to print (needed when several have some)");
  gexport->callback([&g, &code, a] { code = grants_export(g, a->filter.tenant); });

  auto* audit = app.add_subcommand(
      "audit", "the audit trail: denials, requests, decisions, grants, expiries, policy loads, sandboxes");
  audit->add_option("--agent", a->agent, "TENANT/TEAM/AGENT glob, e.g. 'acme/*/*'");
  audit->add_option("--since", a->since, "how far back (1h, 7d) or an RFC 3339 time");
  audit->add_option(
      "--decision", a->decision,
      "deny (denials and refusals), approved, denied, allow (grants), expired, revoked, reopened, loaded, refused, "
      "created, adopted, retired (sandboxes)");
  audit->add_option("--limit", a->limit, "the newest N events")->capture_default_str();
  audit->add_flag("--follow,-f", a->follow,
                  "then print each new event as agentd stores it, one a line (-o json: a JSON object a line), until "
                  "interrupted; waits out agentd restarting");
  add_output(audit);
  audit->callback([&g, &code, a] { code = agentctl::audit(g, a->agent, a->since, a->decision, a->limit, a->follow); });
}

}  // namespace agentctl
