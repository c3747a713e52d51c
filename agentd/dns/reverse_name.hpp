// Reverse lookups (PTR) of addresses: "10.100.51.198.in-addr.arpa" and the
// nibble form under ip6.arpa. Pure.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace agentd::dns {

struct ReverseAddress {
  uint32_t family = 0;             // AGENTD_FAMILY_IPV4 or AGENTD_FAMILY_IPV6
  std::array<uint8_t, 16> addr{};  // IPv4 in the first four bytes
};

// Whether `name` is under in-addr.arpa or ip6.arpa at all (any depth).
bool is_reverse_name(std::string_view name);
// The one address a reverse name stands for; nullopt for a partial or
// malformed one (a zone, a delegation, anything not exactly 4 octets or
// 32 nibbles). Case does not matter; a trailing dot is allowed.
std::optional<ReverseAddress> reverse_address(std::string_view name);

}  // namespace agentd::dns
