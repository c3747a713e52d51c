#include "agentd/approvals/roles.hpp"

#include <grp.h>
#include <pwd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "agentd/policy/yaml_reader.hpp"

namespace agentd::approvals {

std::string role_name(Role role) {
  switch (role) {
    case Role::none:
      return "none";
    case Role::viewer:
      return "viewer";
    case Role::approver:
      return "approver";
    case Role::admin:
      return "admin";
  }
  return "none";
}

std::string Identity::str() const {
  if (uid == kFleetUid && !user.empty()) return user;
  return user.empty() ? fmt::format("uid {}", uid) : fmt::format("{} (uid {})", user, uid);
}

Identity identity_of(uint32_t uid, uint32_t gid, const std::optional<std::vector<uint32_t>>& held) {
  Identity who;
  who.uid = uid;
  passwd pw{}, *found = nullptr;
  std::vector<char> buf(16384);
  if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 && found) {
    who.user = pw.pw_name;
  }
  if (held) {
    who.gids = *held;
  } else if (found) {
    int count = 64;
    std::vector<gid_t> gids(static_cast<size_t>(count));
    if (getgrouplist(pw.pw_name, pw.pw_gid, gids.data(), &count) < 0) {
      gids.resize(static_cast<size_t>(count));
      getgrouplist(pw.pw_name, pw.pw_gid, gids.data(), &count);
    }
    gids.resize(static_cast<size_t>(std::max(count, 0)));
    who.gids.assign(gids.begin(), gids.end());
  }
  if (std::find(who.gids.begin(), who.gids.end(), gid) == who.gids.end()) who.gids.push_back(gid);
  for (uint32_t g : who.gids) {
    group gr{}, *gfound = nullptr;
    if (getgrgid_r(g, &gr, buf.data(), buf.size(), &gfound) == 0 && gfound) who.groups.emplace_back(gr.gr_name);
  }
  return who;
}

bool RoleBinding::matches(const Identity& who) const {
  for (const auto& u : users)
    if (u == who.user || u == std::to_string(who.uid)) return true;
  for (const auto& g : groups) {
    if (std::find(who.groups.begin(), who.groups.end(), g) != who.groups.end()) return true;
    for (uint32_t gid : who.gids)
      if (g == std::to_string(gid)) return true;
  }
  return false;
}

bool RoleBinding::covers(const std::string& tenant) const {
  return tenants.empty() || std::find(tenants.begin(), tenants.end(), tenant) != tenants.end() ||
         std::find(tenants.begin(), tenants.end(), "*") != tenants.end();
}

Role Roles::role_for(const Identity& who, const std::string& tenant) const {
  if (who.uid == 0) return Role::admin;
  Role best = Role::none;
  for (const auto& b : bindings_)
    if (b.matches(who) && b.covers(tenant)) best = std::max(best, b.role);
  return best;
}

Role Roles::highest(const Identity& who) const {
  if (who.uid == 0) return Role::admin;
  Role best = Role::none;
  for (const auto& b : bindings_)
    if (b.matches(who)) best = std::max(best, b.role);
  return best;
}

std::optional<std::vector<std::string>> Roles::tenants_for(const Identity& who, Role role) const {
  if (who.uid == 0) return std::nullopt;
  std::vector<std::string> tenants;
  for (const auto& b : bindings_) {
    if (!b.matches(who) || b.role < role) continue;
    if (b.covers("*") && (b.tenants.empty() || std::find(b.tenants.begin(), b.tenants.end(), "*") != b.tenants.end()))
      return std::nullopt;
    tenants.insert(tenants.end(), b.tenants.begin(), b.tenants.end());
  }
  return tenants;
}

namespace {

struct NoWarnings {
  std::vector<policy::Diagnostic> warnings;
};

class RolesReader : NoWarnings, policy::YamlReader {
 public:
  RolesReader(std::string file, std::vector<policy::Diagnostic>& errors)
      : YamlReader(std::move(file), errors, warnings) {}

  std::vector<RoleBinding> read(const std::string& text) {
    std::vector<RoleBinding> bindings;
    auto [tree, problem] = policy::YamlTree::parse(text);
    if (!tree) {
      error_at({file_, problem.line, problem.column}, "invalid YAML: " + problem.message);
      return bindings;
    }
    const policy::YamlNode root = tree->root();
    if (!root || root.is_null()) return bindings;  // an empty file: no roles
    if (!check_map(root, "the roles file", {"roles"})) return bindings;
    const policy::YamlNode list = root["roles"];
    if (!list) return bindings;
    if (!list.is_sequence()) {
      error(list, "roles must be a list");
      return bindings;
    }
    size_t index = 0;
    for (const auto& item : list.items()) {
      const std::string path = fmt::format("roles[{}]", index++);
      check_map(item, path, {"users", "groups", "role", "tenants"});  // and the rest is still checked
      if (!item.is_map()) continue;
      RoleBinding binding;
      binding.users = names(item["users"], path + ".users");
      binding.groups = names(item["groups"], path + ".groups");
      binding.tenants = names(item["tenants"], path + ".tenants");
      if (binding.users.empty() && binding.groups.empty())
        error(item, fmt::format("{}: name at least one of users or groups", path));
      if (!item["role"]) {
        error(item, fmt::format("{}: a role binding needs \"role\" (admin, approver or viewer)", path));
      } else if (auto role = scalar(item["role"], path + ".role")) {
        if (*role == "admin")
          binding.role = Role::admin;
        else if (*role == "approver")
          binding.role = Role::approver;
        else if (*role == "viewer")
          binding.role = Role::viewer;
        else
          error(item["role"], fmt::format("{}: role \"{}\" is not admin, approver or viewer", path, *role));
      }
      bindings.push_back(std::move(binding));
    }
    return bindings;
  }

 private:
  std::vector<std::string> names(const policy::YamlNode& node, const std::string& what) {
    std::vector<std::string> result;
    if (!node) return result;
    if (!node.is_sequence()) {
      error(node, fmt::format("{} must be a list, e.g. [alice, bob]", what));
      return result;
    }
    for (const auto& item : node.items())
      if (auto text = scalar(item, what)) result.push_back(*text);
    return result;
  }
};

}  // namespace

Result<Roles> Roles::parse(const std::string& text, const std::string& file) {
  std::vector<policy::Diagnostic> errors;
  Roles roles;
  roles.bindings_ = RolesReader(file, errors).read(text);
  if (!errors.empty()) {
    std::string message;
    for (const auto& e : errors) message += (message.empty() ? "" : "\n") + e.str();
    return make_error("invalid roles file:\n{}", message);
  }
  return roles;
}

Result<Roles> Roles::load(const std::filesystem::path& file) {
  if (file.empty()) return Roles{};
  std::ifstream in(file);
  if (!in) return system_error("reading the roles file {}", file.string());
  std::stringstream text;
  text << in.rdbuf();
  return parse(text.str(), file.string());
}

}  // namespace agentd::approvals
