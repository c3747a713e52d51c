// agentctl policy validate|explain|apply.
#include <filesystem>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "agentd/api/client.hpp"
#include "agentd/common/json_dump.hpp"
#include "agentd/policy/explain.hpp"
#include "agentd/policy/names.hpp"
#include "agentd/policy/loader.hpp"
#include "commands.hpp"

namespace agentctl {
namespace fs = std::filesystem;
using nlohmann::json;

int policy_validate(const Globals&, const std::vector<std::string>& paths) {
  std::vector<fs::path> files;
  for (const auto& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      auto loaded = agentd::policy::load_policy_dir(p);
      for (const auto& w : loaded.warnings) std::cerr << w.str() << ": warning\n";
      for (const auto& e : loaded.errors) std::cerr << e.str() << "\n";
      if (!loaded.ok()) return kExitFailure;
      std::cout << p << ": valid (" << loaded.policy->tenants().size() << " tenants, "
                << loaded.policy->rule_count() << " rules, " << loaded.presets.size() << " presets)\n";
    } else {
      files.emplace_back(p);
    }
  }
  if (files.empty()) return 0;
  auto loaded = agentd::policy::load_policy_files(files);
  for (const auto& w : loaded.warnings) std::cerr << w.str() << ": warning\n";
  for (const auto& e : loaded.errors) std::cerr << e.str() << "\n";
  if (!loaded.ok()) return kExitFailure;
  for (const auto& t : loaded.policy->tenants())
    std::cout << t.file << ": valid (tenant " << t.tenant << ", " << t.rules.size() << " rules)\n";
  if (!loaded.presets.empty()) {
    std::string names;
    for (const auto& n : loaded.presets) names += (names.empty() ? "" : ", ") + n;
    std::cout << "presets: valid (" << names << ")\n";
  }
  return 0;
}

int policy_explain(const Globals& g, const std::string& agent, const std::string& dest,
                   const std::string& policy_dir, bool inbound, const std::string& sni) {
  json answer;
  if (!policy_dir.empty()) {
    auto loaded = agentd::policy::load_policy_dir(policy_dir);
    for (const auto& e : loaded.errors) std::cerr << e.str() << "\n";
    if (!loaded.ok()) return kExitFailure;
    // ADDR:PORT is judged by the CIDR rules, HOST:PORT by the host rules.
    auto name = agentd::policy::parse_agent_name(agent);
    if (!name) {
      std::cerr << "agentctl: --agent: " << name.error().describe() << "\n";
      return 2;
    }
    auto destination = agentd::policy::parse_destination(dest);
    if (!destination) {
      std::cerr << "agentctl: --dest: " << destination.error().describe() << "\n";
      return 2;
    }
    destination->inbound = inbound;
    if (!sni.empty()) {
      auto name = agentd::policy::parse_host_name(sni);
      if (!name) {
        std::cerr << "agentctl: --sni: " << name.error().describe() << "\n";
        return 2;
      }
      destination->sni = *name;
    }
    auto decision = agentd::policy::explain(*loaded.policy, *name, *destination);
    if (!decision) {
      std::cerr << "agentctl: " << decision.error().describe() << "\n";
      return kExitFailure;
    }
    answer = {{"agent", name->str()},
              {"dest", destination->str()},
              {"allowed", decision->allowed},
              {"explanation", decision->explanation}};
  } else {
    json request = {{"method", "policy.explain"}, {"agent", agent}, {"dest", dest}, {"inbound", inbound}};
    if (!sni.empty()) request["sni"] = sni;
    auto result = agentd::api::call(g.socket, request);
    if (!result) {
      std::cerr << "agentctl: " << result.error().describe() << "\n";
      return kExitFailure;
    }
    answer = *result;
  }
  if (g.output == "json") {
    std::cout << agentd::dump_json(answer, 2) << "\n";
  } else {
    std::cout << answer["agent"].get<std::string>() << " -> " << answer["dest"].get<std::string>() << ": "
              << (answer["allowed"].get<bool>() ? "allowed" : "denied") << "\n  "
              << answer["explanation"].get<std::string>() << "\n";
  }
  return 0;
}

int policy_apply(const Globals& g) {
  auto result = agentd::api::call(g.socket, {{"method", "policy.apply"}});
  if (!result) {
    std::cerr << "agentctl: " << result.error().describe() << "\n";
    return kExitFailure;
  }
  if (g.output == "json") {
    std::cout << agentd::dump_json(*result, 2) << "\n";
  } else if (!result->value("changed", false)) {
    std::cout << "policy unchanged: generation " << result->value("generation", 0) << "\n";
  } else {
    std::cout << "policy applied: generation " << result->value("generation", 0) << " in "
              << fmt::format("{:.1f}", result->value("ms", 0.0)) << " ms (" << result->value("classes_written", 0)
              << " classes written, " << result->value("sandboxes_switched", 0) << " sandboxes switched)\n";
  }
  return 0;
}

int policy_diff(const Globals& g) {
  auto result = agentd::api::call(g.socket, {{"method", "policy.diff"}});
  if (!result) {
    std::cerr << "agentctl: " << result.error().describe() << "\n";
    return kExitFailure;
  }
  if (g.output == "json") {
    std::cout << agentd::dump_json(*result, 2) << "\n";
    return 0;
  }
  const auto& changes = (*result)["changes"];
  if (changes.empty()) {
    std::cout << "no changes: the policy dir is what agentd enforces\n";
    return 0;
  }
  for (const auto& c : changes)
    std::cout << c["change"].get<std::string>() << " " << c["tenant"].get<std::string>() << "  "
              << c["rule"].get<std::string>() << "  (" << c["at"].get<std::string>() << ")\n";
  return 0;
}

}  // namespace agentctl
