// agentctl's subcommands. Each returns the process exit code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "agent_filter.hpp"

namespace agentctl {

struct Globals {
  std::filesystem::path socket = "/run/agentd/agentd.sock";
  std::string output = "table";  // table | json
};

int run_command(const Globals& g, const std::string& agent, const std::string& user,
                const std::vector<std::string>& argv, bool unknown_tenant = false);
// --strict: warnings (rules that do nothing) fail like errors.
int policy_validate(const Globals& g, const std::vector<std::string>& paths, bool strict = false);
int policy_explain(const Globals& g, const std::string& agent, const std::string& dest, const std::string& policy_dir,
                   bool inbound, const std::string& sni);
int policy_apply(const Globals& g);
// No paths: agentd's policy dir against what it applied (policy.diff).
// PATHS (one DIR, or FILEs): that candidate against what it applied.
int policy_diff(const Globals& g, const std::vector<std::string>& paths = {});
// `sandboxes`: how many to detail (agentd's default when absent).
int status(const Globals& g, std::optional<uint32_t> sandboxes = std::nullopt);
int sandbox_list(const Globals& g);
int sandbox_profile(const Globals& g, const std::string& agent, const std::string& policy_dir);
int sandbox_adopt(const Globals& g, const std::string& agent, const std::string& cgroup, bool unknown_tenant = false);
int sandbox_remove(const Globals& g, const std::string& agent);
// --container: ENGINE is auto, podman or docker.
int sandbox_adopt_container(const Globals& g, const std::string& agent, const std::string& container,
                            const std::string& engine, bool unknown_tenant = false);
// Reads an OCI runtime's state on stdin (hooks.d, stage createRuntime).
int oci_hook(const Globals& g);

// --agent/--tenant: only those sandboxes' requests.
int watch(const Globals& g, const AgentFilter& filter = {});
int approvals_list(const Globals& g, const std::string& state, const std::string& expand,
                   const AgentFilter& filter = {});
// `ports`: a name request's grant on those ports only ("" every port).
int approvals_answer(const Globals& g, uint64_t id, bool allow, const std::string& scope, const std::string& duration,
                     bool always, const std::string& ports = "");
// --all: every pending request that `filter` (not empty) takes, answered
// alike; fails if any answer did.
int approvals_answer_all(const Globals& g, const AgentFilter& filter, bool allow, const std::string& scope,
                         const std::string& duration, bool always, const std::string& ports = "");
int approvals_reopen(const Globals& g, uint64_t id);
// Completion candidates from the daemon (commands_complete.cpp).
int complete(const Globals& g, const std::string& what);
int grants_list(const Globals& g);
int grants_revoke(const Globals& g, uint64_t id);
// The standing grants of one tenant (--tenant, or the only one with any)
// as policy YAML to merge into its file.
int grants_export(const Globals& g, const std::string& tenant);
// A grant made before anything was refused: one address and port, or one
// name (every port of its addresses), for the agent's scope.
int grants_add(const Globals& g, const std::string& agent, const std::string& dest, const std::string& scope,
               const std::string& duration, bool always);
// Each sandbox's rates, busiest first, every `interval` seconds;
// `iterations` refreshes (0: until interrupted), the busiest `limit`.
int top(const Globals& g, double interval, unsigned iterations, size_t limit);
// `follow`: then every new event as it is stored, until interrupted.
int audit(const Globals& g, const std::string& agent, const std::string& since, const std::string& decision,
          size_t limit, bool follow = false);

// Exit codes: 0 success, 1 the operation failed or was refused, 2 bad usage.
constexpr int kExitFailure = 1;

}  // namespace agentctl
