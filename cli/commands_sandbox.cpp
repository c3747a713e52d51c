// agentctl sandbox profile: the effective sandbox profile of an agent and
// what this kernel enforces of it.
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "agentd/api/client.hpp"
#include "agentd/api/requests.hpp"
#include "agentd/common/json_dump.hpp"
#include "agentd/policy/loader.hpp"
#include "agentd/policy/syscall_sets.hpp"
#include "agentd/confine/landlock.hpp"
#include "agentd/confine/seccomp_profile.hpp"
#include "commands.hpp"
#include "record_text.hpp"

namespace agentctl {
using nlohmann::json;

namespace {

agentd::Result<json> profile_of(const Globals& g, const std::string& agent, const std::string& policy_dir) {
  if (policy_dir.empty()) {
    auto answer = agentd::api::call(g.socket, agentd::api::SandboxProfileRequest{agent}.to_json());
    if (!answer) return answer.error();
    return (*answer)["profile"];
  }
  auto name = agentd::policy::parse_agent_name(agent);
  if (!name) return name.error();
  auto loaded = agentd::policy::load_policy_dir(policy_dir);
  if (!loaded.ok()) {
    std::string errors;
    for (const auto& e : loaded.errors) errors += "\n" + e.str();
    return agentd::make_error("the policy does not validate:{}", errors);
  }
  return agentd::policy::to_json(agentd::policy::effective_sandbox_profile(*loaded.policy, *name));
}

std::string list(const json& names) {
  if (!names.is_array() || names.empty()) return "-";
  std::string text;
  for (const auto& n : names) text += (text.empty() ? "" : ", ") + json_text(n);
  return text;
}

}  // namespace

int sandbox_profile(const Globals& g, const std::string& agent, const std::string& policy_dir) {
  auto profile_json = profile_of(g, agent, policy_dir);
  if (!profile_json) {
    std::cerr << "agentctl: " << profile_json.error().describe() << "\n";
    return kExitFailure;
  }
  auto profile = agentd::policy::sandbox_profile_from_json(*profile_json);
  if (!profile) {
    std::cerr << "agentctl: " << profile.error().describe() << "\n";
    return kExitFailure;
  }
  const int abi = agentd::confine::landlock_abi();
  json kernel = {{"landlock", agentd::confine::landlock_coverage(*profile, abi)},
                 {"seccomp", {{"architectures", agentd::confine::seccomp_architectures()}}},
                 {"no_new_privs", true},
                 {"capabilities", "all dropped (bounding, ambient, effective, permitted, inheritable)"},
                 {"hidden", "cgroup mounts and agentd's socket (private mount namespace)"}};
  auto program = agentd::confine::build_seccomp_program(*profile);
  if (program)
    kernel["seccomp"]["instructions"] = program->instructions();
  else
    kernel["seccomp"]["error"] = program.error().describe();
  if (g.output == "json") {
    std::cout << agentd::dump_json(json{{"agent", agent}, {"profile", *profile_json}, {"kernel", kernel}}, 2) << "\n";
    return program ? 0 : kExitFailure;
  }
  const json& p = *profile_json;
  const json& sc = p["syscalls"];
  std::cout << "sandbox profile of " << agent << "\n"
            << "  user:        " << (p["user"].is_null() ? "as started (--user, else root)" : json_text(p["user"]))
            << "\n";
  if (p["filesystem"].is_null()) {
    std::cout << "  filesystem:  not confined (no rule has sandbox.filesystem)\n";
  } else {
    std::cout << "  read_only:   " << list(p["filesystem"]["read_only"]) << "\n"
              << "  read_write:  " << list(p["filesystem"]["read_write"]) << "\n"
              << "  execute:     " << list(p["filesystem"]["execute"]) << "\n";
  }
  std::cout << "  syscalls:    profile " << json_text(sc["profile"]) << ", action " << json_text(sc["action"]) << "\n"
            << "    deny:      " << list(sc["deny"]) << "\n"
            << "    allow:     " << list(sc["allow"]) << "\n";
  if (sc["profile"] == "default")
    std::cout << "    refused by default: " << list(json(agentd::policy::default_denied_syscalls()))
              << "; clone with namespace flags; clone3 (ENOSYS)\n";
  std::cout << "  tcp ports:   "
            << (p["tcp_connect_ports"].is_null() ? "any (some allow names no ports)" : list(p["tcp_connect_ports"]))
            << (p["network"]["landlock_ports"].get<bool>() ? " (Landlock port wall on)" : " (BPF hooks only)") << "\n"
            << "  require:     Landlock ABI " << p["require"]["landlock_abi"].get<int>() << "\n"
            << "  from:        " << list(p["sources"]) << "\n\n"
            << "this kernel (Landlock ABI " << abi << "):\n";
  for (const auto& [name, value] : kernel["landlock"].items())
    if (value.is_string()) std::cout << fmt::format("  landlock {:<28} {}\n", name, json_text(value));
  if (!kernel["landlock"]["requirement_met"].get<bool>())
    std::cout << "  REFUSED: the policy requires Landlock ABI " << p["require"]["landlock_abi"].get<int>()
              << "; agentctl run will not start\n";
  std::cout << "  seccomp     " << list(kernel["seccomp"]["architectures"]) << ": "
            << (program ? fmt::format("{} instructions", program->instructions()) : program.error().describe()) << "\n"
            << "  no_new_privs, every capability dropped, cgroup tree and agentd's socket hidden\n";
  return program ? 0 : kExitFailure;
}

}  // namespace agentctl
