// Merging the `sandbox:` sections that apply to one agent, and the profile's
// JSON form (agentd -> agentctl run, and `agentctl sandbox profile`).
#include <algorithm>
#include <bitset>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "agentd/policy/sandbox_section.hpp"

namespace agentd::policy {
namespace {

bool is_literal(std::string_view glob) { return glob.find_first_of("*?[") == std::string_view::npos; }

// How specific a selector is: an exact agent name beats an agent glob, then
// an exact team beats a team glob, then more literal characters win.
std::tuple<int, int, size_t> specificity(const Selector& s) {
  auto literal_chars = [](std::string_view glob) {
    size_t n = 0;
    int depth = 0;
    for (char c : glob) {
      if (c == '[')
        ++depth;
      else if (c == ']')
        --depth;
      else if (depth == 0 && c != '*' && c != '?')
        ++n;
    }
    return n;
  };
  return {is_literal(s.agent_glob), is_literal(s.team_glob), literal_chars(s.team_glob) + literal_chars(s.agent_glob)};
}

// A scalar set by the most specific rule so far (a later rule wins a tie).
template <typename T>
struct Scalar {
  std::optional<T> value;
  std::tuple<int, int, size_t> rank{-1, -1, 0};
  void offer(const std::optional<T>& candidate, const std::tuple<int, int, size_t>& candidate_rank) {
    if (candidate && candidate_rank >= rank) {
      value = candidate;
      rank = candidate_rank;
    }
  }
};

std::vector<std::string> sorted(const std::set<std::string>& names) { return {names.begin(), names.end()}; }

std::optional<std::vector<uint16_t>> tcp_ports_allowed(const PolicySet& policy, const TenantPolicy& tenant,
                                                       const AgentName& agent) {
  std::vector<uint32_t> ids(tenant.inference);
  for (const auto& rule : tenant.rules)
    if (rule.agents.matches(agent)) ids.insert(ids.end(), rule.allow.begin(), rule.allow.end());
  // A bit per port, not a set: a large policy names the same few ports
  // over and over, and this runs for every `agentctl run`.
  std::bitset<65536> ports;
  size_t count = 0;
  for (uint32_t id : ids) {
    const Endpoint& e = policy.endpoint(id);
    if (!(e.proto_mask & AGENTD_PROTO_TCP)) continue;
    if (e.ports.empty()) return std::nullopt;  // every port: nothing for Landlock to narrow
    for (const auto& range : e.ports) {
      for (uint32_t p = range.lo; p <= range.hi; ++p) {
        if (ports.test(p)) continue;
        ports.set(p);
        if (++count > kMaxLandlockPorts) return std::nullopt;
      }
    }
  }
  std::vector<uint16_t> sorted_ports;
  sorted_ports.reserve(count);
  for (uint32_t p = 0; p < ports.size(); ++p)
    if (ports.test(p)) sorted_ports.push_back(static_cast<uint16_t>(p));
  return sorted_ports;
}

}  // namespace

std::string_view name_of(SyscallProfileKind kind) {
  switch (kind) {
    case SyscallProfileKind::none:
      return "none";
    case SyscallProfileKind::standard:
      return "default";
    case SyscallProfileKind::strict:
      return "strict";
  }
  return "default";
}

std::string_view name_of(SyscallAction action) {
  switch (action) {
    case SyscallAction::error:
      return "errno";
    case SyscallAction::kill:
      return "kill";
    case SyscallAction::log:
      return "log";
  }
  return "errno";
}

std::string expand_path(std::string_view path, const AgentName& agent) {
  std::string out;
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '{') {
      const size_t close = path.find('}', i);
      const std::string_view name = path.substr(i + 1, close - i - 1);
      if (name == "tenant")
        out += agent.tenant;
      else if (name == "team")
        out += agent.team;
      else if (name == "agent")
        out += agent.agent;
      i = close;
      continue;
    }
    out += path[i];
  }
  return out;
}

TcpPorts sandbox_tcp_ports(const PolicySet& policy, const AgentName& agent) {
  const TenantPolicy* tenant = policy.find(agent.tenant);
  return tenant ? tcp_ports_allowed(policy, *tenant, agent) : TcpPorts{};
}

