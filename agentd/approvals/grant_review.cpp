#include "agentd/approvals/grant_review.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "agentd/policy/explain.hpp"
#include "agentd/policy/ports.hpp"

namespace agentd::approvals {
namespace {

std::optional<policy::Destination> address_of(const Grant& grant) {
  auto dest = policy::parse_destination(
      fmt::format("{}:{}/{}", grant.address.find(':') != std::string::npos ? "[" + grant.address + "]" : grant.address,
                  grant.port, grant.protocol == "udp" ? "udp" : "tcp"));
  if (!dest) return std::nullopt;
  dest->inbound = grant.inbound;
  return *dest;
}

bool overlaps(const agentd_port_range& r, const policy::PortRange& p) { return r.lo <= p.hi && p.lo <= r.hi; }

std::vector<policy::PortRange> ports_of(const Grant& grant) {
  return grant.ports.empty() ? std::vector<policy::PortRange>{{1, 65535}} : grant.ports;
}

// Whether the allow ranges of a name's decision hold every port `wanted`
// names, over TCP and UDP (what a name grant opens), with no deny among them.
bool ranges_hold(const policy::NameDecision& decision, const std::vector<policy::PortRange>& wanted) {
  std::vector<policy::PortRange> allowed;
  for (const auto& r : decision.ranges) {
    if (r.action == AGENTD_ACTION_DENY) {
      if (std::any_of(wanted.begin(), wanted.end(), [&](const auto& p) { return overlaps(r, p); })) return false;
    } else if ((r.proto_mask & AGENTD_PROTO_ANY) == AGENTD_PROTO_ANY) {
      allowed.push_back({r.lo, r.hi});
    }
  }
  const auto runs = policy::merge_port_ranges(std::move(allowed));
  return std::all_of(wanted.begin(), wanted.end(), [&](const auto& p) {
    return std::any_of(runs.begin(), runs.end(), [&](const auto& r) { return r.lo <= p.lo && p.hi <= r.hi; });
  });
}

std::vector<policy::AgentName> covered_by(const Grant& grant, const std::vector<policy::AgentName>& agents) {
  std::vector<policy::AgentName> covered;
  for (const auto& a : agents)
    if (grant.covers(a)) covered.push_back(a);
  if (covered.empty() && grant.scope == Scope::agent)
    if (auto agent = policy::parse_agent_name(grant.subject)) covered.push_back(*agent);
  return covered;
}

}  // namespace

std::string fate_name(GrantFate fate) {
  switch (fate) {
    case GrantFate::kept:
      return "kept";
    case GrantFate::revoked:
      return "revoked";
    case GrantFate::redundant:
      return "redundant";
    case GrantFate::shadowed:
      return "shadowed";
  }
  return "kept";
}

const policy::CompiledClass* GrantJudge::compiled(const policy::AgentName& agent) {
  const std::string key = policy::class_key_for(policy_, agent);
  auto it = classes_.find(key);
  if (it == classes_.end()) {
    auto made = policy::compile_for_agent(policy_, agent);
    it = classes_.emplace(key, made ? std::optional<policy::CompiledClass>(std::move(*made)) : std::nullopt).first;
  }
  return it->second ? &*it->second : nullptr;
}

const policy::HostRules& GrantJudge::host_rules(const policy::AgentName& agent) {
  auto it = host_rules_.find(agent.str());
  if (it == host_rules_.end()) it = host_rules_.emplace(agent.str(), policy::HostRules(policy_, agent)).first;
  return it->second;
}

std::optional<policy::Decision> GrantJudge::decide_address(const Grant& grant, const policy::AgentName& agent) {
  auto dest = address_of(grant);
  const auto* cls = compiled(agent);
  if (!dest || !cls) return std::nullopt;
  return policy::decide(policy_, *cls, *dest);
}

bool GrantJudge::denies(const Grant& grant, const policy::AgentName& agent, std::string* why) {
  if (grant.is_name()) {
    const auto decision = host_rules(agent).decide(grant.host);
    if (decision.allowed || !decision.endpoint) return false;  // only a host deny rule
    if (why) *why = decision.explanation;
    return true;
  }
  auto decision = decide_address(grant, agent);
  if (!decision || decision->allowed || !decision->endpoint) return false;  // only an explicit deny rule
  if (why) *why = decision->explanation;
  return true;
}

bool GrantJudge::allows_all(const Grant& grant, const policy::AgentName& agent, std::string& why) {
  if (!grant.is_name()) {
    auto decision = decide_address(grant, agent);
    if (!decision || !decision->allowed || !decision->endpoint) return false;
    why = decision->explanation;
    return true;
  }
  const auto decision = host_rules(agent).decide(grant.host);
  if (!decision.allowed || !ranges_hold(decision, ports_of(grant))) return false;
  why = decision.explanation;
  return true;
}

bool GrantJudge::shadows(const Grant& grant, const policy::AgentName& agent, std::string& why) {
  if (!grant.is_name()) return false;
  const auto decision = host_rules(agent).decide(grant.host);
  if (!decision.allowed || ranges_hold(decision, ports_of(grant))) return false;
  why = decision.explanation + ": its ports win over the grant's";
  return true;
}

bool GrantJudge::revokes(const Grant& grant, const std::vector<policy::AgentName>& agents) {
  const auto covered = covered_by(grant, agents);
  if (covered.empty()) return false;
  return std::all_of(covered.begin(), covered.end(), [&](const auto& agent) { return denies(grant, agent); });
}

GrantReview GrantJudge::review(const Grant& grant, const std::vector<policy::AgentName>& agents) {
  const auto covered = covered_by(grant, agents);
  if (covered.empty()) return {};
  if (std::all_of(covered.begin(), covered.end(), [&](const auto& agent) { return denies(grant, agent); })) {
    GrantReview review{GrantFate::revoked, ""};
    denies(grant, covered.front(), &review.why);  // the deny's own words, for the first agent
    return review;
  }
  std::string why;
  if (std::all_of(covered.begin(), covered.end(), [&](const auto& agent) { return allows_all(grant, agent, why); }))
    return {GrantFate::redundant, why};
  for (const auto& agent : covered)
    if (shadows(grant, agent, why)) return {GrantFate::shadowed, why};
  return {};
}

nlohmann::json review_grants_json(const policy::PolicySet& policy, const std::vector<Grant>& grants,
                                  const std::vector<policy::AgentName>& agents) {
  GrantJudge judge(policy);
  nlohmann::json list = nlohmann::json::array();
  for (const auto& grant : grants) {
    const auto review = judge.review(grant, agents);
    if (review.fate == GrantFate::kept) continue;
    nlohmann::json item = grant_to_json(grant);
    item["fate"] = fate_name(review.fate);
    item["why"] = review.why;
    list.push_back(std::move(item));
  }
  return list;
}

}  // namespace agentd::approvals
