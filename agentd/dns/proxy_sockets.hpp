// The DNS proxy's listening sockets: the shared ones in agentd's network
// namespace, each sandbox's own, and those agentd opens inside another
// namespace (a container's) for the sandboxes that query from there.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "agentd/common/result.hpp"
#include "agentd/common/unique_fd.hpp"

namespace agentd::dns {

Status set_int_option(int fd, int level, int name, int value, const char* what);

// Non-blocking, bound (and listening, for TCP). shared_port: SO_REUSEPORT,
// for the IPv4 sockets that share the proxy's port (the wildcard ones and
// each sandbox's own).
Result<UniqueFd> bound_socket(int family, int type, const sockaddr* addr, socklen_t len, const std::string& where,
                              bool shared_port = false);
// 0.0.0.0:<port>: every 127.64.x.y is local through the loopback route,
// and only a wildcard bind receives them all.
Result<UniqueFd> listen_socket(int type, uint16_t port);
// A sandbox's own socket (UDP, or a TCP listener) at 127.64.<slot>:<port>;
// shared_port: beside the wildcard ones (agentd's own namespace only).
Result<UniqueFd> slot_socket(uint32_t slot, uint16_t port, int type = SOCK_DGRAM, bool shared_port = true);
// [::1]:<port>.
Result<UniqueFd> listen_socket6(int type, uint16_t port);

// The cookie of the network namespace a socket lives in (SO_NETNS_COOKIE),
// as the BPF hooks see it (bpf_get_netns_cookie).
Result<uint64_t> netns_cookie(int fd);

struct NetnsSockets {
  UniqueFd udp4, tcp4;  // 127.64.<slot>:<port>
  UniqueFd udp6, tcp6;  // [::1]:<port6>; closed where the namespace has no IPv6 (ipv6_error says why)
  std::string ipv6_error;
  uint64_t cookie = 0;
};

// A sandbox's sockets inside the network namespace `netns_fd`. Opened on
// a thread of its own: setns changes only the calling thread's namespace,
// and agentd's loop stays in its own. A socket keeps the namespace it was
// made in, whatever thread reads it later.
Result<NetnsSockets> open_in_netns(int netns_fd, uint32_t slot, uint16_t port, uint16_t port6);

}  // namespace agentd::dns
