#include "agentd/policy/sandbox_reader.hpp"

#include <charconv>
#include <filesystem>

#include <fmt/format.h>

#include "agentd/policy/syscall_sets.hpp"

namespace agentd::policy {
namespace {

// User names as useradd takes them, or a numeric uid.
bool is_valid_user(std::string_view user) {
  if (user.empty() || user.size() > 32 || user[0] == '-') return false;
  for (size_t i = 0; i < user.size(); ++i) {
    const char c = user[i];
    const bool plain =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!plain && !(c == '$' && i + 1 == user.size())) return false;
  }
  return true;
}

// Why a path cannot be a Landlock rule, or "" when it can.
std::string path_problem(std::string_view path) {
  if (path.empty()) return "is empty";
  if (path[0] != '/') return "is relative: Landlock paths must be absolute (start with /)";
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    const std::string_view part = path.substr(start, slash == std::string_view::npos ? slash : slash - start);
    if (part == "..") return "has a \"..\" component: write the path it means";
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  for (size_t open = path.find('{'); open != std::string_view::npos; open = path.find('{', open + 1)) {
    const size_t close = path.find('}', open);
    if (close == std::string_view::npos) return "opens a { it never closes";
    const std::string_view name = path.substr(open + 1, close - open - 1);
    if (name != "tenant" && name != "team" && name != "agent")
      return fmt::format("has the unknown placeholder {{{}}} (known: {{tenant}} {{team}} {{agent}})", name);
  }
  if (path.find('}') != std::string_view::npos && path.find('{') == std::string_view::npos)
    return "closes a } it never opened";
  return "";
}

}  // namespace

std::optional<SandboxSection> SandboxReader::read(const YamlNode& node, const std::string& path) {
  const size_t errors_before = error_count();
  check_map(node, path, {"user", "filesystem", "syscalls", "network", "require", "keep"});
  if (!node.is_map()) return std::nullopt;
  SandboxSection section;
  section.pos = pos(node);
  section.path = path;
  if (node["user"]) section.user = read_user(node["user"], path + ".user");
  if (node["filesystem"]) read_filesystem(node["filesystem"], path + ".filesystem", section);
  if (node["syscalls"]) read_syscalls(node["syscalls"], path + ".syscalls", section);
  if (node["network"]) read_network(node["network"], path + ".network", section);
  if (node["require"]) read_require(node["require"], path + ".require", section);
  if (node["keep"]) {
    auto text = scalar(node["keep"], path + ".keep");
    if (text == std::optional<std::string>("true"))
      section.keep = true;
    else if (text == std::optional<std::string>("false"))
      section.keep = false;
    else if (text)
      error(node["keep"], fmt::format("{}.keep \"{}\" is not true or false", path, *text));
  }
  if (error_count() != errors_before) return std::nullopt;
  return section;
}

std::optional<std::string> SandboxReader::read_user(const YamlNode& node, const std::string& path) {
  auto user = scalar(node, path);
  if (user && !is_valid_user(*user)) {
    error(node, fmt::format("{}: \"{}\" is not a user name or a numeric uid", path, *user));
    return std::nullopt;
  }
  // Allowed, as an explicit choice: root without capabilities still owns
  // every root-owned file that the profile's Landlock paths leave open.
  // "0", "00", ...: every spelling of uid 0 is root.
  const bool uid_zero = user && !user->empty() && user->find_first_not_of('0') == std::string::npos;
  if (user && (*user == "root" || uid_zero))
    warn(node, fmt::format("{}: the agent runs as root (without capabilities, in its own PID and mount "
                           "namespaces), owning every root-owned file its filesystem rules leave open (with no "
                           "filesystem: rules, every one on the host: /etc/cron.d, /usr/sbin, ...); without "
                           "user: it gets a uid of its own from agentd",
                           path));
  return user;
}

void SandboxReader::read_filesystem(const YamlNode& node, const std::string& path, SandboxSection& section) {
  check_map(node, path, {"read_only", "read_write", "execute"});
  if (!node.is_map()) return;
  section.has_filesystem = true;
  if (node["read_only"]) section.read_only = read_paths(node["read_only"], path + ".read_only");
  if (node["read_write"]) section.read_write = read_paths(node["read_write"], path + ".read_write");
  if (node["execute"]) section.execute = read_paths(node["execute"], path + ".execute");
}

