#include "agentd/dns/proxy.hpp"

#include <arpa/inet.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include <spdlog/spdlog.h>

#include "agentd/common/guard.hpp"

#include "agentd_abi.h"

// Last: ldns's headers may define `bool` as a macro.
#include <ldns/ldns.h>

namespace agentd::dns {
namespace {

constexpr uint64_t kSweepUsec = 250'000;
constexpr size_t kMaxTcpConnections = 512;
constexpr size_t kMaxTcpForwardsPerSandbox = 32;
// A socket each: bounded well below the daemon's descriptor limit.
constexpr size_t kMaxUdpForwards = 384;
constexpr size_t kMaxUdpForwardsPerSandbox = 64;
constexpr auto kCacheSeconds = std::chrono::seconds(5);  // at most: TTLs handed out run at most this stale
constexpr size_t kMaxCachedAnswers = 10000;

// What the rebuilt upstream query depends on: the answer differs with them.
std::string cache_key(const Query& q) {
  return fmt::format("{}/{}/{}/{}/{}", q.qtype, q.qclass, q.has_edns, q.dnssec_ok, q.name);
}
constexpr uint16_t kRcodeFormErr = 1, kRcodeServFail = 2, kRcodeNotImp = 4;

std::optional<uint32_t> slot_of_address(in_addr addr) {
  const uint32_t host = ntohl(addr.s_addr);
  if ((host & AGENTD_DNS_MASK) != AGENTD_DNS_NET) return std::nullopt;
  return host & ~AGENTD_DNS_MASK;
}

Status set_int_option(int fd, int level, int name, int value, const char* what) {
  if (::setsockopt(fd, level, name, &value, sizeof(value)) != 0) return system_error("setting {}", what);
  return ok_status();
}

Result<UniqueFd> bound_socket(int family, int type, const sockaddr* addr, socklen_t len, const std::string& where) {
  UniqueFd fd(::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return system_error("creating the DNS proxy socket");
  // TCP only: a restart must not wait out TIME_WAIT. Never for UDP, where
  // SO_REUSEADDR would let another socket bind beside the proxy and take
  // its queries.
  if (type == SOCK_STREAM)
    if (auto st = set_int_option(fd.get(), SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR"); !st) return st.error();
  if (family == AF_INET6)
    if (auto st = set_int_option(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, 1, "IPV6_V6ONLY"); !st) return st.error();
  if (family == AF_INET && type == SOCK_DGRAM)
    if (auto st = set_int_option(fd.get(), IPPROTO_IP, IP_PKTINFO, 1, "IP_PKTINFO"); !st) return st.error();
  const char* transport = type == SOCK_DGRAM ? "udp" : "tcp";
  if (::bind(fd.get(), addr, len) != 0) return system_error("binding the DNS proxy to {} ({})", where, transport);
  if (type == SOCK_STREAM && ::listen(fd.get(), 128) != 0) return system_error("listening on {}", where);
  return fd;
}

// Every 127.64.x.y is local through the loopback route: only a wildcard
// bind receives them all. Queries that did not arrive on one are dropped.
Result<UniqueFd> listen_socket(int type, uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  return bound_socket(AF_INET, type, reinterpret_cast<sockaddr*>(&addr), sizeof(addr), fmt::format("port {}", port));
}

Result<UniqueFd> listen_socket6(int type, uint16_t port) {
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_port = htons(port);
  addr.sin6_addr = in6addr_loopback;
  return bound_socket(AF_INET6, type, reinterpret_cast<sockaddr*>(&addr), sizeof(addr), fmt::format("[::1]:{}", port));
}

Status watch(sd_event* loop, SdEventSourcePtr& source, int fd, uint32_t events, sd_event_io_handler_t handler,
             void* userdata, const char* what) {
  sd_event_source* raw = nullptr;
  if (int r = sd_event_add_io(loop, &raw, fd, events, handler, userdata); r < 0) {
    errno = -r;
    return system_error("watching {}", what);
  }
  source.reset(raw);
  return ok_status();
}

bool same_endpoint(const sockaddr_storage& a, const sockaddr_storage& b) {
  if (a.ss_family != b.ss_family) return false;
  if (a.ss_family == AF_INET) {
    const auto& x = reinterpret_cast<const sockaddr_in&>(a);
    const auto& y = reinterpret_cast<const sockaddr_in&>(b);
    return x.sin_port == y.sin_port && x.sin_addr.s_addr == y.sin_addr.s_addr;
  }
  const auto& x = reinterpret_cast<const sockaddr_in6&>(a);
  const auto& y = reinterpret_cast<const sockaddr_in6&>(b);
  return x.sin6_port == y.sin6_port && std::memcmp(&x.sin6_addr, &y.sin6_addr, sizeof(x.sin6_addr)) == 0;
}

// An answer a UDP resolver takes whole, or TC: a cached answer may have
// come over TCP, or for a resolver with a larger EDNS size.
Bytes fit(bool over_tcp, const Query& query, Bytes answer) {
  if (over_tcp || answer.size() <= query.udp_size) return answer;
  return truncated_response(query);
}

// The id of a query sent upstream: from the kernel's CSPRNG, so neither an
// off-path host nor a sandbox watching earlier ids can predict it.
uint16_t random_id() {
  uint16_t id = 0;
  while (::getrandom(&id, sizeof(id), 0) != static_cast<ssize_t>(sizeof(id))) {
  }
  return id;
}

Bytes header_only(uint16_t id, uint16_t rcode) {
  const uint8_t header[12] = {static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id & 0xff)};
  return error_response(header, sizeof(header), rcode);
}

}  // namespace

Result<std::pair<sockaddr_storage, socklen_t>> parse_upstream(const std::string& text) {
  sockaddr_storage storage{};
  std::string host = text;
  uint16_t port = 53;
  auto parse_port = [&](const std::string& digits) -> bool {
    if (digits.empty() || digits.size() > 5 || digits.find_first_not_of("0123456789") != std::string::npos) return false;
    const int value = std::stoi(digits);
    if (value < 1 || value > 65535) return false;
    port = static_cast<uint16_t>(value);
    return true;
  };
  if (!text.empty() && text[0] == '[') {
    const auto close = text.find(']');
    if (close == std::string::npos) return make_error("upstream \"{}\": missing ']'", text);
    host = text.substr(1, close - 1);
    if (close + 1 < text.size() && (text[close + 1] != ':' || !parse_port(text.substr(close + 2))))
      return make_error("upstream \"{}\": bad port", text);
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    host = text.substr(0, text.find(':'));
    if (!parse_port(text.substr(text.find(':') + 1))) return make_error("upstream \"{}\": bad port", text);
  }
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    return std::make_pair(storage, static_cast<socklen_t>(sizeof(sockaddr_in)));
  }
  if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    return std::make_pair(storage, static_cast<socklen_t>(sizeof(sockaddr_in6)));
  }
  return make_error("upstream \"{}\" is not an IP address with an optional port", text);
}

Result<std::string> upstream_from_resolv_conf(const std::string& path) {
  ldns_resolver* resolver = nullptr;
  if (ldns_resolver_new_frm_file(&resolver, path.c_str()) != LDNS_STATUS_OK || !resolver)
    return make_error("cannot read {}: give --dns-upstream", path);
  std::unique_ptr<ldns_resolver, decltype(&ldns_resolver_deep_free)> owner(resolver, ldns_resolver_deep_free);
  if (ldns_resolver_nameserver_count(resolver) == 0) return make_error("{} names no nameserver: give --dns-upstream", path);
  char* text = ldns_rdf2str(ldns_resolver_nameservers(resolver)[0]);
  std::string address = text ? text : "";
  free(text);
  return address.find(':') != std::string::npos ? "[" + address + "]" : address;
}

std::string address_str(const sockaddr_storage& addr) {
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &v4->sin_addr, text, sizeof(text));
    return fmt::format("{}:{}", text, ntohs(v4->sin_port));
  }
  const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&addr);
  ::inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof(text));
  return fmt::format("[{}]:{}", text, ntohs(v6->sin6_port));
}

