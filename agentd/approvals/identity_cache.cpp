#include "agentd/approvals/identity_cache.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace agentd::approvals {

Identity IdentityCache::get(uint32_t uid, uint32_t gid, const std::optional<std::vector<uint32_t>>& held,
                            Clock::time_point now) {
  // Held groups are part of the key: a process that gained or dropped a
  // group is another caller (unknown groups, "-", are the database's).
  const std::string key = fmt::format("{}:{}:{}", uid, gid, held ? fmt::format("{}", fmt::join(*held, ",")) : "-");
  if (auto it = entries_.find(key); it != entries_.end() && it->second.expires > now) return it->second.identity;
  if (entries_.size() >= capacity_) entries_.clear();  // many callers at once: start over, bounded
  Identity identity = resolve_(uid, gid, held);
  entries_[key] = Entry{identity, now + lifetime_};
  return identity;
}

}  // namespace agentd::approvals