std::vector<PathRule> SandboxReader::read_paths(const YamlNode& node, const std::string& path) {
  std::vector<PathRule> paths;
  if (!node.is_sequence()) {
    error(node, fmt::format("{} must be a list of absolute paths, e.g. [/usr, /workspace/{{agent}}]", path));
    return paths;
  }
  size_t index = 0;
  for (const auto& item : node.items()) {
    const std::string where = fmt::format("{}[{}]", path, index++);
    auto text = scalar(item, where);
    if (!text) continue;
    if (auto problem = path_problem(*text); !problem.empty()) {
      error(item, fmt::format("{}: \"{}\" {}", where, *text, problem));
      continue;
    }
    // "/usr/" and "/usr" are one rule.
    std::string normal = std::filesystem::path(*text).lexically_normal().string();
    if (normal.size() > 1 && normal.back() == '/') normal.pop_back();
    paths.push_back({normal, pos(item)});
  }
  return paths;
}

void SandboxReader::read_syscalls(const YamlNode& node, const std::string& path, SandboxSection& section) {
  check_map(node, path, {"profile", "deny", "allow", "action"});
  if (!node.is_map()) return;
  if (const YamlNode profile = node["profile"]) {
    auto text = scalar(profile, path + ".profile");
    if (text == std::optional<std::string>("default"))
      section.profile = SyscallProfileKind::standard;
    else if (text == std::optional<std::string>("strict"))
      section.profile = SyscallProfileKind::strict;
    else if (text == std::optional<std::string>("none"))
      section.profile = SyscallProfileKind::none;
    else if (text)
      error(profile, fmt::format("{}.profile \"{}\" is not default, strict or none", path, *text));
  }
  if (const YamlNode action = node["action"]) {
    auto text = scalar(action, path + ".action");
    if (text == std::optional<std::string>("errno"))
      section.action = SyscallAction::error;
    else if (text == std::optional<std::string>("kill"))
      section.action = SyscallAction::kill;
    else if (text == std::optional<std::string>("log"))
      section.action = SyscallAction::log;
    else if (text)
      error(action, fmt::format("{}.action \"{}\" is not errno, kill or log", path, *text));
  }
  if (node["deny"]) section.deny = read_syscall_names(node["deny"], path + ".deny");
  if (node["allow"]) section.allow = read_syscall_names(node["allow"], path + ".allow");
}

std::vector<SyscallRule> SandboxReader::read_syscall_names(const YamlNode& node, const std::string& path) {
  std::vector<SyscallRule> names;
  if (!node.is_sequence()) {
    error(node, fmt::format("{} must be a list of syscall names, e.g. [ptrace, io_uring_setup]", path));
    return names;
  }
  size_t index = 0;
  for (const auto& item : node.items()) {
    const std::string where = fmt::format("{}[{}]", path, index++);
    auto name = scalar(item, where);
    if (!name) continue;
    if (!is_known_syscall(*name)) {
      error(item, fmt::format("{}: \"{}\" is not a syscall libseccomp knows on x86-64, x32 or i386", where, *name));
      continue;
    }
    names.push_back({*name, pos(item)});
  }
  return names;
}

void SandboxReader::read_network(const YamlNode& node, const std::string& path, SandboxSection& section) {
  check_map(node, path, {"landlock_ports"});
  if (!node.is_map() || !node["landlock_ports"]) return;
  auto text = scalar(node["landlock_ports"], path + ".landlock_ports");
  if (text == std::optional<std::string>("true"))
    section.landlock_ports = true;
  else if (text == std::optional<std::string>("false"))
    section.landlock_ports = false;
  else if (text)
    error(node["landlock_ports"], fmt::format("{}.landlock_ports \"{}\" is not true or false", path, *text));
}

void SandboxReader::read_require(const YamlNode& node, const std::string& path, SandboxSection& section) {
  check_map(node, path, {"landlock_abi"});
  if (!node.is_map() || !node["landlock_abi"]) return;
  auto text = scalar(node["landlock_abi"], path + ".landlock_abi");
  if (!text) return;
  int abi = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), abi);
  if (ec != std::errc() || end != text->data() + text->size() || abi < 1 || abi > 255) {
    error(node["landlock_abi"],
          fmt::format("{}.landlock_abi \"{}\" is not a Landlock ABI version (1, 2, ...)", path, *text));
    return;
  }
  section.landlock_abi = abi;
}

}  // namespace agentd::policy
