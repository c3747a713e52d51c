#include "agentd/policy/node_reader.hpp"

#include <fmt/format.h>

namespace agentd::policy {

bool NodeReader::check_map(const YamlNode& node, const std::string& what, const std::set<std::string>& known) {
  if (!node.is_map()) {
    error(node, fmt::format("{} must be a mapping", what));
    return false;
  }
  bool ok = true;
  std::set<std::string> seen;
  for (const auto& [key_node, value] : node.pairs()) {
    const std::string key(key_node.scalar());
    if (!seen.insert(key).second) {
      error(key_node, fmt::format("{}: key \"{}\" appears twice", what, key));
      ok = false;
    } else if (!known.count(key)) {
      std::string names;
      for (const auto& k : known) names += (names.empty() ? "" : ", ") + k;
      error(key_node, fmt::format("{}: unknown key \"{}\" (expected one of: {})", what, key, names));
      ok = false;
    }
  }
  return ok;
}

std::optional<std::string> NodeReader::scalar(const YamlNode& node, const std::string& what) {
  if (!node.is_scalar()) {
    error(node, fmt::format("{} must be a single value", what));
    return std::nullopt;
  }
  return std::string(node.scalar());
}

}  // namespace agentd::policy
