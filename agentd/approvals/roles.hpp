// Who may do what through the control socket: roles from agentd's roles
// file, matched against the caller's uid and groups (SO_PEERCRED).
//
//   roles:
//     - users: [alice]          # names or numeric uids
//       groups: [secops]        # names or numeric gids
//       role: approver          # admin | approver | viewer
//       tenants: [acme]         # omitted or ["*"]: every tenant
//
// admin: everything (policy apply, run, adopt); approver: answer requests
// and revoke grants of its tenants, and all a viewer may; viewer: status,
// lists, watch and audit of its tenants. root is always admin. Someone
// with no role is refused.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "agentd/common/result.hpp"

namespace agentd::approvals {

enum class Role { none = 0, viewer = 1, approver = 2, admin = 3 };
std::string role_name(Role role);

// The uid of an answer given through the fleet (watch --fleet): no local
// user; `user` then holds what the operator's agentctl said of them.
inline constexpr uint32_t kFleetUid = UINT32_MAX;

struct Identity {
  uint32_t uid = 0;
  std::string user;                 // empty when the uid has no name
  std::vector<uint32_t> gids;       // primary and supplementary
  std::vector<std::string> groups;  // their names, where they have one
  std::string str() const;          // "alice (uid 1001)"
};

// The caller's identity: its user name and its groups: those the process
// holds when they are known (SO_PEERGROUPS), else every group the user
// database gives the user (getgrouplist).
Identity identity_of(uint32_t uid, uint32_t gid, const std::optional<std::vector<uint32_t>>& held = std::nullopt);

struct RoleBinding {
  std::vector<std::string> users, groups;
  Role role = Role::none;
  std::vector<std::string> tenants;  // empty: every tenant
  bool matches(const Identity& who) const;
  bool covers(const std::string& tenant) const;
};

class Roles {
 public:
  // No file: only root is served.
  static Result<Roles> load(const std::filesystem::path& file);
  // Errors name file:line:column and the reason, all of them.
  static Result<Roles> parse(const std::string& text, const std::string& file);

  // The caller's role for one tenant.
  Role role_for(const Identity& who, const std::string& tenant) const;
  // The caller's highest role anywhere (what the socket gate asks).
  Role highest(const Identity& who) const;
  // The tenants the caller sees at least as `role`; nothing: every tenant.
  std::optional<std::vector<std::string>> tenants_for(const Identity& who, Role role) const;
  const std::vector<RoleBinding>& bindings() const { return bindings_; }

 private:
  std::vector<RoleBinding> bindings_;
};

}  // namespace agentd::approvals
