#include "commands_fleet_cli.hpp"

namespace agentctl {

void add_etcd_options(CLI::App* cmd, EtcdArgs& etcd) {
  cmd->add_option("--etcd-endpoints", etcd.endpoints, "etcd members, http(s)://host:port,...")
      ->envname("AGENTCTL_ETCD_ENDPOINTS");
  cmd->add_option("--etcd-prefix", etcd.prefix, "the fleet's keys in etcd")->capture_default_str();
  cmd->add_option("--etcd-ca", etcd.ca_file, "CA certificate that etcd's server certificate chains to");
  cmd->add_option("--etcd-cert", etcd.cert_file, "client certificate for etcd (with --etcd-key)");
  cmd->add_option("--etcd-key", etcd.key_file, "the client certificate's private key");
}

void add_fleet_commands(CLI::App& app, CLI::App* policy, Globals& g, FleetArgs& args,
                        const std::function<void(CLI::App*)>& add_output, int& code) {
  auto* push = policy->add_subcommand(
      "push", "validate a policy dir and make the fleet's etcd hold exactly it, in one transaction");
  push->add_option("dir", args.dir, "the policy dir (tenant files, presets/)")->required();
  push->add_option("--base-revision", args.base_revision,
                   "refuse unless etcd's policy is still at this revision (the one policy diff --fleet showed)");
  add_etcd_options(push, args.etcd);
  add_output(push);
  push->callback([&] { code = policy_push(g, args.etcd, args.dir, args.base_revision); });

  auto* fleet = app.add_subcommand("fleet", "the hosts that follow the policy in etcd");
  fleet->require_subcommand(1);
  auto* status = fleet->add_subcommand("status", "every live host, its applied revision and last refusal");
  add_etcd_options(status, args.etcd);
  add_output(status);
  status->callback([&] { code = fleet_status(g, args.etcd); });
  auto* forget = fleet->add_subcommand("forget", "remove a host that will not come back from fleet status");
  forget->add_option("host", args.host, "the host's name (--etcd-host-name)")->required();
  add_etcd_options(forget, args.etcd);
  forget->callback([&] { code = fleet_forget(args.etcd, args.host); });
}

}  // namespace agentctl
