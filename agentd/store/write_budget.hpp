// How many denial rows the store takes a second. The kernel bounds each
// sandbox's records (bpf/record_budget.bpf.h), but many sandboxes at their
// budgets together could still write faster than the disk should: past
// this budget a denial is not stored row by row; it still reaches the
// events log and the SIEM, and the store gets one summary row a second
// with how many it did not keep (kind "denial", decision "not_stored").
// Pure and header-only: the caller passes the clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <utility>

namespace agentd::store {

class WriteBudget {
 public:
  using Clock = std::chrono::steady_clock;

  explicit WriteBudget(uint64_t per_second = 1000) : per_second_(per_second) {}

  // Whether one more row may be written now.
  bool admit(Clock::time_point now) {
    roll(now);
    if (this_second_ >= per_second_) {
      ++skipped_;
      ++skipped_total_;
      return false;
    }
    ++this_second_;
    return true;
  }
  // Skipped since the last call: what the summary row says.
  uint64_t take_skipped() { return std::exchange(skipped_, 0); }

  uint64_t per_second() const { return per_second_; }
  uint64_t skipped_total() const { return skipped_total_; }
  uint64_t last_second() const { return last_second_; }  // rows admitted in the last full second
  uint64_t max_second() const { return max_second_; }    // the most in any second

 private:
  void roll(Clock::time_point now) {
    if (now - window_ < std::chrono::seconds(1)) return;
    last_second_ = now - window_ < std::chrono::seconds(2) ? this_second_ : 0;
    if (last_second_ > max_second_) max_second_ = last_second_;
    window_ = now;
    this_second_ = 0;
  }

  uint64_t per_second_;
  Clock::time_point window_{};
  uint64_t this_second_ = 0, skipped_ = 0, skipped_total_ = 0, last_second_ = 0, max_second_ = 0;
};

}  // namespace agentd::store