Result<std::unique_ptr<DnsProxy>> DnsProxy::start(sd_event* loop, const ProxySettings& settings, QueryJudge& judge) {
  std::unique_ptr<DnsProxy> proxy(new DnsProxy(loop, settings, judge));
  auto udp = listen_socket(SOCK_DGRAM, settings.port);
  if (!udp) return udp.error();
  proxy->udp_ = std::move(*udp);
  auto tcp = listen_socket(SOCK_STREAM, settings.port);
  if (!tcp) return tcp.error();
  proxy->tcp_ = std::move(*tcp);
  auto* self = proxy.get();
  if (auto st = watch(loop, proxy->udp_source_, proxy->udp_.get(), EPOLLIN, &DnsProxy::on_udp, self, "DNS/udp"); !st)
    return st.error();
  if (auto st = watch(loop, proxy->tcp_source_, proxy->tcp_.get(), EPOLLIN, &DnsProxy::on_accept, self, "DNS/tcp"); !st)
    return st.error();
  sd_event_source* sweep = nullptr;
  if (sd_event_add_time_relative(loop, &sweep, CLOCK_MONOTONIC, kSweepUsec, 10'000, &DnsProxy::on_sweep, self) < 0)
    return make_error("arming the DNS timeout sweep");
  sd_event_source_set_enabled(sweep, SD_EVENT_ON);
  proxy->sweep_.reset(sweep);
  return proxy;
}

DnsProxy::~DnsProxy() {
  tcp_forwards_.clear();
  udp_forwards_.clear();
  connections_.clear();
  ipv6_.clear();
  sweep_.reset();
  tcp_source_.reset();
  udp_source_.reset();
}

// sd-event is C: nothing may unwind through it, and a callback returning
// an error is switched off for good. Each callback runs guarded.
int DnsProxy::on_udp(sd_event_source*, int fd, uint32_t, void* self) {
  auto* proxy = static_cast<DnsProxy*>(self);
  guarded("reading DNS/udp", proxy->counters_.failed, [&] { proxy->read_udp(fd, 0); });
  return 0;
}

int DnsProxy::on_udp6(sd_event_source*, int fd, uint32_t, void* userdata) {
  auto* endpoint = static_cast<Ipv6Endpoint*>(userdata);
  DnsProxy* proxy = endpoint->proxy;
  guarded("reading DNS/udp6", proxy->counters_.failed, [&] { proxy->read_udp(fd, endpoint->slot); });
  return 0;
}

int DnsProxy::on_accept6(sd_event_source*, int fd, uint32_t, void* userdata) {
  auto* endpoint = static_cast<Ipv6Endpoint*>(userdata);
  DnsProxy* proxy = endpoint->proxy;
  guarded("accepting DNS/tcp6", proxy->counters_.failed, [&] { proxy->accept_tcp(fd, endpoint->slot); });
  return 0;
}

Result<uint16_t> DnsProxy::serve_ipv6(uint32_t slot) {
  if (settings_.ipv6_port_base == 0) return make_error("no IPv6 port base");
  if (slot == AGENTD_SLOT_UNKNOWN || slot >= AGENTD_MAX_SANDBOXES) return make_error("slot {} out of range", slot);
  const uint32_t port_wide = uint32_t{settings_.ipv6_port_base} + slot;
  if (port_wide > 65535) return make_error("port {} for slot {} is past 65535", port_wide, slot);
  const auto port = static_cast<uint16_t>(port_wide);
  if (ipv6_.count(slot)) return port;
  auto endpoint = std::make_unique<Ipv6Endpoint>();
  endpoint->proxy = this;
  endpoint->slot = slot;
  auto udp = listen_socket6(SOCK_DGRAM, port);
  if (!udp) return udp.error();
  endpoint->udp = std::move(*udp);
  auto tcp = listen_socket6(SOCK_STREAM, port);
  if (!tcp) return tcp.error();
  endpoint->tcp = std::move(*tcp);
  if (auto st = watch(loop_, endpoint->udp_source, endpoint->udp.get(), EPOLLIN, &DnsProxy::on_udp6, endpoint.get(),
                      "DNS/udp6");
      !st)
    return st.error();
  if (auto st = watch(loop_, endpoint->tcp_source, endpoint->tcp.get(), EPOLLIN, &DnsProxy::on_accept6,
                      endpoint.get(), "DNS/tcp6");
      !st)
    return st.error();
  ipv6_.emplace(slot, std::move(endpoint));
  return port;
}

int DnsProxy::on_upstream(sd_event_source*, int, uint32_t, void* userdata) {
  auto* forward = static_cast<UdpForward*>(userdata);
  auto* proxy = forward->proxy;
  const auto serial = forward->serial;
  guarded("reading the upstream's answers", proxy->counters_.failed, [&] { proxy->read_upstream(serial); });
  return 0;
}

void DnsProxy::read_udp(int fd, uint32_t ipv6_slot) {
  uint8_t buffer[kMaxMessageBytes + 1];
  for (int budget = 256; budget > 0; --budget) {  // then let the loop serve others
    Client client;
    iovec iov{buffer, sizeof(buffer)};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in_pktinfo))];
    msghdr msg{};
    msg.msg_name = &client.peer;
    msg.msg_namelen = sizeof(client.peer);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    const ssize_t n = ::recvmsg(fd, &msg, MSG_DONTWAIT);
    if (n < 0) return;  // EAGAIN: all read
    std::optional<uint32_t> slot;
    if (ipv6_slot) {
      client.ipv6_slot = ipv6_slot;
      slot = ipv6_slot;
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        in_pktinfo info{};
        std::memcpy(&info, CMSG_DATA(c), sizeof(info));
        client.local = info.ipi_addr;
        slot = slot_of_address(info.ipi_addr);
      }
    }
    if (!slot || (msg.msg_flags & MSG_TRUNC)) continue;  // not through the redirect, or oversized: dropped
    handle(client, *slot, buffer, static_cast<size_t>(n));
  }
}

