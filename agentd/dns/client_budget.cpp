#include "agentd/dns/client_budget.hpp"

#include <algorithm>

namespace agentd::dns {

std::optional<uint32_t> tcp_victim(const std::map<uint32_t, SandboxUse>& use, uint32_t slot) {
  size_t mine = 0;
  if (auto it = use.find(slot); it != use.end()) mine = it->second.tcp;
  std::optional<uint32_t> largest;
  size_t most = 0;
  for (const auto& [s, u] : use)
    if (s != slot && u.tcp > most) {
      most = u.tcp;
      largest = s;
    }
  // After the swap the victim holds most - 1 and `slot` mine + 1: only
  // worth it when the victim still holds at least as many.
  if (!largest || most < mine + 2) return std::nullopt;
  return largest;
}

size_t UpstreamPool::held(uint32_t slot) const {
  auto it = held_.find(slot);
  return it == held_.end() ? 0 : it->second;
}

size_t UpstreamPool::fair_share(uint32_t slot) const {
  const size_t holders = held_.size() + (held_.contains(slot) ? 0 : 1);
  return std::max(floor_, capacity_ / holders);
}

UpstreamPool::Admission UpstreamPool::admit(uint32_t slot) const {
  if (used_ + headroom() < capacity_) return {};
  const size_t mine = held(slot);
  if (mine >= fair_share(slot)) return {Verdict::refuse};
  if (used_ < capacity_) return {};
  // Full: the sandbox holding the most gives one up, if that leaves it
  // still at least as many as `slot` then holds.
  // NOLINTNEXTLINE(modernize-loop-convert): clang 14 cannot compile libstdc++ 12's reverse_view
  for (auto it = by_count_.rbegin(); it != by_count_.rend(); ++it) {
    if (it->second == slot) continue;
    if (it->first >= mine + 2) return {Verdict::evict, it->second};
    break;
  }
  return {Verdict::refuse};
}

void UpstreamPool::set(uint32_t slot, size_t count) {
  const size_t before = held(slot);
  if (before) by_count_.erase({before, slot});
  if (count) {
    held_[slot] = count;
    by_count_.emplace(count, slot);
  } else {
    held_.erase(slot);
  }
  used_ = used_ - before + count;
}

void UpstreamPool::take(uint32_t slot) { set(slot, held(slot) + 1); }

void UpstreamPool::release(uint32_t slot) {
  if (const size_t n = held(slot)) set(slot, n - 1);
}

void UpstreamPool::forget(uint32_t slot) { set(slot, 0); }

TcpVerdict tcp_verdict(const ClientLimits& limits, std::chrono::steady_clock::time_point now, size_t owed,
                       size_t in_flight, std::chrono::steady_clock::time_point last_read,
                       std::chrono::steady_clock::time_point last_written) {
  if (owed > 0) return now - last_written >= limits.tcp_stall ? TcpVerdict::stalled : TcpVerdict::keep;
  if (in_flight > 0) return TcpVerdict::keep;  // the upstream's deadline bounds this
  const auto last = std::max(last_read, last_written);
  return now - last >= limits.tcp_idle ? TcpVerdict::idle : TcpVerdict::keep;
}

}  // namespace agentd::dns
