// A kernel denial record (the ring's agentd_deny_event) as a typed Denial,
// and the names its codes read as. Pure: the daemon supplies what it
// knows of the sandbox and the rule.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "agentd/events/denial.hpp"
#include "agentd_abi.h"

namespace agentd::events {

struct DenialContext {
  std::optional<std::string> sandbox;  // tenant/team/agent, when known
  std::optional<std::string> rule;     // the deny rule that decided, when one did
  std::optional<std::string> host;     // the name the address was learned from through DNS
  std::optional<std::string> name;     // a name check's: the name the connection's first bytes carried
  std::chrono::system_clock::time_point time;
};

std::string family_name(uint32_t af);
std::string socket_type_name(uint32_t type);
// "tcp", "udp", "icmp", "icmpv6", else the number ("47").
std::string protocol_name(uint8_t protocol);
// The inverse of protocol_name; nullopt for other text.
std::optional<uint8_t> parse_protocol_name(std::string_view text);
// A setsockopt record's option ("IPV6_RTHDR"), from AGENTD_OPTION_CODE.
std::string socket_option_name(uint32_t option_code);
// What the packet wall found: "routing_header" (IPv6) or "ip_option_131"
// (IPv4, the first option's type: 131 is a loose source route).
std::string packet_header_name(uint32_t addr_family, uint32_t header);
// The destination address as text ("198.51.100.7", "2001:db8::1").
std::string address_text(const agentd_deny_event& event);
// A name check's name as the kernel records it (reversed, as the names
// trie holds it) in reading order; bytes outside host names are escaped.
std::string unreversed_name(std::string_view reversed);
// The kernel's record as a Denial: built once, here, for every view.
Denial denial_of(const agentd_deny_event& event, const DenialContext& context);

}  // namespace agentd::events