void DnsProxy::handle(const Client& client, uint32_t slot, const uint8_t* data, size_t size) {
  // A query that throws (a bug, a name no code path expected) is counted,
  // logged and dropped (its resolver retries); the others are served.
  guarded("a DNS query", counters_.failed, [&] { handle_query(client, slot, data, size); });
}

void DnsProxy::handle_query(const Client& client, uint32_t slot, const uint8_t* data, size_t size) {
  ++counters_.queries;
  auto query = parse_query(data, size);
  if (!query) {
    ++counters_.malformed;
    spdlog::debug("DNS from sandbox slot {}: {}", slot, query.error().describe());
    if (message_id(data, size) && !(size >= 3 && (data[2] & 0x80)))  // never answer a response
      reply(client, error_response(data, size,
                                   query.error().describe().find("opcode") != std::string::npos ? kRcodeNotImp
                                                                                                : kRcodeFormErr));
    return;
  }
  if (auto refusal = judge_.judge(slot, *query, client.tcp ? "tcp" : "udp")) {
    ++counters_.refused;
    reply(client, *refusal);
    return;
  }
  if (auto hit = cache_.find(cache_key(*query)); hit != cache_.end()) {
    if (hit->second.expires > std::chrono::steady_clock::now()) {
      ++counters_.cache_hits;
      ++counters_.answered;
      Bytes answer =
          judge_.learn(slot, *query, hit->second.answer.data(), hit->second.answer.size(), &hit->second.parsed);
      reply(client, fit(client.tcp, *query, with_id(answer.data(), answer.size(), query->id)));
      return;
    }
    cache_.erase(hit);
  }
  // Never the sandbox's bytes: a query rebuilt from what was judged.
  const uint16_t id = random_id();
  auto forward = upstream_query(*query, id);
  const auto deadline = std::chrono::steady_clock::now() + settings_.upstream_timeout;
  Pending pending{client, slot, std::move(*query), deadline};
  const bool sent = forward && (client.tcp ? forward_over_tcp(pending, *forward) : forward_over_udp(pending, id, *forward));
  if (!sent) {
    ++counters_.upstream_failures;
    if (!forward) spdlog::debug("DNS from sandbox slot {}: {}", slot, forward.error().describe());
    reply(client, header_only(pending.query.id, kRcodeServFail));
  }
}

