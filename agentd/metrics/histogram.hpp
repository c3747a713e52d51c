// A Prometheus histogram kept in memory: cumulative buckets over fixed
// upper bounds, their sum and count. Pure; agentd observes reload times.
#pragma once

#include <cstdint>
#include <vector>

namespace agentd::metrics {

class Histogram {
 public:
  // Upper bounds in ascending order; +Inf is implied.
  explicit Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size(), 0) {}

  void observe(double value) {
    for (size_t i = 0; i < bounds_.size(); ++i)
      if (value <= bounds_[i]) ++counts_[i];
    sum_ += value;
    ++count_;
  }

  const std::vector<double>& bounds() const { return bounds_; }
  // Cumulative: observations at or below bounds()[i].
  const std::vector<uint64_t>& cumulative() const { return counts_; }
  double sum() const { return sum_; }
  uint64_t count() const { return count_; }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;
  double sum_ = 0;
  uint64_t count_ = 0;
};

// Reload durations in seconds: a one-rule change takes milliseconds, a
// 100k-rule policy seconds.
inline Histogram reload_duration_histogram() {
  return Histogram({0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30});
}

// What agentd counts for the metrics beyond `status`.
struct ReloadMetrics {
  uint64_t applied = 0;
  uint64_t refused = 0;
  Histogram duration = reload_duration_histogram();
};

}  // namespace agentd::metrics
