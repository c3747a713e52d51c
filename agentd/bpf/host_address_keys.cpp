#include "agentd/bpf/host_address_keys.hpp"

#include <algorithm>
#include <cstring>

namespace agentd::bpf {

std::vector<agentd_hostaddr_key> host_address_keys(uint64_t netns_cookie, const std::vector<policy::Cidr>& addresses) {
  auto key = [&](uint32_t family, const std::array<uint8_t, 16>& addr) {
    agentd_hostaddr_key k{};
    k.netns_cookie = netns_cookie;
    k.family = family;
    std::memcpy(k.addr, addr.data(), sizeof(k.addr));
    return k;
  };
  std::vector<agentd_hostaddr_key> keys = {key(0, {}), key(AGENTD_FAMILY_IPV4, {}), key(AGENTD_FAMILY_IPV6, {})};
  for (const auto& a : addresses) {
    if (a.family != AGENTD_FAMILY_IPV4 && a.family != AGENTD_FAMILY_IPV6) continue;
    std::array<uint8_t, 16> addr = a.addr;
    if (a.family == AGENTD_FAMILY_IPV4) std::fill(addr.begin() + 4, addr.end(), 0);
    keys.push_back(key(a.family, addr));
  }
  std::sort(keys.begin(), keys.end(), HostAddressKeyLess{});
  keys.erase(std::unique(keys.begin(), keys.end(),
                         [](const auto& x, const auto& y) { return std::memcmp(&x, &y, sizeof(x)) == 0; }),
             keys.end());
  return keys;
}

bool HostAddressKeyLess::operator()(const agentd_hostaddr_key& a, const agentd_hostaddr_key& b) const {
  return std::memcmp(&a, &b, sizeof(a)) < 0;
}

}  // namespace agentd::bpf