SandboxProfile effective_sandbox_profile(const PolicySet& policy, const AgentName& agent, const TcpPorts* tcp_ports) {
  SandboxProfile profile;
  const TenantPolicy* tenant = policy.find(agent.tenant);
  if (!tenant) return profile;
  profile.tcp_connect_ports = tcp_ports ? *tcp_ports : tcp_ports_allowed(policy, *tenant, agent);
  Scalar<std::string> user;
  Scalar<SyscallProfileKind> kind;
  Scalar<SyscallAction> action;
  Scalar<bool> landlock_ports, keep;
  std::set<std::string> read_only, read_write, execute, deny, allow;
  for (const Rule& rule : tenant->rules) {
    if (!rule.sandbox || !rule.agents.matches(agent)) continue;
    const SandboxSection& s = *rule.sandbox;
    const auto rank = specificity(rule.agents);
    user.offer(s.user, rank);
    kind.offer(s.profile, rank);
    action.offer(s.action, rank);
    landlock_ports.offer(s.landlock_ports, rank);
    keep.offer(s.keep, rank);
    profile.filesystem = profile.filesystem || s.has_filesystem;
    for (const auto& p : s.read_only) read_only.insert(expand_path(p.path, agent));
    for (const auto& p : s.read_write) read_write.insert(expand_path(p.path, agent));
    for (const auto& p : s.execute) execute.insert(expand_path(p.path, agent));
    for (const auto& n : s.deny) deny.insert(n.name);
    for (const auto& n : s.allow) allow.insert(n.name);
    profile.require_landlock_abi = std::max(profile.require_landlock_abi, s.landlock_abi.value_or(0));
    profile.sources.push_back(fmt::format("{} {}", s.pos.str(), s.path));
  }
  profile.user = user.value;
  profile.profile = kind.value.value_or(SyscallProfileKind::standard);
  profile.action = action.value.value_or(SyscallAction::error);
  profile.landlock_tcp_ports = landlock_ports.value.value_or(false);
  profile.keep = keep.value.value_or(false);
  // A path that may be written need not be listed as read-only too.
  for (const auto& p : read_write) read_only.erase(p);
  profile.read_only = sorted(read_only);
  profile.read_write = sorted(read_write);
  profile.execute = sorted(execute);
  // A deny anywhere beats an allow anywhere.
  for (const auto& n : deny) allow.erase(n);
  profile.deny = sorted(deny);
  profile.allow = sorted(allow);
  return profile;
}

bool sandbox_kept(const PolicySet& policy, const AgentName& agent) {
  const TenantPolicy* tenant = policy.find(agent.tenant);
  if (!tenant) return false;
  Scalar<bool> keep;
  for (const Rule& rule : tenant->rules)
    if (rule.sandbox && rule.agents.matches(agent)) keep.offer(rule.sandbox->keep, specificity(rule.agents));
  return keep.value.value_or(false);
}

nlohmann::json to_json(const SandboxProfile& p) {
  using nlohmann::json;
  return {
      {"user", p.user ? json(*p.user) : json(nullptr)},
      {"filesystem", p.filesystem
                         ? json{{"read_only", p.read_only}, {"read_write", p.read_write}, {"execute", p.execute}}
                         : json(nullptr)},
      {"syscalls",
       {{"profile", name_of(p.profile)}, {"deny", p.deny}, {"allow", p.allow}, {"action", name_of(p.action)}}},
      {"require", {{"landlock_abi", p.require_landlock_abi}}},
      {"network", {{"landlock_ports", p.landlock_tcp_ports}}},
      {"keep", p.keep},
      {"tcp_connect_ports", p.tcp_connect_ports ? json(*p.tcp_connect_ports) : json(nullptr)},
      {"sources", p.sources},
  };
}

Result<SandboxProfile> sandbox_profile_from_json(const nlohmann::json& j) {
  // agentd and agentctl come from one build, but a mismatched pair must
  // fail closed, never run with a half-read profile.
  try {
    SandboxProfile p;
    if (!j.at("user").is_null()) p.user = j.at("user").get<std::string>();
    if (const auto& fs = j.at("filesystem"); !fs.is_null()) {
      p.filesystem = true;
      p.read_only = fs.at("read_only").get<std::vector<std::string>>();
      p.read_write = fs.at("read_write").get<std::vector<std::string>>();
      p.execute = fs.at("execute").get<std::vector<std::string>>();
    }
    const auto& sc = j.at("syscalls");
    const std::string kind = sc.at("profile").get<std::string>();
    const std::string action = sc.at("action").get<std::string>();
    bool known_kind = false, known_action = false;
    for (auto k : {SyscallProfileKind::none, SyscallProfileKind::standard, SyscallProfileKind::strict})
      if (name_of(k) == kind) p.profile = k, known_kind = true;
    for (auto a : {SyscallAction::error, SyscallAction::kill, SyscallAction::log})
      if (name_of(a) == action) p.action = a, known_action = true;
    if (!known_kind || !known_action) return make_error("sandbox profile: unknown syscall profile or action");
    p.deny = sc.at("deny").get<std::vector<std::string>>();
    p.allow = sc.at("allow").get<std::vector<std::string>>();
    p.require_landlock_abi = j.at("require").at("landlock_abi").get<int>();
    p.landlock_tcp_ports = j.at("network").at("landlock_ports").get<bool>();
    if (!j.at("tcp_connect_ports").is_null())
      p.tcp_connect_ports = j.at("tcp_connect_ports").get<std::vector<uint16_t>>();
    p.keep = j.value("keep", false);
    p.sources = j.value("sources", std::vector<std::string>{});
    return p;
  } catch (const nlohmann::json::exception& e) {
    return make_error("sandbox profile from agentd is malformed: {}", e.what());
  }
}

}  // namespace agentd::policy
