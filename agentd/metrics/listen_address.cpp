#include "agentd/metrics/listen_address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <charconv>

#include "agentd/common/safe_text.hpp"

namespace agentd::metrics {

namespace {

Result<uint16_t> parse_port(std::string_view port, std::string_view whole) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535)
    return make_error("--metrics-listen {}: the port \"{}\" is not 1-65535", terminal_text(whole), terminal_text(port));
  return static_cast<uint16_t>(value);
}

}  // namespace

Result<ListenAddress> parse_listen_address(std::string_view text) {
  ListenAddress out;
  out.text = std::string(text);
  if (text.rfind("unix:", 0) == 0) {
    const std::string_view path = text.substr(5);
    if (path.empty() || path.front() != '/')
      return make_error("--metrics-listen {}: a unix socket needs an absolute path (unix:/run/agentd/metrics.sock)",
                        terminal_text(text));
    if (path.size() >= sizeof(sockaddr_un::sun_path))
      return make_error("--metrics-listen {}: the path is longer than a unix socket takes ({} bytes)",
                        terminal_text(text), sizeof(sockaddr_un::sun_path) - 1);
    out.unix_path = std::string(path);
    return out;
  }
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return make_error("--metrics-listen {}: write an IPv6 address as [::1]:PORT", terminal_text(text));
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos)
      return make_error("--metrics-listen {}: give ADDRESS:PORT (127.0.0.1:9464) or unix:PATH", terminal_text(text));
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  auto number = parse_port(port, text);
  if (!number) return number.error();
  const std::string address = host == "localhost" ? "127.0.0.1" : std::string(host);
  auto not_loopback = [&]() -> Error {
    return make_error(
        "--metrics-listen {}: {} is not a loopback address; metrics name every tenant's agents and "
        "stay on the host (put a proxy with TLS in front to scrape from elsewhere)",
        terminal_text(text), terminal_text(host));
  };
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.address);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.address);
  if (inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    if ((ntohl(v4->sin_addr.s_addr) >> 24) != 127) return not_loopback();
    v4->sin_family = AF_INET;
    v4->sin_port = htons(*number);
    out.length = sizeof(sockaddr_in);
    return out;
  }
  if (inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    if (!IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr)) return not_loopback();
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(*number);
    out.length = sizeof(sockaddr_in6);
    return out;
  }
  return make_error("--metrics-listen {}: \"{}\" is not an IP address (127.0.0.1, [::1] or localhost)",
                    terminal_text(text), terminal_text(host));
}

}  // namespace agentd::metrics