bool DnsProxy::forward_over_udp(const Pending& pending, uint16_t id, const Bytes& query) {
  const auto in_flight = udp_forwards_of_slot_.find(pending.slot);
  if (udp_forwards_.size() >= kMaxUdpForwards ||
      (in_flight != udp_forwards_of_slot_.end() && in_flight->second >= kMaxUdpForwardsPerSandbox))
    return false;
  auto forward = std::make_unique<UdpForward>();
  forward->fd.reset(::socket(settings_.upstream.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  // Connected: the kernel binds a random ephemeral port and delivers only
  // what the upstream's address sends to it. An upstream unreachable now
  // (no route yet at boot) fails this query only.
  if (!forward->fd ||
      ::connect(forward->fd.get(), reinterpret_cast<const sockaddr*>(&settings_.upstream), settings_.upstream_len) != 0 ||
      ::send(forward->fd.get(), query.data(), query.size(), MSG_DONTWAIT) != static_cast<ssize_t>(query.size())) {
    spdlog::debug("forwarding to {}: {}", address_str(settings_.upstream), std::strerror(errno));
    return false;
  }
  forward->proxy = this;
  forward->serial = next_serial_++;
  forward->pending = pending;
  forward->id = id;
  if (!watch(loop_, forward->io, forward->fd.get(), EPOLLIN, &DnsProxy::on_upstream, forward.get(),
             "the upstream resolver"))
    return false;
  ++counters_.forwarded;
  ++udp_forwards_of_slot_[pending.slot];
  udp_forwards_.emplace(forward->serial, std::move(forward));
  return true;
}

void DnsProxy::drop_udp_forward(uint64_t serial) {
  auto it = udp_forwards_.find(serial);
  if (it == udp_forwards_.end()) return;
  if (auto n = udp_forwards_of_slot_.find(it->second->pending.slot); n != udp_forwards_of_slot_.end() && --n->second == 0)
    udp_forwards_of_slot_.erase(n);
  udp_forwards_.erase(it);
}

bool DnsProxy::forward_over_tcp(const Pending& pending, const Bytes& query) {
  // Bounded overall and per sandbox: one sandbox cannot take them all.
  if (tcp_forwards_.size() >= kMaxTcpConnections) return false;
  const auto of_slot = std::count_if(tcp_forwards_.begin(), tcp_forwards_.end(),
                                     [&](const auto& f) { return f.second.pending.slot == pending.slot; });
  if (of_slot >= static_cast<long>(kMaxTcpForwardsPerSandbox)) return false;
  const uint64_t serial = next_serial_++;
  auto exchange = TcpExchange::start(loop_, settings_.upstream, settings_.upstream_len, query,
                                     [this, serial](Bytes answer) { finish_tcp_forward(serial, answer); });
  if (!exchange) {
    spdlog::debug("forwarding over TCP to {}: {}", address_str(settings_.upstream), exchange.error().describe());
    return false;
  }
  ++counters_.forwarded;
  ++counters_.forwarded_tcp;
  const uint16_t id = static_cast<uint16_t>((query[0] << 8) | query[1]);
  tcp_forwards_.emplace(serial, TcpForward{pending, id, std::move(*exchange)});
  return true;
}

void DnsProxy::finish_tcp_forward(uint64_t serial, const Bytes& answer) {
  auto it = tcp_forwards_.find(serial);
  if (it == tcp_forwards_.end()) return;
  const Pending pending = std::move(it->second.pending);
  const uint16_t id = it->second.id;
  tcp_forwards_.erase(it);  // the exchange calling us: it touches nothing after this call
  if (answer.empty() || !answers(answer.data(), answer.size(), pending.query, id)) {
    ++counters_.upstream_failures;
    reply(pending.client, header_only(pending.query.id, kRcodeServFail));
  } else {
    deliver(pending, answer.data(), answer.size());
  }
}

void DnsProxy::deliver(const Pending& pending, const uint8_t* data, size_t size) {
  guarded("a DNS answer", counters_.failed, [&] { deliver_answer(pending, data, size); });
}

void DnsProxy::deliver_answer(const Pending& pending, const uint8_t* data, size_t size) {
  remember(pending.query, data, size);
  Bytes answer = judge_.learn(pending.slot, pending.query, data, size);
  answer = with_id(answer.data(), answer.size(), pending.query.id);
  ++counters_.answered;
  reply(pending.client, fit(pending.client.tcp, pending.query, std::move(answer)));
}

void DnsProxy::read_upstream(uint64_t serial) {
  auto it = udp_forwards_.find(serial);
  if (it == udp_forwards_.end()) return;
  UdpForward& forward = *it->second;
  uint8_t buffer[kMaxMessageBytes + 1];
  for (int budget = 16; budget > 0; --budget) {
    sockaddr_storage from{};
    socklen_t from_len = sizeof(from);
    const ssize_t n = ::recvfrom(forward.fd.get(), buffer, sizeof(buffer), MSG_DONTWAIT,
                                 reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0) return;  // EAGAIN; an ICMP error waits for the timeout, as a lost answer does
    // Wrong source, id or question: a spoofing attempt or a stray. The
    // real answer may still come until the deadline.
    if (!same_endpoint(from, settings_.upstream) ||
        !answers(buffer, static_cast<size_t>(n), forward.pending.query, forward.id)) {
      ++counters_.mismatched;
      continue;
    }
    const Pending pending = forward.pending;
    drop_udp_forward(serial);  // closes the socket: nothing more is read from it
    deliver(pending, buffer, static_cast<size_t>(n));
    return;
  }
}

void DnsProxy::remember(const Query& query, const uint8_t* data, size_t size) {
  auto answer = parse_answer(data, size, query);
  if (!answer || answer->rcode != 0 || answer->truncated || answer->addresses.empty()) return;
  uint32_t ttl = UINT32_MAX;
  for (const auto& a : answer->addresses) ttl = std::min(ttl, a.ttl);
  const auto lifetime = std::min<std::chrono::seconds>(std::chrono::seconds(ttl), kCacheSeconds);
  if (lifetime.count() == 0) return;
  if (cache_.size() >= kMaxCachedAnswers) cache_.clear();  // crude, bounded; refills in seconds
  cache_[cache_key(query)] = Cached{Bytes(data, data + size), std::move(*answer), std::chrono::steady_clock::now() + lifetime};
}

void DnsProxy::reply(const Client& client, const Bytes& bytes) {
  if (bytes.empty()) return;
  if (client.tcp) {
    auto it = connections_.find(client.connection);
    if (it == connections_.end()) return;  // the resolver hung up
    TcpConnection& c = *it->second;
    c.out.push_back(static_cast<char>(bytes.size() >> 8));
    c.out.push_back(static_cast<char>(bytes.size() & 0xff));
    c.out.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    serve_tcp(client.connection, EPOLLOUT);
    return;
  }
  // From the very address the query went to: a connected resolver socket
  // accepts nothing else.
  if (client.ipv6_slot) {
    auto it = ipv6_.find(client.ipv6_slot);
    if (it == ipv6_.end()) return;
    if (::sendto(it->second->udp.get(), bytes.data(), bytes.size(), MSG_DONTWAIT,
                 reinterpret_cast<const sockaddr*>(&client.peer), sizeof(sockaddr_in6)) < 0)
      spdlog::debug("DNS reply not sent: {}", std::strerror(errno));
    return;
  }
  iovec iov{const_cast<uint8_t*>(bytes.data()), bytes.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in_pktinfo))] = {};
  msghdr msg{};
  msg.msg_name = const_cast<sockaddr_storage*>(&client.peer);
  msg.msg_namelen = client.peer.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = IPPROTO_IP;
  c->cmsg_type = IP_PKTINFO;
  c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
  in_pktinfo info{};
  info.ipi_spec_dst = client.local;
  std::memcpy(CMSG_DATA(c), &info, sizeof(info));
  if (::sendmsg(udp_.get(), &msg, MSG_DONTWAIT) < 0) spdlog::debug("DNS reply not sent: {}", std::strerror(errno));
}

