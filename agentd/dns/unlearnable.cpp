#include "agentd/dns/unlearnable.hpp"

#include <utility>

#include "agentd/dns/rebinding.hpp"

namespace agentd::dns {
namespace {

struct Kind {
  policy::Cidr range;
  std::string_view what;
};

// First match wins: 255.255.255.255 says "limited broadcast", not the
// reserved 240/4 it also falls in.
const std::vector<Kind>& kinds() {
  static const std::vector<Kind> table = [] {
    const std::pair<const char*, std::string_view> items[] = {
        {"255.255.255.255/32", "limited broadcast"},
        {"0.0.0.0/8", "this network (0/8)"},
        {"127.0.0.0/8", "loopback"},
        {"169.254.0.0/16", "link-local"},
        {"224.0.0.0/4", "multicast"},
        {"240.0.0.0/4", "reserved (240/4)"},
        {"::/128", "unspecified"},
        {"::1/128", "loopback"},
        {"fe80::/10", "link-local"},
        {"ff00::/8", "multicast"},
    };
    std::vector<Kind> parsed;
    for (const auto& [text, what] : items) parsed.push_back(Kind{*policy::parse_cidr(text), what});
    // By hand: parse_cidr reads ::ffff:0:0/96 as the IPv4 0.0.0.0/0.
    policy::Cidr mapped;
    mapped.family = AGENTD_FAMILY_IPV6;
    mapped.addr[10] = mapped.addr[11] = 0xff;
    mapped.prefix = 96;
    parsed.push_back(Kind{mapped, "IPv4-mapped"});
    return parsed;
  }();
  return table;
}

}  // namespace

std::string_view unlearnable_kind(const LearnedAddress& address, const std::vector<policy::Cidr>& broadcasts) {
  const policy::Cidr host = as_host_cidr(address);
  for (const auto& kind : kinds())
    if (kind.range.contains(host)) return kind.what;
  for (const auto& b : broadcasts)
    if (b.contains(host)) return "a broadcast address of this host";
  return {};
}

}  // namespace agentd::dns
