// The control API, as one table: every method the control socket serves,
// the role a caller needs, the tenants it concerns, and which part of the
// daemon serves it. The gate (ApprovalService::refuse) and the dispatch
// (Daemon::handle) both read it; a method not in it is refused by name,
// whoever asks.
#pragma once

#include <span>
#include <string_view>

#include "agentd/approvals/roles.hpp"

namespace agentd::approvals {

// Which tenants a call concerns, for the gate.
enum class MethodTenants {
  // Those the caller holds the role for: the handler shows or touches no
  // other (a viewer of acme lists acme's requests only).
  the_callers,
  // The tenant of the request's "agent" field: the caller must hold the
  // role for that tenant.
  the_agents,
  // The whole host (a policy reload, a sandbox outside every tenant's
  // reach): the caller must hold the role for every tenant.
  every,
};

enum class MethodServer { daemon, approvals };

struct ControlMethod {
  std::string_view name;
  Role role;
  MethodTenants tenants;
  MethodServer server;
};

std::span<const ControlMethod> control_methods();
// nullptr for a method the API does not have.
const ControlMethod* find_control_method(std::string_view name);

}  // namespace agentd::approvals