int DnsProxy::on_accept(sd_event_source*, int fd, uint32_t, void* self) {
  auto* proxy = static_cast<DnsProxy*>(self);
  guarded("accepting DNS/tcp", proxy->counters_.failed, [&] { proxy->accept_tcp(fd, 0); });
  return 0;
}

void DnsProxy::accept_tcp(int listener, uint32_t known_slot) {
  for (;;) {
    UniqueFd fd(::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) return;
    std::optional<uint32_t> slot;
    if (known_slot) {
      slot = known_slot;
    } else {
      sockaddr_in local{};
      socklen_t len = sizeof(local);
      if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&local), &len) == 0 && local.sin_family == AF_INET)
        slot = slot_of_address(local.sin_addr);
    }
    if (!slot || connections_.size() >= kMaxTcpConnections) continue;  // closed at once
    auto connection = std::make_unique<TcpConnection>();
    connection->fd = std::move(fd);
    connection->slot = *slot;
    connection->proxy = this;
    connection->serial = next_serial_++;
    sd_event_source* io = nullptr;
    if (sd_event_add_io(loop_, &io, connection->fd.get(), EPOLLIN, &DnsProxy::on_tcp, connection.get()) < 0)
      continue;
    connection->io.reset(io);
    connections_.emplace(connection->serial, std::move(connection));
  }
}

