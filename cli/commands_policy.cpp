// agentctl policy validate|explain|apply|diff.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <set>
#include <tuple>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "agentd/api/client.hpp"
#include "agentd/api/requests.hpp"
#include "agentd/common/json_dump.hpp"
#include "agentd/common/safe_text.hpp"
#include "agentd/approvals/grant_review.hpp"
#include "agentd/policy/diff.hpp"
#include "agentd/policy/explain.hpp"
#include "agentd/policy/lint.hpp"
#include "agentd/policy/names.hpp"
#include "agentd/policy/loader.hpp"
#include "commands.hpp"
#include "record_text.hpp"

namespace agentctl {
namespace fs = std::filesystem;
using agentd::make_error;
using agentd::Result;
using agentd::terminal_text;
using nlohmann::json;

namespace {

// Loader warnings and lint warnings (rules that do nothing) together, in
// file:line:column order.
std::vector<agentd::policy::Diagnostic> warnings_of(const agentd::policy::LoadResult& loaded) {
  auto warnings = loaded.warnings;
  if (loaded.ok())
    for (auto& w : agentd::policy::lint_policy(*loaded.policy)) warnings.push_back(std::move(w));
  std::stable_sort(warnings.begin(), warnings.end(), [](const auto& a, const auto& b) {
    return std::tie(a.pos.file, a.pos.line, a.pos.column) < std::tie(b.pos.file, b.pos.line, b.pos.column);
  });
  return warnings;
}

json diagnostic_json(const agentd::policy::Diagnostic& d) {
  return {{"file", d.pos.file}, {"line", d.pos.line}, {"col", d.pos.column}, {"message", d.message}};
}

// File names and quoted values are the policy's bytes: shown, never obeyed.
void print_error(const agentd::policy::Diagnostic& e) { std::cerr << terminal_text(e.str()) << "\n"; }

void print_warning(const agentd::policy::Diagnostic& w) {
  std::cerr << terminal_text(fmt::format("{}: warning: {}", w.pos.str(), w.message)) << "\n";
}

// One candidate policy: a single DIR as agentd reads its policy dir, or
// FILEs (tenants, with the presets dir beside them).
Result<agentd::policy::LoadResult> load_candidate(const std::vector<std::string>& paths) {
  std::error_code ec;
  if (paths.size() == 1 && fs::is_directory(paths[0], ec)) return agentd::policy::load_policy_dir(paths[0]);
  std::vector<fs::path> files;
  for (const auto& p : paths) {
    if (fs::is_directory(p, ec))
      return make_error("{} is a directory: give one policy dir, or policy files, as the candidate", p);
    files.emplace_back(p);
  }
  return agentd::policy::load_policy_files(files);
}

}  // namespace

int policy_validate(const Globals& g, const std::vector<std::string>& paths, bool strict) {
  // Each dir alone, as agentd would read it; the files together.
  std::vector<agentd::policy::LoadResult> results;
  std::vector<std::string> summaries;
  std::vector<fs::path> files;
  for (const auto& p : paths) {
    std::error_code ec;
    if (!fs::is_directory(p, ec)) {
      files.emplace_back(p);
      continue;
    }
    auto& loaded = results.emplace_back(agentd::policy::load_policy_dir(p));
    if (loaded.ok())
      summaries.push_back(fmt::format("{}: valid ({} tenants, {} rules, {} presets)", p,
                                      loaded.policy->tenants().size(), loaded.policy->rule_count(),
                                      loaded.presets.size()));
  }
  if (!files.empty()) {
    auto& loaded = results.emplace_back(agentd::policy::load_policy_files(files));
    if (loaded.ok()) {
      for (const auto& t : loaded.policy->tenants())
        summaries.push_back(fmt::format("{}: valid (tenant {}, {} rules)", t.file, t.tenant, t.rules.size()));
      if (!loaded.presets.empty())
        summaries.push_back(fmt::format("presets: valid ({})", fmt::join(loaded.presets, ", ")));
    }
  }
  std::vector<agentd::policy::Diagnostic> errors, warnings;
  for (const auto& loaded : results) {
    errors.insert(errors.end(), loaded.errors.begin(), loaded.errors.end());
    for (auto& w : warnings_of(loaded)) warnings.push_back(std::move(w));
  }
  const bool ok = errors.empty() && (!strict || warnings.empty());
  if (g.output == "json") {
    json out = {{"ok", ok}, {"errors", json::array()}, {"warnings", json::array()}};
    for (const auto& e : errors) out["errors"].push_back(diagnostic_json(e));
    for (const auto& w : warnings) out["warnings"].push_back(diagnostic_json(w));
    std::cout << agentd::dump_json(out, 2) << "\n";
    return ok ? 0 : kExitFailure;
  }
  for (const auto& e : errors) print_error(e);
  for (const auto& w : warnings) print_warning(w);
  if (!errors.empty()) return kExitFailure;
  for (const auto& line : summaries) std::cout << terminal_text(line) << "\n";
  if (!ok) {
    std::cerr << fmt::format("agentctl: {} warning{}, and --strict makes warnings fail\n", warnings.size(),
                             warnings.size() == 1 ? "" : "s");
    return kExitFailure;
  }
  return 0;
}

int policy_explain(const Globals& g, const std::string& agent, const std::string& dest, const std::string& policy_dir,
                   bool inbound, const std::string& sni) {
  json answer;
  if (!policy_dir.empty()) {
    auto loaded = agentd::policy::load_policy_dir(policy_dir);
    for (const auto& e : loaded.errors) print_error(e);
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
    auto result = agentd::api::call(g.socket, agentd::api::PolicyExplainRequest{agent, dest, inbound, sni}.to_json());
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

namespace {

// `policy diff`'s answer, as agentd's policy.diff gives it: the changes.
int print_diff(const Globals& g, const json& result, const std::string& nothing) {
  if (g.output == "json") {
    std::cout << agentd::dump_json(result, 2) << "\n";
    return 0;
  }
  const auto& changes = result["changes"];
  const json grants = result.value("grants", json::array());
  if (changes.empty() && grants.empty()) {
    std::cout << nothing << "\n";
    return 0;
  }
  for (const auto& c : changes)
    std::cout << c["change"].get<std::string>() << " " << c["tenant"].get<std::string>() << "  "
              << c["rule"].get<std::string>() << "  (" << terminal_text(c["at"].get<std::string>()) << ")\n";
  // What the change does to standing grants: a deny revokes them on apply,
  // a rule that decides a granted name on fewer ports narrows them (both
  // close something: "!"); a rule that allows all a grant opens leaves it
  // redundant ("~").
  for (const auto& gr : grants) {
    const std::string fate = json_text(gr["fate"]);
    const bool redundant = fate == "redundant";
    std::cout << (redundant ? "~ grant " : "! grant ") << json_text(gr["id"]) << " (" << flow_text(gr["subject"], gr)
              << "): "
              << (fate == "revoked"    ? "revoked on apply, "
                  : fate == "shadowed" ? "narrowed on apply, "
                                       : "redundant, ")
              << json_text(gr["why"])
              << (redundant ? "; revoke it once applied (agentctl grants revoke " + json_text(gr["id"]) + ")" : "")
              << "\n";
  }
  return 0;
}

// The standing grants agentd holds and the sandboxes it runs, as the
// caller may see them: what a candidate is judged against.
Result<std::pair<std::vector<agentd::approvals::Grant>, std::vector<agentd::policy::AgentName>>> standing_grants(
    const Globals& g) {
  auto listed = agentd::api::call(g.socket, agentd::api::GrantsListRequest{}.to_json());
  if (!listed) return listed.error();
  auto sandboxes = agentd::api::call(g.socket, agentd::api::SandboxListRequest{}.to_json());
  if (!sandboxes) return sandboxes.error();
  std::vector<agentd::approvals::Grant> grants;
  for (const auto& item : *listed) {
    auto grant = agentd::approvals::grant_from_json(item);
    if (!grant) return grant.error();
    grants.push_back(std::move(*grant));
  }
  std::vector<agentd::policy::AgentName> agents;
  for (const auto& s : *sandboxes)
    if (auto agent = agentd::policy::parse_agent_name(s.value("agent", ""))) agents.push_back(*agent);
  return std::pair{std::move(grants), std::move(agents)};
}

// What the running daemon applied, parsed here from the sources it read.
Result<std::pair<agentd::policy::LoadResult, json>> applied_policy(const Globals& g) {
  auto source = agentd::api::call(g.socket, {{"method", "policy.source"}});
  if (!source) return source.error();
  agentd::policy::PolicyTexts files, presets;
  try {
    for (const auto& f : (*source)["files"]) files.emplace_back(f.at("name"), f.at("text"));
    for (const auto& f : (*source)["presets"]) presets.emplace_back(f.at("name"), f.at("text"));
  } catch (const json::exception&) {
    return make_error("agentd's policy.source answer is not what this agentctl reads (a version skew?)");
  }
  auto running = agentd::policy::parse_policy_texts(files, presets);
  if (!running.ok()) {
    std::string why;
    for (const auto& e : running.errors) why += "\n" + e.str();
    return make_error("the policy agentd applied does not parse with this agentctl (a version skew?):{}", why);
  }
  return std::pair{std::move(running), std::move(*source)};
}

// `policy diff PATH...`: the candidate against what agentd applied,
// computed here; nothing is sent to agentd but the question.
int policy_diff_candidate(const Globals& g, const std::vector<std::string>& paths) {
  auto candidate = load_candidate(paths);
  if (!candidate) {
    std::cerr << "agentctl: " << terminal_text(candidate.error().describe()) << "\n";
    return kExitFailure;
  }
  for (const auto& e : candidate->errors) print_error(e);
  if (!candidate->ok()) {
    std::cerr << "agentctl: the candidate does not validate; nothing was compared\n";
    return kExitFailure;
  }
  for (const auto& w : warnings_of(*candidate)) print_warning(w);
  auto applied = applied_policy(g);
  if (!applied) {
    std::cerr << "agentctl: " << applied.error().describe() << "\n";
    return kExitFailure;
  }
  auto& [running, source] = *applied;
  // A viewer of some tenants compares those only.
  const bool scoped = source.value("scoped", false);
  std::set<std::string> visible;
  for (const auto& t : source["tenants"]) visible.insert(t.get<std::string>());
  json changes = json::array();
  for (const auto& c : agentd::policy::diff_policies(*running.policy, *candidate->policy)) {
    if (scoped && !visible.contains(c.tenant)) continue;
    changes.push_back({{"change", c.added ? "+" : "-"}, {"tenant", c.tenant}, {"rule", c.line}, {"at", c.location}});
  }
  if (scoped)
    std::cerr << fmt::format("agentctl: compared tenants {} only: your role covers those\n",
                             visible.empty() ? "(none)" : fmt::format("{}", fmt::join(visible, ", ")));
  auto standing = standing_grants(g);
  if (!standing) {
    std::cerr << "agentctl: " << terminal_text(standing.error().describe()) << "\n";
    return kExitFailure;
  }
  const json result = {
      {"generation", source.value("generation", 0)},
      {"running_digest", running.policy->source_digest()},
      {"candidate_digest", candidate->policy->source_digest()},
      {"changes", changes},
      {"grants", agentd::approvals::review_grants_json(*candidate->policy, standing->first, standing->second)}};
  return print_diff(g, result, "no changes: the candidate is what agentd enforces");
}

}  // namespace

int policy_diff(const Globals& g, const std::vector<std::string>& paths) {
  if (!paths.empty()) return policy_diff_candidate(g, paths);
  auto result = agentd::api::call(g.socket, {{"method", "policy.diff"}});
  if (!result) {
    std::cerr << "agentctl: " << result.error().describe() << "\n";
    return kExitFailure;
  }
  return print_diff(g, *result, "no changes: the policy dir is what agentd enforces");
}

}  // namespace agentctl
