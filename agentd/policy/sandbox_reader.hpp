// Reads a rule's `sandbox:` section, reporting every problem with
// file:line:column: unknown keys, relative paths, unknown placeholders,
// syscall names libseccomp does not know, bad profiles and actions.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "agentd/policy/yaml_reader.hpp"
#include "agentd/policy/sandbox_section.hpp"

namespace agentd::policy {

class SandboxReader : YamlReader {
 public:
  // Reports into the same file's errors as the reader of the rule.
  explicit SandboxReader(const YamlReader& rule_reader) : YamlReader(rule_reader) {}
  // `path` names the section in messages: "rules[0].sandbox".
  std::optional<SandboxSection> read(const YamlNode& node, const std::string& path);

 private:
  std::optional<std::string> read_user(const YamlNode& node, const std::string& path);
  void read_filesystem(const YamlNode& node, const std::string& path, SandboxSection& section);
  std::vector<PathRule> read_paths(const YamlNode& node, const std::string& path);
  void read_syscalls(const YamlNode& node, const std::string& path, SandboxSection& section);
  std::vector<SyscallRule> read_syscall_names(const YamlNode& node, const std::string& path);
  void read_network(const YamlNode& node, const std::string& path, SandboxSection& section);
  void read_require(const YamlNode& node, const std::string& path, SandboxSection& section);
};

}  // namespace agentd::policy