int DnsProxy::on_tcp(sd_event_source*, int, uint32_t revents, void* userdata) {
  auto* connection = static_cast<TcpConnection*>(userdata);
  DnsProxy* proxy = connection->proxy;
  const uint64_t serial = connection->serial;
  if (!guarded("a DNS/tcp connection", proxy->counters_.failed, [&] { proxy->serve_tcp(serial, revents); }))
    proxy->close_tcp(serial);  // its buffers are in an unknown state now
  return 0;
}

void DnsProxy::serve_tcp(uint64_t serial, uint32_t revents) {
  auto it = connections_.find(serial);
  if (it == connections_.end()) return;
  TcpConnection& c = *it->second;
  if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
    char chunk[4096];
    for (;;) {
      const ssize_t n = ::read(c.fd.get(), chunk, sizeof(chunk));
      if (n > 0) {
        c.in.append(chunk, static_cast<size_t>(n));
        if (c.in.size() > 2 * (kMaxMessageBytes + 2)) return close_tcp(serial);
        continue;
      }
      if (n == 0 || errno != EAGAIN) {
        if (c.out.empty()) return close_tcp(serial);
        revents |= EPOLLOUT;  // flush what is owed, then close
      }
      break;
    }
    while (c.in.size() >= 2) {
      const size_t size = (static_cast<uint8_t>(c.in[0]) << 8) | static_cast<uint8_t>(c.in[1]);
      if (c.in.size() < 2 + size) break;
      const std::string message = c.in.substr(2, size);
      c.in.erase(0, 2 + size);
      Client client;
      client.tcp = true;
      client.connection = serial;
      handle(client, c.slot, reinterpret_cast<const uint8_t*>(message.data()), message.size());
      if (!connections_.count(serial)) return;
    }
  }
  if ((revents & EPOLLOUT) && !c.out.empty()) {
    const ssize_t n = ::send(c.fd.get(), c.out.data(), c.out.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) c.out.erase(0, static_cast<size_t>(n));
    else if (n < 0 && errno != EAGAIN) return close_tcp(serial);
  }
  sd_event_source_set_io_events(c.io.get(), c.out.empty() ? EPOLLIN : (EPOLLIN | EPOLLOUT));
}

