// The book's requests, indexed so that what a denial asks costs O(log n)
// however many there are (pending counts per sandbox and per tenant for
// the caps of folds.hpp, the next to expire), and bounded by number, not
// only by time: a sandbox whose requests keep expiring would otherwise
// keep a day of them in memory. Past its bounds a sandbox's oldest
// decided requests are forgotten first (the store keeps them); a deny
// whose silence runs is bounded on its own, so the flood of expiring
// requests never ends a silence early. Pure: the book calls add() when a
// request enters memory or after it changed, remove() before it changes
// or leaves, and forgets what to_forget() names.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace agentd::approvals {

// As book.hpp declares them; the index holds ids and times, not requests.
struct Request;
using Clock = std::chrono::system_clock;
using Time = Clock::time_point;

// How many requests of a sandbox the book keeps in memory, and how long.
struct RequestLimits {
  // Answered or expired requests (a deny's silence over, or none) kept
  // per sandbox: what `approvals list --state all` shows of it.
  size_t decided_per_sandbox = 256;
  // Denies with a silence, per sandbox: operators make these, not the
  // sandbox; past it, the silence that ends soonest goes first.
  size_t silenced_per_sandbox = 1024;
  // A decided request leaves memory this long after its answer (and
  // not before its silence ends), whatever the numbers.
  std::chrono::seconds keep{24 * 3600};
};

class RequestIndex {
 public:
  using Limits = RequestLimits;

  explicit RequestIndex(Limits limits = {}) : limits_(limits) {}

  void add(const Request& request);
  void remove(const Request& request);

  size_t pending(const std::string& sandbox) const;
  size_t pending_names(const std::string& sandbox) const;
  size_t pending_in_tenant(const std::string& tenant) const;
  size_t pending_total() const { return expiry_.size(); }
  // Pending per sandbox, for status.
  std::map<std::string, size_t> pending_by_sandbox() const;
  // Pending requests whose time is up at `now`, the first to expire first.
  std::vector<uint64_t> due(Time now) const;
  // Every pending request, by id.
  std::vector<uint64_t> pending_ids() const;
  // What must leave memory: past `keep` at `now`, or past the sandbox's
  // numbers (the oldest decided, the silences ending soonest).
  std::vector<uint64_t> to_forget(Time now) const;
  std::vector<uint64_t> to_forget(const std::string& name) const;

  const Limits& limits() const { return limits_; }

 private:
  struct Sandbox {
    size_t pending = 0, pending_names = 0;
    std::set<std::pair<Time, uint64_t>> decided;   // by when decided: the oldest first
    std::set<std::pair<Time, uint64_t>> silenced;  // by the silence's end
    bool empty() const { return pending == 0 && decided.empty() && silenced.empty(); }
  };
  static bool silences(const Request& request);
  static Time decided_at(const Request& request);
  Time forget_at(const Request& request) const;

  Limits limits_;
  std::map<std::string, Sandbox> sandboxes_;
  std::map<std::string, size_t> tenants_;          // pending per tenant
  std::set<std::pair<Time, uint64_t>> expiry_;     // pending, by expiry
  std::set<std::pair<Time, uint64_t>> forget_at_;  // decided, by when they may go
};

}  // namespace agentd::approvals
