// Reading policy files: YAML to a validated PolicySet, or every error with
// its file:line:column. Never a partial policy.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "agentd/policy/model.hpp"

namespace agentd::policy {

struct LoadResult {
  std::optional<PolicySet> policy;  // set exactly when there are no errors
  std::vector<Diagnostic> errors;
  std::vector<Diagnostic> warnings;
  std::vector<std::string> presets;  // the names of the presets read, when ok
  bool ok() const { return policy.has_value(); }
};

// A policy or preset file larger than this is refused (with its name), not
// read: a policy of 100,000 rules is about 10 MiB.
inline constexpr size_t kMaxPolicyFileBytes = size_t{64} << 20;

// Presets live in this subdirectory of a policy dir, one *.yaml each.
inline constexpr const char* kPresetsDir = "presets";

// Every *.yaml and *.yml directly in `dir`, in name order, one tenant
// each, with the presets in `dir`/presets/; other subdirectories are
// ignored. The source digest covers the presets too.
LoadResult load_policy_dir(const std::filesystem::path& dir);
// Tenant files, with the presets dir beside each of them; a file inside a
// dir named "presets" is read as a preset (so presets validate alone).
LoadResult load_policy_files(const std::vector<std::filesystem::path>& files);
// In-memory tenant files and preset files, for tests and tools.
LoadResult parse_policy_texts(const PolicyTexts& files, const PolicyTexts& presets = {});

}  // namespace agentd::policy
