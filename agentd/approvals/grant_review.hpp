// What a policy does to a standing grant, judged for the agents it covers:
// an explicit deny of what it opens for every one of them revokes it on
// apply (as a reload does, ApprovalService::revoke_denied_by_policy); rules
// that allow all it opens for every one of them make it redundant (merged
// into Git, it can be revoked). `policy diff` shows both before an apply.
// Pure.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agentd/approvals/book.hpp"
#include "agentd/policy/model.hpp"

namespace agentd::approvals {

enum class GrantFate { kept, revoked, redundant };
std::string fate_name(GrantFate fate);

struct GrantReview {
  GrantFate fate = GrantFate::kept;
  std::string why;  // the deciding rule, for revoked and redundant
};

// Whether a rule of `policy` denies what `grant` opens for `agent` outright.
bool policy_denies(const policy::PolicySet& policy, const Grant& grant, const policy::AgentName& agent);
// Whether rules of `policy` allow everything `grant` opens for `agent`;
// `why` gets the rule that does.
bool policy_allows_all(const policy::PolicySet& policy, const Grant& grant, const policy::AgentName& agent,
                       std::string& why);

// `agents`: the sandboxes there are; the grant is judged for those it
// covers (none covered: kept, nothing to judge it by). An agent grant is
// judged for its agent even with no sandbox of it running.
GrantReview review_grant(const policy::PolicySet& policy, const Grant& grant,
                         const std::vector<policy::AgentName>& agents);
// Only whether review_grant would say revoked (a reload asks this alone).
bool revoked_by(const policy::PolicySet& policy, const Grant& grant, const std::vector<policy::AgentName>& agents);
// The grants `policy` would revoke or make redundant, as policy diff
// answers them: id, subject, what it opens, fate and the deciding rule.
nlohmann::json review_grants_json(const policy::PolicySet& policy, const std::vector<Grant>& grants,
                                  const std::vector<policy::AgentName>& agents);

}  // namespace agentd::approvals
