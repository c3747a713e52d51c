#include "agentd/dns/rebinding.hpp"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <cstring>
#include <memory>

namespace agentd::dns {

policy::Cidr as_host_cidr(const LearnedAddress& address) {
  policy::Cidr cidr;
  cidr.family = address.family;
  cidr.addr = address.addr;
  cidr.prefix = cidr.max_prefix();
  return cidr;
}

ProtectedRanges ProtectedRanges::defaults() {
  auto parsed = parse(
      "0.0.0.0/8,127.0.0.0/8,169.254.0.0/16,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,224.0.0.0/4,"
      "::/128,::1/128,fc00::/7,fe80::/10,ff00::/8");
  return *parsed;
}

Result<ProtectedRanges> ProtectedRanges::parse(const std::string& comma_separated) {
  ProtectedRanges set;
  size_t start = 0;
  while (start <= comma_separated.size()) {
    size_t comma = comma_separated.find(',', start);
    std::string item = comma_separated.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) {
      auto cidr = policy::parse_cidr(item);
      if (!cidr) return make_error("protected range \"{}\": {}", item, cidr.error().describe());
      set.ranges_.push_back(*cidr);
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return set;
}

std::string ProtectedRanges::covering(const LearnedAddress& address,
                                      const std::vector<policy::Cidr>& host_addresses) const {
  const policy::Cidr host = as_host_cidr(address);
  for (const auto& range : ranges_)
    if (range.contains(host)) return range.str();
  for (const auto& own : host_addresses)
    if (own.contains(host)) return "this host's address " + own.str();
  return {};
}

std::string ProtectedRanges::str() const {
  std::string text;
  for (const auto& r : ranges_) text += (text.empty() ? "" : ",") + r.str();
  return text;
}

namespace {

// The interfaces' own addresses, or (broadcast) their IPv4 broadcast
// addresses, as host CIDRs.
std::vector<policy::Cidr> interface_addresses(bool broadcast) {
  std::vector<policy::Cidr> result;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return result;
  std::unique_ptr<ifaddrs, decltype(&::freeifaddrs)> owner(list, ::freeifaddrs);
  for (ifaddrs* a = list; a; a = a->ifa_next) {
    const sockaddr* addr = broadcast ? ((a->ifa_flags & IFF_BROADCAST) ? a->ifa_broadaddr : nullptr) : a->ifa_addr;
    if (!addr) continue;
    policy::Cidr cidr;
    if (addr->sa_family == AF_INET) {
      cidr.family = AGENTD_FAMILY_IPV4;
      std::memcpy(cidr.addr.data(), &reinterpret_cast<const sockaddr_in*>(addr)->sin_addr, 4);
    } else if (addr->sa_family == AF_INET6 && !broadcast) {
      cidr.family = AGENTD_FAMILY_IPV6;
      std::memcpy(cidr.addr.data(), &reinterpret_cast<const sockaddr_in6*>(addr)->sin6_addr, 16);
    } else {
      continue;
    }
    cidr.prefix = cidr.max_prefix();
    result.push_back(cidr);
  }
  return result;
}

}  // namespace

std::vector<policy::Cidr> host_addresses() { return interface_addresses(false); }

std::vector<policy::Cidr> host_broadcasts() { return interface_addresses(true); }

bool cidr_rule_allows(const policy::CompiledClass& compiled, const LearnedAddress& address) {
  // The longest covering entry carries every range that applies there.
  const policy::Cidr host = as_host_cidr(address);
  const policy::CompiledEntry* best = nullptr;
  for (const auto& entry : compiled.entries) {
    policy::Cidr prefix;
    prefix.family = entry.family;
    prefix.addr = entry.addr;
    prefix.prefix = entry.prefix;
    if (prefix.contains(host) && (!best || entry.prefix > best->prefix)) best = &entry;
  }
  if (!best) return false;
  for (uint32_t i = 0; i < best->value.count && i < AGENTD_MAX_PORT_RANGES; ++i) {
    const uint8_t action = best->value.ranges[i].action;
    if (action == AGENTD_ACTION_ALLOW || action == AGENTD_ACTION_INFERENCE) return true;
  }
  return false;
}

}  // namespace agentd::dns
