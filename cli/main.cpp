// agentctl: run agents in sandboxes, check policy, inspect the daemon.
#include <CLI/CLI.hpp>

#include "agentd/common/version.hpp"
#include "agentd_abi.h"
#include "commands.hpp"
#include "commands_approvals_cli.hpp"
#include "commands_fleet_cli.hpp"

// NOLINTNEXTLINE(bugprone-exception-escape): CLI11 reports its own errors; anything else ends agentctl
int main(int argc, char** argv) {
  agentctl::Globals g;
  CLI::App app{"agentctl: manage agentd, the egress enforcer for AI-agent sandboxes"};
  app.set_version_flag("--version", agentd::version());
  app.require_subcommand(1);
  app.add_option("--socket", g.socket, "agentd's control socket")->envname("AGENTD_SOCKET")->capture_default_str();
  // --socket (and the other global options) after the subcommand too:
  // `agentctl status --socket PATH` as well as `agentctl --socket PATH status`.
  // Set before the subcommands are added, which inherit it.
  app.fallthrough();
  auto add_output = [&](CLI::App* cmd) {
    cmd->add_option("-o,--output", g.output, "table or json")->check(CLI::IsMember({"table", "json"}));
  };

  std::string agent, user, dest, policy_dir, cgroup;
  std::vector<std::string> command, paths;
  int code = 0;

  auto* run = app.add_subcommand("run", "run a command inside an agent's sandbox");
  run->add_option("--agent", agent, "TENANT/TEAM/AGENT")->required();
  run->add_option("--user", user, "run the command as this user (name or uid)");
  bool unknown_tenant = false;
  run->add_flag("--unknown-tenant", unknown_tenant,
                "make the sandbox even if no policy file names its tenant (a staged roll-out: everything is denied "
                "until one does); without it such a name is refused as a likely typo");
  run->add_option("command", command, "the command and its arguments (after --)")->required();
  run->callback([&] { code = agentctl::run_command(g, agent, user, command, unknown_tenant); });

  auto* policy = app.add_subcommand("policy", "check and explain policy");
  policy->require_subcommand(1);
  auto* validate =
      policy->add_subcommand("validate", "check policy files without a daemon, and warn about rules that do nothing");
  validate->add_option("paths", paths, "policy files or directories")->required();
  bool strict = false;
  validate->add_flag("--strict", strict, "warnings fail too (exit 1)");
  add_output(validate);
  validate->callback([&] { code = agentctl::policy_validate(g, paths, strict); });
  auto* explain = policy->add_subcommand("explain", "would this agent reach this destination, and why");
  explain->add_option("--agent", agent, "TENANT/TEAM/AGENT")->required();
  explain->add_option("--dest", dest, "ADDR:PORT or HOST:PORT, then /tcp or /udp (default tcp); IPv6 as [ADDR]:PORT")
      ->required();
  explain->add_option("--policy-dir", policy_dir, "explain from these files instead of the running daemon");
  bool inbound = false;
  explain->add_flag("--inbound", inbound,
                    "--dest is a peer connecting or sending into the sandbox, PORT the sandbox's own port "
                    "(judged by inbound: rules)");
  std::string sni;
  explain->add_option("--sni", sni,
                      "the host name the connection's first bytes carry (TLS SNI or HTTP Host), "
                      "as the kernel checks it on a connection a host rule allowed");
  add_output(explain);
  explain->callback([&] { code = agentctl::policy_explain(g, agent, dest, policy_dir, inbound, sni); });
  auto* apply = policy->add_subcommand("apply", "make the daemon reload its policy dir now");
  add_output(apply);
  apply->callback([&] { code = agentctl::policy_apply(g); });
  auto* diff = policy->add_subcommand(
      "diff", "what an apply would change, rule by rule; with PATH, a candidate against what agentd applied");
  std::vector<std::string> diff_paths;
  diff->add_option("paths", diff_paths,
                   "a candidate policy dir (or policy files), compared with the running policy without applying it");
  add_output(diff);
  agentctl::FleetArgs fleet_args;
  diff->add_flag("--fleet", fleet_args.diff_fleet, "compare PATH (one policy dir) with what the fleet's etcd holds");
  agentctl::add_etcd_options(diff, fleet_args.etcd);
  diff->callback([&] {
    if (!fleet_args.diff_fleet) {
      code = agentctl::policy_diff(g, diff_paths);
    } else if (diff_paths.size() != 1) {
      std::cerr << "agentctl: policy diff --fleet takes one policy dir\n";
      code = 2;
    } else {
      code = agentctl::policy_diff_fleet(g, fleet_args.etcd, diff_paths[0]);
    }
  });
  agentctl::add_fleet_commands(app, policy, g, fleet_args, add_output, code);

  auto* status = app.add_subcommand("status", "the daemon, its policy, sandboxes and kernel features");
  add_output(status);
  std::optional<uint32_t> status_sandboxes;
  status
      ->add_option("--sandboxes", status_sandboxes,
                   "how many sandboxes to detail (default 100; the counts cover all; `sandbox list` lists all)")
      ->check(CLI::Range(0u, static_cast<unsigned>(AGENTD_MAX_SANDBOXES)));
  status->callback([&] { code = agentctl::status(g, status_sandboxes); });

  auto* top = app.add_subcommand("top", "each sandbox's allowed and denied connects and sends and its DNS, per second");
  double top_interval = 2;
  unsigned top_iterations = 0;
  size_t top_limit = 30;
  top->add_option("--interval,-d", top_interval, "seconds between refreshes")
      ->check(CLI::Range(0.2, 3600.0))
      ->capture_default_str();
  top->add_option("--iterations,-n", top_iterations, "refreshes, then exit (0: until Ctrl-C)")->capture_default_str();
  top->add_option("--limit", top_limit, "the busiest N sandboxes")
      ->check(CLI::Range(size_t{1}, size_t{100000}))
      ->capture_default_str();
  add_output(top);
  top->callback([&] { code = agentctl::top(g, top_interval, top_iterations, top_limit); });

  auto* sandbox = app.add_subcommand("sandbox", "list, inspect, adopt and remove sandboxes");
  sandbox->require_subcommand(1);
  auto* list = sandbox->add_subcommand("list", "the sandboxes and their counters");
  add_output(list);
  list->callback([&] { code = agentctl::sandbox_list(g); });
  auto* profile =
      sandbox->add_subcommand("profile", "an agent's effective sandbox profile, and what this kernel enforces");
  profile->add_option("--agent", agent, "TENANT/TEAM/AGENT")->required();
  profile->add_option("--policy-dir", policy_dir, "read the profile from these files instead of the running daemon");
  add_output(profile);
  profile->callback([&] { code = agentctl::sandbox_profile(g, agent, policy_dir); });
  auto* adopt = sandbox->add_subcommand("adopt", "make an existing cgroup or running container an agent's sandbox");
  adopt->add_option("--agent", agent, "TENANT/TEAM/AGENT")->required();
  auto* cgroup_option = adopt->add_option("--cgroup", cgroup, "the cgroup v2 directory");
  std::string container, engine = "auto";
  auto* container_option =
      adopt->add_option("--container", container, "a running Podman or Docker container (id or name)");
  cgroup_option->excludes(container_option);
  adopt->add_option("--engine", engine, "with --container: auto (the one that knows it), podman or docker")
      ->check(CLI::IsMember({"auto", "podman", "docker"}))
      ->needs(container_option)
      ->capture_default_str();
  adopt->add_flag("--unknown-tenant", unknown_tenant, "adopt even if no policy file names the agent's tenant");
  adopt->callback([&] {
    if (container.empty() && cgroup.empty()) throw CLI::RequiredError("--cgroup or --container");
    code = container.empty() ? agentctl::sandbox_adopt(g, agent, cgroup, unknown_tenant)
                             : agentctl::sandbox_adopt_container(g, agent, container, engine, unknown_tenant);
  });
  auto* remove = sandbox->add_subcommand(
      "remove", "retire a sandbox now: an adopted one (its processes are no longer enforced), or an empty one");
  remove->add_option("--agent", agent, "TENANT/TEAM/AGENT")->required();
  remove->callback([&] { code = agentctl::sandbox_remove(g, agent); });

  auto* hook = app.add_subcommand(
      "oci-hook",
      "the OCI runtime hook (hooks.d): adopts a container annotated io.agentd.agent=TENANT/TEAM/AGENT "
      "before its first instruction; reads the runtime's state on stdin");
  hook->callback([&] { code = agentctl::oci_hook(g); });

  add_approval_commands(app, g, add_output, code);

  // For the shell completions only (no group: left out of --help).
  auto* complete = app.add_subcommand("complete", "candidates for shell completion, one a line, from the daemon");
  complete->group("");
  std::string complete_what;
  complete->add_option("what", complete_what, "pending, decided, grants, agents or tenants")->required();
  complete->callback([&] { code = agentctl::complete(g, complete_what); });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every usage error exits 2.
    return app.exit(e) == 0 ? 0 : 2;
  }
  return code;
}
