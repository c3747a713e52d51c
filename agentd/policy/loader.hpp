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
  bool ok() const { return policy.has_value(); }
};

// Every *.yaml and *.yml directly in `dir`, in name order; subdirectories
// are ignored (presets live there).
LoadResult load_policy_dir(const std::filesystem::path& dir);
LoadResult load_policy_files(const std::vector<std::filesystem::path>& files);
// In-memory (file name, text) pairs, for tests and tools.
LoadResult parse_policy_texts(const std::vector<std::pair<std::string, std::string>>& files);

}  // namespace agentd::policy
