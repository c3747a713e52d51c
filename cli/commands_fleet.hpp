// agentctl's fleet commands: they talk to etcd (README, "Fleet"), not to a
// daemon: `policy push`, `policy diff --fleet`, `fleet status`.
#pragma once

#include <cstdint>
#include <string>

#include "agentd/fleet/etcd_client.hpp"
#include "agentd/fleet/key_layout.hpp"
#include "commands.hpp"

namespace agentctl {

struct EtcdArgs {
  std::string endpoints;  // http(s)://host:port,...
  std::string prefix = "/agentd";
  std::string ca_file, cert_file, key_file;
};

struct EtcdConnection {
  agentd::fleet::EtcdClient client;
  agentd::fleet::KeyLayout layout;
};
agentd::Result<EtcdConnection> connect_etcd(const EtcdArgs& args);

// What the fleet subcommands read from their command lines.
struct FleetArgs {
  EtcdArgs etcd;
  std::string dir;
  int64_t base_revision = 0;  // 0: the revision read
  bool diff_fleet = false;    // policy diff --fleet
  std::string host;           // fleet forget HOST
};

// Validates DIR as agentd would, then makes etcd hold exactly its files in
// one transaction guarded by the revision read (or `base_revision`, the one
// a `policy diff --fleet` showed): refused when etcd's policy changed since.
int policy_push(const Globals& g, const EtcdArgs& etcd, const std::string& dir, int64_t base_revision);
// DIR against what etcd holds: the keys that a push would change, and the
// rules (policy diff's format).
int policy_diff_fleet(const Globals& g, const EtcdArgs& etcd, const std::string& dir);
// Every host that reports (a live lease), and whether it applied the newest
// policy.
// Live hosts and members gone silent (unreachable or stopped, for how long).
int fleet_status(const Globals& g, const EtcdArgs& etcd);
// Removes a member that is not live from fleet status.
int fleet_forget(const EtcdArgs& etcd, const std::string& host);
// agentctl watch --fleet: every host's pending requests, from etcd, answered
// through etcd (commands_watch.cpp).
int watch_fleet(const Globals& g, const AgentFilter& filter, const EtcdArgs& etcd);

}  // namespace agentctl
