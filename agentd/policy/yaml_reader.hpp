// What every policy-dir file reader shares: positions, error collection
// (every problem, not the first), key checks, and the destination syntax
// (cidr or host, ports, protocol) that tenant files and presets both use.
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agentd/policy/model.hpp"
#include "agentd/policy/yaml_tree.hpp"

namespace agentd::policy {

inline constexpr const char* kApiVersion = "agentd/v1";

class YamlReader {
 public:
  YamlReader(std::string file, std::vector<Diagnostic>& errors, std::vector<Diagnostic>& warnings)
      : file_(std::move(file)), errors_(errors), warnings_(warnings) {}

 protected:
  SourcePos pos(const YamlNode& node) const { return {file_, node.line(), node.column()}; }
  void error(const YamlNode& node, std::string message) { errors_.push_back({pos(node), std::move(message)}); }
  void error_at(SourcePos at, std::string message) { errors_.push_back({std::move(at), std::move(message)}); }
  void warn(const YamlNode& node, std::string message) { warn_at(pos(node), std::move(message)); }
  void warn_at(SourcePos at, std::string message) { warnings_.push_back({std::move(at), std::move(message)}); }
  size_t error_count() const { return errors_.size(); }

  // The document's root mapping, after the checks every file needs (valid
  // YAML, not empty, a mapping of known keys, the right apiVersion); an
  // empty node when there is nothing more to read. `tree` keeps the nodes
  // alive. `kind` names the file in messages ("policy", "preset"), and
  // `name_key` the key it needs beside apiVersion ("tenant", "preset").
  YamlNode read_root(const std::string& text, std::unique_ptr<YamlTree>& tree, const std::string& kind,
                     const std::set<std::string>& known, const std::string& name_key);
  // A mapping whose keys are all known and none repeated; false (with
  // errors) otherwise. libyaml keeps repeated keys, so check them here.
  bool check_map(const YamlNode& node, const std::string& what, const std::set<std::string>& known);
  std::optional<std::string> scalar(const YamlNode& node, const std::string& what);
  // A name such as a tenant's or a preset's: [a-z0-9][a-z0-9_.-]*.
  std::optional<std::string> read_name(const YamlNode& node, const std::string& what);

  // One destination: exactly one of `cidr:` or `host:` (or, where
  // `presets` is true, `preset:`, returned with Endpoint::preset holding
  // the name and its position and neither cidr nor host set), with
  // optional `ports:` and `protocol:`.
  std::optional<Endpoint> read_destination(const YamlNode& node, std::string path, bool presets);

  std::string file_;

 private:
  std::optional<std::vector<PortRange>> read_ports(const YamlNode& node);
  bool read_host(const YamlNode& node, Endpoint& endpoint);
  // `verify: name|strict|lenient|off`, on a host or preset destination.
  bool read_verify(const YamlNode& node, Endpoint& endpoint);

  std::vector<Diagnostic>& errors_;
  std::vector<Diagnostic>& warnings_;
};

}  // namespace agentd::policy
