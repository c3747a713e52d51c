#include "agentd/dns/proxy_sockets.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>

#include <thread>

#include <fmt/format.h>

#include "agentd_abi.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

namespace agentd::dns {

Status set_int_option(int fd, int level, int name, int value, const char* what) {
  if (::setsockopt(fd, level, name, &value, sizeof(value)) != 0) return system_error("setting {}", what);
  return ok_status();
}

Result<UniqueFd> bound_socket(int family, int type, const sockaddr* addr, socklen_t len, const std::string& where,
                              bool shared_port) {
  UniqueFd fd(::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return system_error("creating the DNS proxy socket");
  // TCP only: a restart must not wait out TIME_WAIT. Never for UDP, where
  // SO_REUSEADDR would let another socket bind beside the proxy and take
  // its queries.
  if (type == SOCK_STREAM)
    if (auto st = set_int_option(fd.get(), SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR"); !st) return st.error();
  // The IPv4 sockets, UDP and TCP: the wildcard ones and each sandbox's own
  // 127.64.<slot> ones share the port (a listener on a wildcard address
  // keeps any other from the port, SO_REUSEADDR or not). SO_REUSEPORT,
  // unlike SO_REUSEADDR, lets only sockets of the same uid (root's,
  // agentd's) bind beside them; the hooks keep sandboxes off the port
  // whatever their uid. Sockets on different addresses form no group: the
  // kernel hands each sandbox's queries and connects to its own socket.
  if (shared_port)
    if (auto st = set_int_option(fd.get(), SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT"); !st) return st.error();
  if (family == AF_INET6)
    if (auto st = set_int_option(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, 1, "IPV6_V6ONLY"); !st) return st.error();
  if (family == AF_INET && type == SOCK_DGRAM)
    if (auto st = set_int_option(fd.get(), IPPROTO_IP, IP_PKTINFO, 1, "IP_PKTINFO"); !st) return st.error();
  const char* transport = type == SOCK_DGRAM ? "udp" : "tcp";
  if (::bind(fd.get(), addr, len) != 0) return system_error("binding the DNS proxy to {} ({})", where, transport);
  // A sandbox's burst of connects waits in the backlog until agentd takes
  // each and refuses what is past the sandbox's cap. Past a full backlog
  // the kernel drops the handshake's last ACK and the client sits in
  // SYN-ACK backoff (up to a minute), still holding a connection agentd
  // never saw; 1,024 (of somaxconn's 4,096) takes such a burst whole.
  // Each sandbox has a listener of its own, except one whose own address
  // failed to bind (logged), which shares the wildcard listener.
  constexpr int kBacklog = 1024;
  if (type == SOCK_STREAM && ::listen(fd.get(), kBacklog) != 0) return system_error("listening on {}", where);
  return fd;
}

Result<UniqueFd> listen_socket(int type, uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  return bound_socket(AF_INET, type, reinterpret_cast<sockaddr*>(&addr), sizeof(addr), fmt::format("port {}", port),
                      true);
}

Result<UniqueFd> slot_socket(uint32_t slot, uint16_t port, int type, bool shared_port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(AGENTD_DNS_NET | slot);
  return bound_socket(AF_INET, type, reinterpret_cast<sockaddr*>(&addr), sizeof(addr),
                      fmt::format("127.64.{}.{}:{}", slot >> 8, slot & 0xff, port), shared_port);
}

Result<UniqueFd> listen_socket6(int type, uint16_t port) {
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_port = htons(port);
  addr.sin6_addr = in6addr_loopback;
  return bound_socket(AF_INET6, type, reinterpret_cast<sockaddr*>(&addr), sizeof(addr), fmt::format("[::1]:{}", port));
}

Result<uint64_t> netns_cookie(int fd) {
  uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  if (::getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) != 0)
    return system_error("reading the network namespace cookie (SO_NETNS_COOKIE, Linux 5.14)");
  return cookie;
}

Result<NetnsSockets> open_in_netns(int netns_fd, uint32_t slot, uint16_t port, uint16_t port6) {
  Result<NetnsSockets> result = make_error("not opened");
  std::thread opener([&] {
    if (::setns(netns_fd, CLONE_NEWNET) != 0) {
      result = system_error("entering the network namespace");
      return;
    }
    NetnsSockets sockets;
    // No SO_REUSEPORT here: nothing of agentd's shares the port in this
    // namespace, and a root process there must not bind beside it.
    auto udp = slot_socket(slot, port, SOCK_DGRAM, false);
    if (!udp) return void(result = udp.error());
    auto tcp = slot_socket(slot, port, SOCK_STREAM, false);
    if (!tcp) return void(result = tcp.error());
    auto cookie = netns_cookie(udp->get());
    if (!cookie) return void(result = cookie.error());
    sockets.udp4 = std::move(*udp);
    sockets.tcp4 = std::move(*tcp);
    sockets.cookie = *cookie;
    if (port6) {
      auto udp6 = listen_socket6(SOCK_DGRAM, port6);
      auto tcp6 = udp6 ? listen_socket6(SOCK_STREAM, port6) : Result<UniqueFd>(udp6.error());
      if (udp6 && tcp6) {
        sockets.udp6 = std::move(*udp6);
        sockets.tcp6 = std::move(*tcp6);
      } else {
        sockets.ipv6_error = (udp6 ? tcp6.error() : udp6.error()).describe();
      }
    }
    result = std::move(sockets);
  });
  opener.join();
  return result;
}

}  // namespace agentd::dns
