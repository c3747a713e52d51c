#include "agentd/approvals/grant_budget.hpp"

#include <fmt/format.h>

#include "agentd/policy/model.hpp"

namespace agentd::approvals {

std::vector<GrantEntry> entries_of(const Grant& grant, const std::vector<GrantSandbox>& sandboxes) {
  std::string key;
  if (grant.is_name()) {
    key = grant.host;
  } else {
    auto cidr = policy::parse_cidr(grant.address);
    if (!cidr) return {};
    key.push_back(static_cast<char>(cidr->family));
    key.push_back(grant.inbound ? 'i' : 'o');
    key.append(reinterpret_cast<const char*>(cidr->addr.data()), cidr->addr.size());
  }
  std::vector<GrantEntry> entries;
  for (const auto& sandbox : sandboxes)
    if (grant.covers(sandbox.agent)) entries.push_back({sandbox.slot, grant.is_name(), key});
  return entries;
}

GrantPlan GrantBudget::plan(const std::map<uint64_t, Grant>& grants, const std::vector<GrantSandbox>& sandboxes) const {
  GrantPlan plan;
  for (const auto& [id, grant] : grants) {  // ids grow: oldest first
    size_t& held = plan.by_tenant[grant.tenant()];
    for (auto& entry : entries_of(grant, sandboxes)) {
      if (plan.written.contains(entry)) continue;  // another port or scope of an entry already in
      if (held >= per_tenant_) {
        ++plan.over_limit;
        continue;
      }
      plan.written.insert(std::move(entry));
      ++held;
    }
  }
  return plan;
}

std::string GrantBudget::refuse(const Grant& candidate, const std::map<uint64_t, Grant>& grants,
                                const std::vector<GrantSandbox>& sandboxes) const {
  const std::string tenant = candidate.tenant();
  // Everything the tenant's grants need, written or left out.
  std::set<GrantEntry> needed;
  for (const auto& [id, grant] : grants)
    if (grant.tenant() == tenant)
      for (auto& entry : entries_of(grant, sandboxes)) needed.insert(std::move(entry));
  const size_t before = needed.size();
  for (auto& entry : entries_of(candidate, sandboxes)) needed.insert(std::move(entry));
  const size_t added = needed.size() - before;
  if (added == 0 || needed.size() <= per_tenant_) return "";
  return fmt::format(
      "tenant {} would hold {} kernel grant entries, past its limit of {} (--grants-per-tenant): this grant needs "
      "{} more ({} {}, one per sandbox it covers); revoke grants of {} (agentctl grants list) or grant a narrower "
      "scope",
      tenant, needed.size(), per_tenant_, added, scope_name(candidate.scope), candidate.subject, tenant);
}

}  // namespace agentd::approvals
