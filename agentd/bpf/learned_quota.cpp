#include "agentd/bpf/learned_quota.hpp"

namespace agentd::bpf {

size_t LearnedQuota::held(uint32_t slot) const {
  auto it = held_.find(slot);
  return it == held_.end() ? 0 : it->second;
}

uint64_t LearnedQuota::hits(uint32_t slot) const {
  auto it = hits_.find(slot);
  return it == hits_.end() ? 0 : it->second;
}

size_t LearnedQuota::fair_share(uint32_t slot) const {
  const size_t holders = held_.size() + (held_.contains(slot) ? 0 : 1);
  return capacity_ / holders;
}

LearnedQuota::Verdict LearnedQuota::admit(uint32_t slot) const {
  const size_t mine = held(slot);
  if (per_sandbox_ && mine >= per_sandbox_) return Verdict::sandbox_full;
  if (total_ < capacity_) return Verdict::admit;
  return victim(slot) ? Verdict::make_room : Verdict::map_full;
}

std::optional<uint32_t> LearnedQuota::victim(uint32_t slot) const {
  const size_t mine = held(slot);
  if (mine >= fair_share(slot)) return std::nullopt;
  // The largest holder; it holds more than `slot` (the map is full and
  // `slot` is below the average), so taking one of its entries never makes
  // it the smaller of the two.
  std::optional<uint32_t> largest;
  size_t most = 0;
  for (const auto& [s, n] : held_)
    if (s != slot && n > most) {
      most = n;
      largest = s;
    }
  if (!largest || most <= mine + 1) return std::nullopt;
  return largest;
}

void LearnedQuota::added(uint32_t slot) {
  ++held_[slot];
  ++total_;
}

void LearnedQuota::removed(uint32_t slot) {
  auto it = held_.find(slot);
  if (it == held_.end()) return;  // never counted: nothing to give back
  if (--it->second == 0) held_.erase(it);
  --total_;
}

}  // namespace agentd::bpf
