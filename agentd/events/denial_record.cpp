#include "agentd/events/denial_record.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cstring>

#include <fmt/format.h>

#include "agentd/common/safe_text.hpp"

namespace agentd::events {

std::string hook_name(uint8_t hook) {
  switch (hook) {
    case AGENTD_HOOK_CONNECT4:
      return "connect4";
    case AGENTD_HOOK_CONNECT6:
      return "connect6";
    case AGENTD_HOOK_SENDMSG4:
      return "sendmsg4";
    case AGENTD_HOOK_SENDMSG6:
      return "sendmsg6";
    case AGENTD_HOOK_SOCK_CREATE:
      return "sock_create";
    case AGENTD_HOOK_BIND4:
      return "bind4";
    case AGENTD_HOOK_BIND6:
      return "bind6";
    case AGENTD_HOOK_SETSOCKOPT:
      return "setsockopt";
    case AGENTD_HOOK_SKB_EGRESS:
      return "packet_egress";
    case AGENTD_HOOK_SKB_INGRESS:
      return "packet_ingress";
    case AGENTD_HOOK_NAME_CHECK:
      return "name_check";
    default:
      return fmt::format("hook{}", hook);
  }
}

std::string reason_name(uint8_t reason) {
  switch (reason) {
    case AGENTD_REASON_NO_RULE:
      return "no_rule";
    case AGENTD_REASON_DENY_RULE:
      return "deny_rule";
    case AGENTD_REASON_UNKNOWN_CGROUP:
      return "unknown_cgroup";
    case AGENTD_REASON_SOCKET_TYPE:
      return "socket_type";
    case AGENTD_REASON_DNS_EXPIRED:
      return "dns_expired";
    case AGENTD_REASON_DNS_UNSUPPORTED:
      return "dns_unsupported";
    case AGENTD_REASON_PROXY_SPOOF:
      return "proxy_spoof";
    case AGENTD_REASON_ROUTE_OPTION:
      return "route_option";
    case AGENTD_REASON_ROUTE_HEADER:
      return "route_header";
    case AGENTD_REASON_NAME_NOT_ALLOWED:
      return "name_not_allowed";
    case AGENTD_REASON_NAME_DENIED:
      return "name_denied";
    case AGENTD_REASON_NO_NAME:
      return "no_name";
    case AGENTD_REASON_ECH:
      return "ech";
    case AGENTD_REASON_UNPARSABLE:
      return "unparsable";
    case AGENTD_REASON_NAMELESS:
      return "nameless";
    case AGENTD_REASON_UNVERIFIED_DATA:
      return "unverified_data";
    case AGENTD_REASON_QUIC:
      return "quic";
    case AGENTD_REASON_DNS_NETNS:
      return "dns_netns";
    case AGENTD_REASON_HOST_ADDRESS:
      return "host_address";
    case AGENTD_REASON_FOREIGN_SOURCE:
      return "foreign_source";
    default:
      return fmt::format("reason{}", reason);
  }
}

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

nlohmann::json denial_to_json(const agentd_deny_event& event, const DenialContext& context) {
  // The process name is whatever the sandbox set (PR_SET_NAME): bytes,
  // up to the first NUL, made valid UTF-8 before JSON sees them.
  const auto* comm_bytes = reinterpret_cast<const char*>(event.comm);
  const std::string comm = safe_text(std::string_view(comm_bytes, strnlen(comm_bytes, sizeof(event.comm))));
  nlohmann::json record = {
      {"type", "deny"},
      {"time", format_time(context.time)},
      {"sandbox", context.sandbox ? nlohmann::json(*context.sandbox) : nlohmann::json(nullptr)},
      {"pid", event.pid},
      {"tgid", event.tgid},
      {"uid", event.uid},
      {"gid", event.gid},
      {"comm", comm},
      {"cgroup_id", event.cgroup_id},
      {"hook", hook_name(event.hook)},
      {"family", family_name(event.family)},
      {"reason", reason_name(event.reason)},
  };
  if (event.hook == AGENTD_HOOK_SOCK_CREATE) {
    record["sock_type"] = socket_type_name(event.sock_type);
    record["protocol"] = event.protocol;
  } else if (event.hook == AGENTD_HOOK_SETSOCKOPT) {
    record["sock_type"] = socket_type_name(event.sock_type);
    record["protocol"] = protocol_name(event.protocol);
    record["option"] = socket_option_name(event.option);
  } else if (event.hook == AGENTD_HOOK_SKB_INGRESS) {
    // Inbound: the peer that tried to connect or send in, the sandbox's port.
    record["direction"] = "inbound";
    record["source"] = address_text(event);
    record["port"] = event.port;
    record["protocol"] = protocol_name(event.protocol);
  } else {
    record["dest"] = address_text(event);
    record["port"] = event.port;
    record["protocol"] = protocol_name(event.protocol);
  }
  if (event.hook == AGENTD_HOOK_SKB_EGRESS) record["header"] = packet_header_name(event.addr_family, event.option);
  // Identical denials the kernel's rate limit held back before this one.
  if (event.suppressed) record["suppressed_before"] = event.suppressed;
  // Other denials of this sandbox (any destination) that its record budget
  // held back since its previous record.
  if (event.held_before) record["held_before"] = event.held_before;
  if (context.rule) record["rule"] = safe_text(*context.rule);
  if (context.host) record["host"] = safe_text(*context.host);
  if (context.name) record["name"] = safe_text(*context.name);
  return record;
}

}  // namespace agentd::events
