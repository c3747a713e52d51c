#include "agentd/approvals/grant_review.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "agentd/policy/explain.hpp"
#include "agentd/policy/names.hpp"
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

}  // namespace

std::string fate_name(GrantFate fate) {
  switch (fate) {
    case GrantFate::kept: return "kept";
    case GrantFate::revoked: return "revoked";
    case GrantFate::redundant: return "redundant";
  }
  return "kept";
}

bool policy_denies(const policy::PolicySet& policy, const Grant& grant, const policy::AgentName& agent) {
  if (grant.is_name()) {
    const auto decision = policy::HostRules(policy, agent).decide(grant.host);
    return !decision.allowed && decision.endpoint;  // a host deny rule
  }
  auto dest = address_of(grant);
  if (!dest) return false;
  auto decision = policy::explain(policy, agent, *dest);
  return decision && !decision->allowed && decision->endpoint;  // an explicit deny rule
}

bool policy_allows_all(const policy::PolicySet& policy, const Grant& grant, const policy::AgentName& agent,
                       std::string& why) {
  if (!grant.is_name()) {
    auto dest = address_of(grant);
    if (!dest) return false;
    auto decision = policy::explain(policy, agent, *dest);
    if (!decision || !decision->allowed || !decision->endpoint) return false;
    why = decision->explanation;
    return true;
  }
  const auto decision = policy::HostRules(policy, agent).decide(grant.host);
  if (!decision.allowed) return false;
  // The grant opens its ports over TCP and UDP: the rules must allow each
  // of them for both, with no deny range among them.
  const std::vector<policy::PortRange> wanted =
      grant.ports.empty() ? std::vector<policy::PortRange>{{1, 65535}} : grant.ports;
  std::vector<policy::PortRange> allowed;
  for (const auto& r : decision.ranges) {
    if (r.action == AGENTD_ACTION_DENY) {
      if (std::any_of(wanted.begin(), wanted.end(), [&](const auto& p) { return overlaps(r, p); })) return false;
    } else if ((r.proto_mask & AGENTD_PROTO_ANY) == AGENTD_PROTO_ANY) {
      allowed.push_back({r.lo, r.hi});
    }
  }
  const auto runs = policy::merge_port_ranges(std::move(allowed));
  for (const auto& p : wanted)
    if (std::none_of(runs.begin(), runs.end(), [&](const auto& r) { return r.lo <= p.lo && p.hi <= r.hi; }))
      return false;
  why = decision.explanation;
  return true;
}

namespace {

std::vector<policy::AgentName> covered_by(const Grant& grant, const std::vector<policy::AgentName>& agents) {
  std::vector<policy::AgentName> covered;
  for (const auto& a : agents)
    if (grant.covers(a)) covered.push_back(a);
  if (covered.empty() && grant.scope == Scope::agent)
    if (auto agent = policy::parse_agent_name(grant.subject)) covered.push_back(*agent);
  return covered;
}

// The first agent a deny covers stops nothing: each must be denied.
bool denied_for_all(const policy::PolicySet& policy, const Grant& grant, const std::vector<policy::AgentName>& covered) {
  if (covered.empty()) return false;
  for (const auto& agent : covered)
    if (!policy_denies(policy, grant, agent)) return false;
  return true;
}

}  // namespace

bool revoked_by(const policy::PolicySet& policy, const Grant& grant, const std::vector<policy::AgentName>& agents) {
  return denied_for_all(policy, grant, covered_by(grant, agents));
}

GrantReview review_grant(const policy::PolicySet& policy, const Grant& grant,
                         const std::vector<policy::AgentName>& agents) {
  const auto covered = covered_by(grant, agents);
  if (covered.empty()) return {};
  if (denied_for_all(policy, grant, covered)) {
    GrantReview review{GrantFate::revoked, ""};
    // The deny's own words, for the first agent it covers.
    if (grant.is_name()) {
      review.why = policy::HostRules(policy, covered.front()).decide(grant.host).explanation;
    } else if (auto dest = address_of(grant)) {
      if (auto d = policy::explain(policy, covered.front(), *dest)) review.why = d->explanation;
    }
    return review;
  }
  std::string why;
  for (const auto& agent : covered)
    if (!policy_allows_all(policy, grant, agent, why)) return {};
  return {GrantFate::redundant, why};
}

nlohmann::json review_grants_json(const policy::PolicySet& policy, const std::vector<Grant>& grants,
                                  const std::vector<policy::AgentName>& agents) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& grant : grants) {
    const auto review = review_grant(policy, grant, agents);
    if (review.fate == GrantFate::kept) continue;
    nlohmann::json item = grant_to_json(grant);
    item["fate"] = fate_name(review.fate);
    item["why"] = review.why;
    list.push_back(std::move(item));
  }
  return list;
}

}  // namespace agentd::approvals
