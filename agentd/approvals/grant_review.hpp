// What a policy does to a standing grant, judged for the agents it covers:
// an explicit deny of what it opens for every one of them revokes it on
// apply (as a reload does, ApprovalService::revoke_denied_by_policy); rules
// that allow all it opens for every one of them make it redundant (merged
// into Git, it can be revoked); a rule that now decides a granted name on
// fewer ports shadows it (the rule's ports win: the grant's others close).
// `policy diff` shows all three before an apply. Pure.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agentd/approvals/book.hpp"
#include "agentd/policy/compile.hpp"
#include "agentd/policy/explain.hpp"
#include "agentd/policy/model.hpp"
#include "agentd/policy/names.hpp"

namespace agentd::approvals {

enum class GrantFate { kept, revoked, redundant, shadowed };
std::string fate_name(GrantFate fate);

struct GrantReview {
  GrantFate fate = GrantFate::kept;
  std::string why;  // the deciding rule, for all but kept
};

// Judges grants against one policy, compiling each policy class once (by
// its key) and building each agent's host rules once: a reload reviews
// every grant of every agent, and a class at 100k rules takes a second.
class GrantJudge {
 public:
  explicit GrantJudge(const policy::PolicySet& policy) : policy_(policy) {}

  // Whether a rule denies what `grant` opens for `agent` outright; `why`
  // gets the deny.
  bool denies(const Grant& grant, const policy::AgentName& agent, std::string* why = nullptr);
  // Whether rules allow everything `grant` opens for `agent`.
  bool allows_all(const Grant& grant, const policy::AgentName& agent, std::string& why);
  // A name grant that a rule now decides (the grant is not consulted then)
  // on fewer ports or protocols than the grant opens.
  bool shadows(const Grant& grant, const policy::AgentName& agent, std::string& why);

  // `agents`: the sandboxes there are; the grant is judged for those it
  // covers (none covered: kept, nothing to judge it by). An agent grant is
  // judged for its agent even with no sandbox of it running.
  GrantReview review(const Grant& grant, const std::vector<policy::AgentName>& agents);
  // Only whether review() would say revoked (a reload asks this alone).
  bool revokes(const Grant& grant, const std::vector<policy::AgentName>& agents);

 private:
  const policy::CompiledClass* compiled(const policy::AgentName& agent);
  const policy::HostRules& host_rules(const policy::AgentName& agent);
  std::optional<policy::Decision> decide_address(const Grant& grant, const policy::AgentName& agent);

  const policy::PolicySet& policy_;
  std::map<std::string, std::optional<policy::CompiledClass>> classes_;  // by class key
  std::map<std::string, policy::HostRules> host_rules_;                  // by agent
};

// The grants `policy` would revoke, make redundant or shadow, as policy
// diff answers them: the grant's fields, its fate and the deciding rule.
nlohmann::json review_grants_json(const policy::PolicySet& policy, const std::vector<Grant>& grants,
                                  const std::vector<policy::AgentName>& agents);

}  // namespace agentd::approvals
