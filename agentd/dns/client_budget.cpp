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

TcpVerdict tcp_verdict(const ClientLimits& limits, std::chrono::steady_clock::time_point now, size_t owed,
                       size_t in_flight, std::chrono::steady_clock::time_point last_read,
                       std::chrono::steady_clock::time_point last_written) {
  if (owed > 0) return now - last_written >= limits.tcp_stall ? TcpVerdict::stalled : TcpVerdict::keep;
  if (in_flight > 0) return TcpVerdict::keep;  // the upstream's deadline bounds this
  const auto last = std::max(last_read, last_written);
  return now - last >= limits.tcp_idle ? TcpVerdict::idle : TcpVerdict::keep;
}

}  // namespace agentd::dns
