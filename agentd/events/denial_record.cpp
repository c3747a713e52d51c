#include "agentd/events/denial_record.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <charconv>
#include <cstring>

#include <fmt/format.h>

#include "agentd/common/safe_text.hpp"

namespace agentd::events {

std::string family_name(uint32_t af) {
  switch (af) {
    case AF_UNIX:
      return "unix";
    case AF_INET:
      return "inet";
    case AF_INET6:
      return "inet6";
    case AF_NETLINK:
      return "netlink";
    case AF_PACKET:
      return "packet";
    case AF_VSOCK:
      return "vsock";
    case AF_BLUETOOTH:
      return "bluetooth";
    case AF_XDP:
      return "xdp";
    default:
      return fmt::format("af{}", af);
  }
}

std::string socket_type_name(uint32_t type) {
  switch (type) {
    case SOCK_STREAM:
      return "stream";
    case SOCK_DGRAM:
      return "dgram";
    case SOCK_RAW:
      return "raw";
    case SOCK_SEQPACKET:
      return "seqpacket";
    case SOCK_RDM:
      return "rdm";
    default:
      return fmt::format("type{}", type);
  }
}

std::string protocol_name(uint8_t protocol) {
  switch (protocol) {
    case IPPROTO_TCP:
      return "tcp";
    case IPPROTO_UDP:
      return "udp";
    case IPPROTO_ICMP:
      return "icmp";
    case IPPROTO_ICMPV6:
      return "icmpv6";
    default:
      return fmt::format("{}", protocol);
  }
}

std::optional<uint8_t> parse_protocol_name(std::string_view text) {
  constexpr uint8_t kNamed[] = {IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6};
  for (const uint8_t named : kNamed)
    if (text == protocol_name(named)) return named;
  unsigned number = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || number > 0xff ||
      text != protocol_name(static_cast<uint8_t>(number)))
    return std::nullopt;
  return static_cast<uint8_t>(number);
}

std::string address_text(const agentd_deny_event& event) {
  char text[INET6_ADDRSTRLEN] = {};
  if (event.addr_family == AGENTD_FAMILY_IPV4) {
    inet_ntop(AF_INET, event.addr, text, sizeof(text));
  } else if (event.addr_family == AGENTD_FAMILY_IPV6) {
    inet_ntop(AF_INET6, event.addr, text, sizeof(text));
  }
  return text;
}

std::string unreversed_name(std::string_view reversed) {
  return safe_text(std::string(reversed.rbegin(), reversed.rend()));
}

Denial denial_of(const agentd_deny_event& event, const DenialContext& context) {
  Denial d;
  // The ABI's codes are the enums' values; one this build does not name
  // is kept as its code (see denial_reason.hpp).
  d.hook = static_cast<DenialHook>(event.hook);
  d.reason = static_cast<DenialReason>(event.reason);
  d.time = record_time(context.time);
  d.sandbox = context.sandbox;
  // The process name is whatever the sandbox set (PR_SET_NAME): bytes,
  // up to the first NUL, made valid UTF-8 before any view sees them.
  const auto* comm_bytes = reinterpret_cast<const char*>(event.comm);
  d.process = DenialProcess{event.pid,
                            event.tgid,
                            event.uid,
                            event.gid,
                            safe_text(std::string_view(comm_bytes, strnlen(comm_bytes, sizeof(event.comm)))),
                            event.cgroup_id};
  d.family = family_name(event.family);
  if (event.hook == AGENTD_HOOK_SOCK_CREATE) {
    d.socket = DenialSocket{socket_type_name(event.sock_type), event.protocol, ""};
  } else if (event.hook == AGENTD_HOOK_SETSOCKOPT) {
    d.socket = DenialSocket{socket_type_name(event.sock_type), event.protocol, socket_option_name(event.option)};
  } else {
    // Inbound (packet_ingress): the peer that tried to connect or send
    // in, and the sandbox's port.
    d.destination = DenialDestination{address_text(event), event.port, protocol_name(event.protocol)};
  }
  if (event.hook == AGENTD_HOOK_SKB_EGRESS) d.header = packet_header_name(event.addr_family, event.option);
  d.suppressed_before = event.suppressed;
  d.held_before = event.held_before;
  if (context.rule) d.rule = safe_text(*context.rule);
  if (context.host) d.host = safe_text(*context.host);
  if (context.name) d.name = safe_text(*context.name);
  return d;
}

}  // namespace agentd::events
