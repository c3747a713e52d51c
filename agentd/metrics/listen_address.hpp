// Where the metrics endpoint listens (--metrics-listen): a loopback
// address and port, or a unix socket. Metrics name every tenant's agents:
// they stay on the host unless an operator puts a proxy of their own in
// front. Pure: text in, a checked address or the reason out.
#pragma once

#include <sys/socket.h>

#include <string>
#include <string_view>

#include "agentd/common/result.hpp"

namespace agentd::metrics {

struct ListenAddress {
  // IPv4/IPv6 loopback: the address and its length; or a unix path.
  sockaddr_storage address{};
  socklen_t length = 0;
  std::string unix_path;  // non-empty: a unix socket
  std::string text;       // as given, for logs
};

// "127.0.0.1:9464", "[::1]:9464", "localhost:9464" (127.0.0.1),
// "unix:/run/agentd/metrics.sock". Refused: any other address (with why),
// a port that is not 1-65535, a relative or overlong unix path.
Result<ListenAddress> parse_listen_address(std::string_view text);

}  // namespace agentd::metrics
