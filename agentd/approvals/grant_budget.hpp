// Each tenant's share of the kernel's grant entries. The grants map is
// shared by every tenant (AGENTD_MAX_GRANTS), and a team or tenant grant
// takes one entry per sandbox it covers (per address; a name grant one
// per sandbox in the names trie), so without a budget one tenant's
// operators could fill it and the next grant of another tenant would be
// "made" but missing from the kernel. Pure: which entries the live
// grants need, tenant by tenant; whether a new grant fits; which entries
// are left out when sandboxes created later push a tenant past its limit.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "agentd/approvals/book.hpp"

namespace agentd::approvals {

// A sandbox a grant may cover: its slot (the kernel's key) and its name.
struct GrantSandbox {
  uint32_t slot = 0;
  policy::AgentName agent;
};

// One kernel entry: a sandbox's slot and an address key (family, the
// inbound bit, the address bytes) or a granted name. Several grants of
// one address (other ports, other scopes) share one entry.
struct GrantEntry {
  uint32_t slot = 0;
  bool name = false;
  std::string key;
  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 misreads a defaulted <=>
  auto operator<=>(const GrantEntry&) const = default;
};

// The entries `grant` needs for `sandboxes` (none for an address that
// does not parse: it is never written).
std::vector<GrantEntry> entries_of(const Grant& grant, const std::vector<GrantSandbox>& sandboxes);

struct GrantPlan {
  std::set<GrantEntry> written;             // what goes into the kernel
  std::map<std::string, size_t> by_tenant;  // entries written, per tenant
  size_t over_limit = 0;                    // entries left out: their tenant was at its limit
  bool admits(const GrantEntry& entry) const { return written.contains(entry); }
};

class GrantBudget {
 public:
  static constexpr size_t kDefaultPerTenant = 4096;
  explicit GrantBudget(size_t per_tenant = kDefaultPerTenant) : per_tenant_(per_tenant) {}
  size_t per_tenant() const { return per_tenant_; }

  // The entries the live grants need, oldest grant first: when a tenant
  // is past its limit (sandboxes created after its grants), its newest
  // grants' entries are the ones left out.
  GrantPlan plan(const std::map<uint64_t, Grant>& grants, const std::vector<GrantSandbox>& sandboxes) const;
  // Why `candidate` may not be made: the entries it would add take its
  // tenant past the limit. "" when it fits (or adds no entry).
  std::string refuse(const Grant& candidate, const std::map<uint64_t, Grant>& grants,
                     const std::vector<GrantSandbox>& sandboxes) const;

 private:
  size_t per_tenant_;
};

}  // namespace agentd::approvals
