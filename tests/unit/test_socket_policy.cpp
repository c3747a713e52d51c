// The socket allowlist the kernel hooks run (bpf/socket_policy.h), checked
// family by family from userspace: the same inline function.
#include <linux/netlink.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>

#include "socket_policy.h"

TEST_CASE("socket policy constants match the system headers") {
  STATIC_REQUIRE(AGENTD_AF_UNIX == AF_UNIX);
  STATIC_REQUIRE(AGENTD_AF_INET == AF_INET);
  STATIC_REQUIRE(AGENTD_AF_INET6 == AF_INET6);
  STATIC_REQUIRE(AGENTD_AF_NETLINK == AF_NETLINK);
  STATIC_REQUIRE(AGENTD_SOCK_STREAM == SOCK_STREAM);
  STATIC_REQUIRE(AGENTD_SOCK_DGRAM == SOCK_DGRAM);
  STATIC_REQUIRE(AGENTD_SOCK_RAW == SOCK_RAW);
  STATIC_REQUIRE(AGENTD_SOCK_SEQPACKET == SOCK_SEQPACKET);
  STATIC_REQUIRE(AGENTD_IPPROTO_TCP == IPPROTO_TCP);
  STATIC_REQUIRE(AGENTD_IPPROTO_UDP == IPPROTO_UDP);
  STATIC_REQUIRE(AGENTD_NETLINK_ROUTE == NETLINK_ROUTE);
}

TEST_CASE("socket policy permits what agents need and nothing that bypasses the hooks") {
  struct Case {
    int family, type, protocol;
    bool permitted;
  };
  const Case cases[] = {
      {AF_INET, SOCK_STREAM, 0, true},
      {AF_INET, SOCK_STREAM, IPPROTO_TCP, true},
      {AF_INET6, SOCK_DGRAM, 0, true},
      {AF_INET6, SOCK_DGRAM, IPPROTO_UDP, true},
      {AF_INET, SOCK_RAW, IPPROTO_ICMP, false},
      {AF_INET6, SOCK_RAW, IPPROTO_RAW, false},
      {AF_INET, SOCK_DGRAM, IPPROTO_ICMP, false},  // ping sockets skip the connect hook
      {AF_INET, SOCK_STREAM, IPPROTO_SCTP, false},
      {AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE, false},
      {AF_INET, SOCK_STREAM, 262 /* IPPROTO_MPTCP */, false},
      {AF_UNIX, SOCK_STREAM, 0, true},
      {AF_UNIX, SOCK_DGRAM, 0, true},
      {AF_UNIX, SOCK_SEQPACKET, 0, true},
      {AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, true},
      {AF_NETLINK, SOCK_DGRAM, NETLINK_ROUTE, true},
      {AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER, false},
      {AF_NETLINK, SOCK_RAW, NETLINK_AUDIT, false},
      {AF_PACKET, SOCK_RAW, 0, false},
      {AF_PACKET, SOCK_DGRAM, 0, false},
      {AF_VSOCK, SOCK_STREAM, 0, false},
      {AF_BLUETOOTH, SOCK_STREAM, 0, false},
      {AF_XDP, SOCK_RAW, 0, false},
  };
  for (const auto& c : cases) {
    INFO("family " << c.family << " type " << c.type << " protocol " << c.protocol);
    CHECK(static_cast<bool>(agentd_socket_permitted(c.family, c.type, c.protocol)) == c.permitted);
  }
}
