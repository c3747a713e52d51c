// The checks every part of the policy reader makes on a YAML node, with
// file:line:column errors: known keys only, none repeated, single values.
// Shared by the loader and the readers of its sections.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agentd/policy/model.hpp"
#include "agentd/policy/yaml_tree.hpp"

namespace agentd::policy {

class NodeReader {
 public:
  NodeReader(std::string file, std::vector<Diagnostic>& errors) : file_(std::move(file)), errors_(errors) {}

 protected:
  SourcePos pos(const YamlNode& node) const { return {file_, node.line(), node.column()}; }
  void error(const YamlNode& node, std::string message) { errors_.push_back({pos(node), std::move(message)}); }
  void error_at(SourcePos at, std::string message) { errors_.push_back({std::move(at), std::move(message)}); }

  // A mapping whose keys are all known and none repeated; false (with
  // errors) otherwise. libyaml keeps repeated keys, so check them here.
  bool check_map(const YamlNode& node, const std::string& what, const std::set<std::string>& known);
  std::optional<std::string> scalar(const YamlNode& node, const std::string& what);

  std::string file_;
  std::vector<Diagnostic>& errors_;
};

}  // namespace agentd::policy
