#include "agentd/approvals/control_methods.hpp"

#include <algorithm>
#include <array>

namespace agentd::approvals {
namespace {

using enum MethodTenants;
using enum MethodServer;

// Reading is a viewer's; answering requests and granting, an approver's;
// changing what is enforced (sandboxes, the policy), an admin's.
constexpr std::array kMethods = {
    ControlMethod{"status", Role::viewer, the_callers, daemon},
    ControlMethod{"sandbox.list", Role::viewer, the_callers, daemon},
    ControlMethod{"sandbox.profile", Role::viewer, the_callers, daemon},
    ControlMethod{"sandbox.ensure", Role::admin, the_agents, daemon},
    ControlMethod{"sandbox.adopt", Role::admin, the_agents, daemon},
    ControlMethod{"sandbox.remove", Role::admin, the_agents, daemon},
    ControlMethod{"policy.explain", Role::viewer, the_callers, daemon},
    ControlMethod{"policy.diff", Role::viewer, the_callers, daemon},
    ControlMethod{"policy.source", Role::viewer, the_callers, daemon},
    ControlMethod{"policy.apply", Role::admin, every, daemon},
    ControlMethod{"approvals.watch", Role::viewer, the_callers, approvals},
    ControlMethod{"approvals.list", Role::viewer, the_callers, approvals},
    ControlMethod{"approvals.folds", Role::viewer, the_callers, approvals},
    ControlMethod{"approvals.approve", Role::approver, the_callers, approvals},
    ControlMethod{"approvals.deny", Role::approver, the_callers, approvals},
    ControlMethod{"approvals.reopen", Role::approver, the_callers, approvals},
    ControlMethod{"grants.list", Role::viewer, the_callers, approvals},
    ControlMethod{"grants.add", Role::approver, the_callers, approvals},
    ControlMethod{"grants.revoke", Role::approver, the_callers, approvals},
    ControlMethod{"audit.query", Role::viewer, the_callers, approvals},
};

}  // namespace

std::span<const ControlMethod> control_methods() { return kMethods; }

const ControlMethod* find_control_method(std::string_view name) {
  auto it = std::find_if(kMethods.begin(), kMethods.end(), [&](const ControlMethod& m) { return m.name == name; });
  return it == kMethods.end() ? nullptr : &*it;
}

}  // namespace agentd::approvals
