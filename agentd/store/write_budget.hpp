// How many denial rows the store takes a second, and from whom. The kernel
// bounds each sandbox's records (bpf/record_budget.bpf.h), but many
// sandboxes at their budgets together could still write faster than the
// disk should: past this budget a denial is not stored row by row; it
// still reaches the events log and the SIEM, and the store gets one
// summary row a second per sandbox with how many of its rows it did not
// keep (kind "denial", decision "not_stored").
//
// The budget is shared fairly: a sandbox may write its share a second,
// the budget over the sandboxes writing (this second or the last) plus
// one, never below a floor. The one share left over is room for a
// sandbox that starts writing, so ten sandboxes at their record budgets
// never take the rows of an eleventh that is denied once; a sandbox over
// its share is the one whose rows are not stored. The budget as a whole
// still holds: no second stores more than `per_second` rows.
// Pure and header-only: the caller passes the clock.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>

namespace agentd::store {

class WriteBudget {
 public:
  using Clock = std::chrono::steady_clock;
  // Rows a second any sandbox may write however many write (if the
  // budget as a whole has them).
  static constexpr uint64_t kFloor = 10;
  // Sandboxes a summary names; past that many in one summary (they come
  // from the registry, this is a backstop), the rest are counted under "".
  static constexpr size_t kMaxNamed = 4096;

  explicit WriteBudget(uint64_t per_second = 1000) : per_second_(per_second) {}

  // Whether one more row of `sandbox` may be written now.
  bool admit(const std::string& sandbox, Clock::time_point now) {
    roll(now);
    uint64_t& mine = this_second_by_sandbox_[sandbox];
    if (this_second_ >= per_second_ || mine >= share()) {
      auto it = skipped_.find(sandbox);
      if (it == skipped_.end()) it = skipped_.emplace(skipped_.size() < kMaxNamed ? sandbox : std::string(), 0).first;
      ++it->second;
      ++skipped_total_;
      return false;
    }
    ++mine;
    ++this_second_;
    return true;
  }
  // Skipped since the last call, per sandbox: what the summary rows say.
  std::map<std::string, uint64_t> take_skipped() { return std::exchange(skipped_, {}); }

  // A sandbox's rows a second now.
  uint64_t share() const {
    const uint64_t fair = per_second_ / (writers() + 1);
    return std::min(per_second_, std::max(fair, kFloor));
  }
  // Sandboxes that wrote (or tried to) this second or the last.
  size_t writers() const { return std::max(last_second_writers_, this_second_by_sandbox_.size()); }

  uint64_t per_second() const { return per_second_; }
  uint64_t skipped_total() const { return skipped_total_; }
  uint64_t last_second() const { return last_second_; }  // rows admitted in the last full second
  uint64_t max_second() const { return max_second_; }    // the most in any second

 private:
  void roll(Clock::time_point now) {
    if (now - window_ < std::chrono::seconds(1)) return;
    const bool consecutive = now - window_ < std::chrono::seconds(2);
    last_second_ = consecutive ? this_second_ : 0;
    last_second_writers_ = consecutive ? this_second_by_sandbox_.size() : 0;
    if (last_second_ > max_second_) max_second_ = last_second_;
    window_ = now;
    this_second_ = 0;
    this_second_by_sandbox_.clear();
  }

  uint64_t per_second_;
  Clock::time_point window_{};
  uint64_t this_second_ = 0, skipped_total_ = 0, last_second_ = 0, max_second_ = 0;
  size_t last_second_writers_ = 0;
  std::map<std::string, uint64_t> this_second_by_sandbox_;  // rows admitted this second
  std::map<std::string, uint64_t> skipped_;                 // since the last summary
};

}  // namespace agentd::store
