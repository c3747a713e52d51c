// The command lines of the fleet commands (commands_fleet.hpp).
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

#include "commands_fleet.hpp"

namespace agentctl {

// --etcd-endpoints (or $AGENTCTL_ETCD_ENDPOINTS), --etcd-prefix, TLS files.
void add_etcd_options(CLI::App* cmd, EtcdArgs& etcd);
// `policy push` under `policy`, and `fleet status`.
void add_fleet_commands(CLI::App& app, CLI::App* policy, Globals& g, FleetArgs& args,
                        const std::function<void(CLI::App*)>& add_output, int& code);

}  // namespace agentctl
