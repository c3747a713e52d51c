// Names for what the route walls refuse (bpf/route_options.h,
// bpf/packet_path.bpf.h), as records and operators read them.
#include <fmt/format.h>

#include "agentd/events/denial_record.hpp"
#include "route_options.h"

namespace agentd::events {

std::string socket_option_name(uint32_t option_code) {
  const uint32_t level = option_code >> 16, optname = option_code & 0xffff;
  switch (level) {
    case AGENTD_SOL_SOCKET:
      switch (optname) {
        case AGENTD_SO_BINDTODEVICE:
          return "SO_BINDTODEVICE";
        case AGENTD_SO_BINDTOIFINDEX:
          return "SO_BINDTOIFINDEX";
      }
      break;
    case AGENTD_SOL_IP:
      switch (optname) {
        case AGENTD_IP_OPTIONS:
          return "IP_OPTIONS";
        case AGENTD_IP_FREEBIND:
          return "IP_FREEBIND";
        case AGENTD_IP_TRANSPARENT:
          return "IP_TRANSPARENT";
        case AGENTD_IP_UNICAST_IF:
          return "IP_UNICAST_IF";
        case AGENTD_IP_MULTICAST_IF:
          return "IP_MULTICAST_IF";
      }
      break;
    case AGENTD_SOL_IPV6:
      switch (optname) {
        case AGENTD_IPV6_ADDRFORM:
          return "IPV6_ADDRFORM";
        case AGENTD_IPV6_2292HOPOPTS:
          return "IPV6_2292HOPOPTS";
        case AGENTD_IPV6_2292DSTOPTS:
          return "IPV6_2292DSTOPTS";
        case AGENTD_IPV6_2292RTHDR:
          return "IPV6_2292RTHDR";
        case AGENTD_IPV6_2292PKTOPTIONS:
          return "IPV6_2292PKTOPTIONS";
        case AGENTD_IPV6_MULTICAST_IF:
          return "IPV6_MULTICAST_IF";
        case AGENTD_IPV6_PKTINFO:
          return "IPV6_PKTINFO";
        case AGENTD_IPV6_HOPOPTS:
          return "IPV6_HOPOPTS";
        case AGENTD_IPV6_RTHDRDSTOPTS:
          return "IPV6_RTHDRDSTOPTS";
        case AGENTD_IPV6_RTHDR:
          return "IPV6_RTHDR";
        case AGENTD_IPV6_DSTOPTS:
          return "IPV6_DSTOPTS";
        case AGENTD_IPV6_TRANSPARENT:
          return "IPV6_TRANSPARENT";
        case AGENTD_IPV6_UNICAST_IF:
          return "IPV6_UNICAST_IF";
        case AGENTD_IPV6_FREEBIND:
          return "IPV6_FREEBIND";
      }
      break;
  }
  return fmt::format("level{}_opt{}", level, optname);
}

std::string packet_header_name(uint32_t addr_family, uint32_t header) {
  if (addr_family == AGENTD_FAMILY_IPV6)
    return header == 43 ? "routing_header" : fmt::format("extension_header_{}", header);
  return fmt::format("ip_option_{}", header);
}

}  // namespace agentd::events