void DnsProxy::close_tcp(uint64_t serial) {
  auto it = connections_.find(serial);
  if (it == connections_.end()) return;
  connections_.erase(it);
  // Nobody is left to answer: what it asked upstream is dropped.
  for (auto f = tcp_forwards_.begin(); f != tcp_forwards_.end();)
    f = f->second.pending.client.connection == serial ? tcp_forwards_.erase(f) : std::next(f);
}

int DnsProxy::on_sweep(sd_event_source* source, uint64_t, void* self) {
  auto* proxy = static_cast<DnsProxy*>(self);
  const auto now = std::chrono::steady_clock::now();
  for (auto it = proxy->udp_forwards_.begin(); it != proxy->udp_forwards_.end();) {
    if (it->second->pending.deadline > now) {
      ++it;
      continue;
    }
    const uint64_t serial = it->first;
    const Pending pending = it->second->pending;
    ++it;
    ++proxy->counters_.upstream_failures;
    proxy->drop_udp_forward(serial);
    proxy->reply(pending.client, header_only(pending.query.id, kRcodeServFail));
  }
  for (auto it = proxy->tcp_forwards_.begin(); it != proxy->tcp_forwards_.end();) {
    if (it->second.pending.deadline > now) {
      ++it;
      continue;
    }
    ++proxy->counters_.upstream_failures;
    const Pending pending = std::move(it->second.pending);
    it = proxy->tcp_forwards_.erase(it);
    proxy->reply(pending.client, header_only(pending.query.id, kRcodeServFail));
  }
  sd_event_source_set_time_relative(source, kSweepUsec);
  sd_event_source_set_enabled(source, SD_EVENT_ON);
  return 0;
}

}  // namespace agentd::dns
