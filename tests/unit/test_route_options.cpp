// The socket options the setsockopt hook refuses (bpf/route_options.h),
// checked from userspace: the same inline function, against the system
// headers' values, and the names records give them.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>

#include "agentd/events/denial_record.hpp"
#include "route_options.h"

TEST_CASE("route option constants match the system headers") {
  STATIC_REQUIRE(AGENTD_SOL_IP == SOL_IP);
  STATIC_REQUIRE(AGENTD_SOL_SOCKET == SOL_SOCKET);
  STATIC_REQUIRE(AGENTD_SOL_IPV6 == SOL_IPV6);
  STATIC_REQUIRE(AGENTD_SO_BINDTODEVICE == SO_BINDTODEVICE);
  STATIC_REQUIRE(AGENTD_SO_BINDTOIFINDEX == SO_BINDTOIFINDEX);
  STATIC_REQUIRE(AGENTD_IP_OPTIONS == IP_OPTIONS);
  STATIC_REQUIRE(AGENTD_IP_FREEBIND == IP_FREEBIND);
  STATIC_REQUIRE(AGENTD_IP_TRANSPARENT == IP_TRANSPARENT);
  STATIC_REQUIRE(AGENTD_IP_UNICAST_IF == IP_UNICAST_IF);
  STATIC_REQUIRE(AGENTD_IPV6_ADDRFORM == IPV6_ADDRFORM);
  STATIC_REQUIRE(AGENTD_IPV6_2292HOPOPTS == IPV6_2292HOPOPTS);
  STATIC_REQUIRE(AGENTD_IPV6_2292DSTOPTS == IPV6_2292DSTOPTS);
  STATIC_REQUIRE(AGENTD_IPV6_2292RTHDR == IPV6_2292RTHDR);
  STATIC_REQUIRE(AGENTD_IPV6_2292PKTOPTIONS == IPV6_2292PKTOPTIONS);
  STATIC_REQUIRE(AGENTD_IPV6_HOPOPTS == IPV6_HOPOPTS);
  STATIC_REQUIRE(AGENTD_IPV6_RTHDRDSTOPTS == IPV6_RTHDRDSTOPTS);
  STATIC_REQUIRE(AGENTD_IPV6_RTHDR == IPV6_RTHDR);
  STATIC_REQUIRE(AGENTD_IPV6_DSTOPTS == IPV6_DSTOPTS);
  STATIC_REQUIRE(AGENTD_IPV6_TRANSPARENT == IPV6_TRANSPARENT);
  STATIC_REQUIRE(AGENTD_IPV6_UNICAST_IF == IPV6_UNICAST_IF);
  STATIC_REQUIRE(AGENTD_IPV6_FREEBIND == IPV6_FREEBIND);
  STATIC_REQUIRE(AGENTD_IP_MULTICAST_IF == IP_MULTICAST_IF);
  STATIC_REQUIRE(AGENTD_IPV6_MULTICAST_IF == IPV6_MULTICAST_IF);
  STATIC_REQUIRE(AGENTD_IPV6_PKTINFO == IPV6_PKTINFO);
}

TEST_CASE("options that reroute or respoof are refused, with their names in records") {
  const std::pair<int, int> refused[] = {
      {SOL_IPV6, IPV6_RTHDR},    {SOL_IPV6, IPV6_2292RTHDR},   {SOL_IPV6, IPV6_2292PKTOPTIONS},
      {SOL_IPV6, IPV6_FREEBIND}, {SOL_IPV6, IPV6_TRANSPARENT}, {SOL_IP, IP_OPTIONS},
      {SOL_IP, IP_FREEBIND},     {SOL_IP, IP_TRANSPARENT},     {SOL_SOCKET, SO_BINDTODEVICE},
      {SOL_IPV6, IPV6_HOPOPTS},  {SOL_IPV6, IPV6_DSTOPTS},     {SOL_IP, IP_UNICAST_IF},
      {SOL_IPV6, IPV6_PKTINFO},  {SOL_IP, IP_MULTICAST_IF},    {SOL_IPV6, IPV6_MULTICAST_IF},
      {SOL_IPV6, IPV6_ADDRFORM},
  };
  for (const auto& [level, name] : refused) {
    INFO(level << "/" << name);
    CHECK(agentd_option_reroutes(level, name));
    CHECK(agentd::events::socket_option_name(AGENTD_OPTION_CODE(level, name)).find("level") == std::string::npos);
  }
  CHECK(agentd::events::socket_option_name(AGENTD_OPTION_CODE(SOL_IPV6, IPV6_RTHDR)) == "IPV6_RTHDR");
  CHECK(agentd::events::socket_option_name(AGENTD_OPTION_CODE(SOL_IP, IP_OPTIONS)) == "IP_OPTIONS");
}

TEST_CASE("what ordinary programs set stays allowed") {
  const std::pair<int, int> allowed[] = {
      {SOL_SOCKET, SO_REUSEADDR},
      {SOL_SOCKET, SO_REUSEPORT},
      {SOL_SOCKET, SO_KEEPALIVE},
      {SOL_SOCKET, SO_RCVBUF},
      {SOL_SOCKET, SO_SNDBUF},
      {SOL_IPV6, IPV6_V6ONLY},
      {SOL_IPV6, IPV6_RECVPKTINFO},
      {SOL_IP, IP_PKTINFO},
      {SOL_IP, IP_TOS},
      {SOL_IP, IP_RECVERR},
      {SOL_IPV6, IPV6_RECVERR},
      {IPPROTO_TCP, TCP_NODELAY},
      {IPPROTO_TCP, TCP_FASTOPEN},
      {IPPROTO_TCP, TCP_FASTOPEN_CONNECT},
      {SOL_IP, IP_MTU_DISCOVER},
      {SOL_IPV6, IPV6_MTU_DISCOVER},
      {SOL_IP, IP_BIND_ADDRESS_NO_PORT},
  };
  for (const auto& [level, name] : allowed) {
    INFO(level << "/" << name);
    CHECK_FALSE(agentd_option_reroutes(level, name));
  }
}

TEST_CASE("records name what the packet wall found") {
  CHECK(agentd::events::packet_header_name(AGENTD_FAMILY_IPV6, 43) == "routing_header");
  CHECK(agentd::events::packet_header_name(AGENTD_FAMILY_IPV4, 131) == "ip_option_131");
}
