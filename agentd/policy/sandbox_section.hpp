// A rule's `sandbox:` section (Landlock paths, seccomp profile, user,
// requirements) as written, and the profile that applies to one agent once
// every matching rule is merged. Pure: the kernel side is sandbox/.
//
// Merge rules (README, "Sandbox profile"): scalars (user, syscalls.profile,
// syscalls.action, network.landlock_ports) come from the most specific matching selector, the later
// rule winning a tie; lists add up; a syscall denied anywhere stays denied
// whatever allows it; require.landlock_abi is the highest any rule asks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "agentd/common/result.hpp"
#include "agentd/policy/model.hpp"

namespace agentd::policy {

enum class SyscallProfileKind { none, standard, strict };  // "none", "default", "strict"
enum class SyscallAction { error, kill, log };             // "errno", "kill", "log"

std::string_view name_of(SyscallProfileKind kind);
std::string_view name_of(SyscallAction action);

struct PathRule {
  std::string path;  // absolute; may hold {tenant} {team} {agent}
  SourcePos pos;
};

struct SyscallRule {
  std::string name;
  SourcePos pos;
};

struct SandboxSection {
  SourcePos pos;
  std::string path;  // "rules[0].sandbox"
  std::optional<std::string> user;
  bool has_filesystem = false;
  std::vector<PathRule> read_only, read_write, execute;
  std::optional<SyscallProfileKind> profile;
  std::vector<SyscallRule> deny, allow;
  std::optional<SyscallAction> action;
  std::optional<int> landlock_abi;
  std::optional<bool> landlock_ports;  // network.landlock_ports
  std::optional<bool> keep;            // not retired when its last process exits
};

// The effective profile of one agent; what agentd hands `agentctl run`.
struct SandboxProfile {
  std::optional<std::string> user;
  // Landlock file rules only when some rule has `filesystem:`; otherwise
  // files are confined by permissions alone (README explains why).
  bool filesystem = false;
  std::vector<std::string> read_only, read_write, execute;  // expanded, sorted, unique
  SyscallProfileKind profile = SyscallProfileKind::standard;
  std::vector<std::string> deny;   // added to the profile (sorted)
  std::vector<std::string> allow;  // taken out of it; never a denied name (sorted)
  SyscallAction action = SyscallAction::error;
  int require_landlock_abi = 0;  // 0: best effort
  // The TCP ports the agent's egress rules allow, for Landlock's port wall;
  // none when some allow covers every port or there are too many to list.
  std::optional<std::vector<uint16_t>> tcp_connect_ports;
  // network.landlock_ports: Landlock refuses TCP connects to other ports.
  // Off unless asked: it refuses before the BPF hooks see the connect (no
  // denial record, EACCES), and no grant can widen it for a running agent.
  bool landlock_tcp_ports = false;
  // keep: a named long-lived sandbox, kept (slot, learned addresses,
  // counters) when its last process exits; others are retired.
  bool keep = false;
  std::vector<std::string> sources;  // "file:line:column rules[N].sandbox", in merge order
};

// More TCP ports than this and the port wall is left to the BPF hooks alone.
constexpr size_t kMaxLandlockPorts = 1024;

// The TCP ports an agent's allows name, for Landlock's wall; nullopt when
// they name every port (or more than kMaxLandlockPorts). The same for
// every agent of one class key (compile.hpp class_key_for).
using TcpPorts = std::optional<std::vector<uint16_t>>;
TcpPorts sandbox_tcp_ports(const PolicySet& policy, const AgentName& agent);
// `tcp_ports`, when given, stands for sandbox_tcp_ports(policy, agent):
// the walk over every allowed endpoint is what a daemon caches per class.
SandboxProfile effective_sandbox_profile(const PolicySet& policy, const AgentName& agent,
                                         const TcpPorts* tcp_ports = nullptr);
// The profile's `keep` alone, without the rest (status asks it of every
// sandbox; the whole profile walks every allowed endpoint for its ports).
bool sandbox_kept(const PolicySet& policy, const AgentName& agent);

// {tenant} {team} {agent} replaced.
std::string expand_path(std::string_view path, const AgentName& agent);

nlohmann::json to_json(const SandboxProfile& profile);
Result<SandboxProfile> sandbox_profile_from_json(const nlohmann::json& json);

}  // namespace agentd::policy
