#pragma once
// Who a control-socket peer is, looked up once a minute, not per connection.
//
// Resolving an identity asks the user database (getpwuid, getgrgid for
// each group): through NSS that may be LDAP or SSSD, and it runs on
// agentd's event loop for every connection, before any limit applies. A
// uid that reconnects without pause would make agentd ask the directory
// for each one. The answer for the same uid, gid and held groups is kept
// for a while instead; a bounded table, emptied when full.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "agentd/approvals/roles.hpp"

namespace agentd::approvals {

class IdentityCache {
 public:
  using Clock = std::chrono::steady_clock;
  using Resolve = std::function<Identity(uint32_t uid, uint32_t gid, const std::optional<std::vector<uint32_t>>& held)>;

  explicit IdentityCache(Resolve resolve = identity_of, Clock::duration lifetime = std::chrono::seconds(60),
                         size_t capacity = 256)
      : resolve_(std::move(resolve)), lifetime_(lifetime), capacity_(capacity) {}

  Identity get(uint32_t uid, uint32_t gid, const std::optional<std::vector<uint32_t>>& held,
               Clock::time_point now = Clock::now());
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    Identity identity;
    Clock::time_point expires;
  };
  Resolve resolve_;
  Clock::duration lifetime_;
  size_t capacity_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace agentd::approvals
