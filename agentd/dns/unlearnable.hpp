// Addresses no DNS answer may teach, whatever the protected ranges or a
// CIDR rule say: learning 255.255.255.255 for an allowed name would let a
// sandbox broadcast to the whole segment, 224.0.0.1 reach every host on
// it, 0.0.0.0 or ::1 reach the host itself. None of them is a destination
// a name should stand for. NAT64 (64:ff9b::/96) stays learnable: IPv6-only
// hosts reach IPv4 sites through it.
#pragma once

#include <string_view>
#include <vector>

#include "agentd/dns/message.hpp"
#include "agentd/policy/model.hpp"

namespace agentd::dns {

// What the address is ("limited broadcast", "multicast", ...) when it may
// never be learned, or an empty view. `broadcasts` are the directed
// broadcast addresses of this host's interfaces (host_broadcasts(),
// rebinding.hpp).
std::string_view unlearnable_kind(const LearnedAddress& address, const std::vector<policy::Cidr>& broadcasts = {});

}  // namespace agentd::dns
