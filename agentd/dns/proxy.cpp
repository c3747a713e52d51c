#include "agentd/dns/proxy.hpp"

#include <arpa/inet.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include <spdlog/spdlog.h>

#include "agentd/common/accept_or_shed.hpp"
#include "agentd/common/guard.hpp"
#include "agentd/dns/proxy_sockets.hpp"

#include "agentd_abi.h"

// Last: ldns's headers may define `bool` as a macro.
#include <ldns/ldns.h>

namespace agentd::dns {
namespace {

constexpr uint64_t kSweepUsec = 250'000;
// Connections accepted per turn of the loop from one listener: a sandbox
// that connects in a loop delays the others' queries by this many accepts
// at most (and fills only its own listener's backlog).
constexpr int kAcceptsPerTurn = 16;
// The kernel's send buffer of a client connection (it doubles it): a client
// that does not read fills it soon, so what it is owed shows in `out`, where
// the budgets see it, and the kernel holds little for it.
constexpr int kClientSendBuffer = 32 << 10;
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

// Datagrams read per turn of the loop: from the shared socket, and from a
// sandbox's own (then every other ready sandbox's turn comes first).
constexpr int kSharedUdpPerTurn = 256;
constexpr int kOwnUdpPerTurn = 8;

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
    if (digits.empty() || digits.size() > 5 || digits.find_first_not_of("0123456789") != std::string::npos)
      return false;
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
  if (ldns_resolver_nameserver_count(resolver) == 0)
    return make_error("{} names no nameserver: give --dns-upstream", path);
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
  ipv4_.clear();
  foreign_.clear();
  sweep_.reset();
  tcp_source_.reset();
  udp_source_.reset();
}

// sd-event is C: nothing may unwind through it, and a callback returning
// an error is switched off for good. Each callback runs guarded.
int DnsProxy::on_udp(sd_event_source*, int fd, uint32_t, void* self) {
  auto* proxy = static_cast<DnsProxy*>(self);
  guarded("reading DNS/udp", proxy->counters_.failed, [&] { proxy->read_udp(fd, 0, false); });
  return 0;
}

int DnsProxy::on_udp6(sd_event_source*, int fd, uint32_t, void* userdata) {
  auto* endpoint = static_cast<Ipv6Endpoint*>(userdata);
  DnsProxy* proxy = endpoint->proxy;
  guarded("reading DNS/udp6", proxy->counters_.failed, [&] { proxy->read_udp(fd, endpoint->slot, true); });
  return 0;
}

int DnsProxy::on_udp4(sd_event_source*, int fd, uint32_t, void* userdata) {
  auto* endpoint = static_cast<Ipv4Endpoint*>(userdata);
  DnsProxy* proxy = endpoint->proxy;
  guarded("reading DNS/udp", proxy->counters_.failed, [&] { proxy->read_udp(fd, endpoint->slot, false); });
  return 0;
}

int DnsProxy::on_accept4(sd_event_source*, int fd, uint32_t, void* userdata) {
  auto* endpoint = static_cast<Ipv4Endpoint*>(userdata);
  DnsProxy* proxy = endpoint->proxy;
  guarded("accepting DNS/tcp of a sandbox", proxy->counters_.failed, [&] { proxy->accept_tcp(fd, endpoint->slot); });
  return 0;
}

Status DnsProxy::serve_ipv4(uint32_t slot) {
  if (slot == AGENTD_SLOT_UNKNOWN || slot >= AGENTD_MAX_SANDBOXES) return make_error("slot {} out of range", slot);
  auto& endpoint = ipv4_[slot];
  if (!endpoint) {
    endpoint = std::make_unique<Ipv4Endpoint>();
    endpoint->proxy = this;
    endpoint->slot = slot;
  }
  // Each that is missing (a retry mends what failed before).
  std::string failed;
  if (!endpoint->udp) {
    auto udp = slot_socket(slot, settings_.port, SOCK_DGRAM);
    auto st = udp ? watch(loop_, endpoint->source, udp->get(), EPOLLIN, &DnsProxy::on_udp4, endpoint.get(),
                          "DNS/udp of a sandbox")
                  : Status(udp.error());
    if (st)
      endpoint->udp = std::move(*udp);
    else
      failed = "UDP: " + st.error().describe();
  }
  if (!endpoint->tcp) {
    auto tcp = slot_socket(slot, settings_.port, SOCK_STREAM);
    auto st = tcp ? watch(loop_, endpoint->tcp_source, tcp->get(), EPOLLIN, &DnsProxy::on_accept4, endpoint.get(),
                          "DNS/tcp of a sandbox")
                  : Status(tcp.error());
    if (st)
      endpoint->tcp = std::move(*tcp);
    else
      failed += (failed.empty() ? "" : "; ") + ("TCP: " + st.error().describe());
  }
  if (!endpoint->udp && !endpoint->tcp) ipv4_.erase(slot);
  if (!failed.empty()) return make_error("{}", failed);
  return ok_status();
}

size_t DnsProxy::ipv4_served() const {
  return std::count_if(ipv4_.begin(), ipv4_.end(), [](const auto& e) { return static_cast<bool>(e.second->udp); });
}

size_t DnsProxy::ipv4_tcp_served() const {
  return std::count_if(ipv4_.begin(), ipv4_.end(), [](const auto& e) { return static_cast<bool>(e.second->tcp); });
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
  if (ipv6_.contains(slot)) return port;
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
  if (auto st = watch(loop_, endpoint->tcp_source, endpoint->tcp.get(), EPOLLIN, &DnsProxy::on_accept6, endpoint.get(),
                      "DNS/tcp6");
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

void DnsProxy::read_udp(int fd, uint32_t own_slot, bool ipv6, uint64_t foreign) {
  uint8_t buffer[kMaxMessageBytes + 1];
  for (int budget = own_slot ? kOwnUdpPerTurn : kSharedUdpPerTurn; budget > 0; --budget) {  // then the others' turn
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
    if (foreign) {
      client.foreign = foreign;
      slot = own_slot;
    } else if (own_slot) {
      (ipv6 ? client.ipv6_slot : client.ipv4_slot) = own_slot;
      slot = own_slot;
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c && !own_slot; c = CMSG_NXTHDR(&msg, c)) {
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
      reply(client, error_response(
                        data, size,
                        query.error().describe().find("opcode") != std::string::npos ? kRcodeNotImp : kRcodeFormErr));
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
  // A sandbox asks the upstream for at most this many answers at once;
  // past it, SERVFAIL at once (its resolver retries) rather than a queue.
  SandboxUse& use = use_[slot];
  if (use.in_flight >= settings_.limits.in_flight_per_sandbox) {
    ++use.in_flight_refused;
    ++counters_.over_budget;
    reply(client, refusal(*query, Refusal::servfail, kEdeOther,
                          fmt::format("agentd: this sandbox has {} queries in flight, its limit; ask again once they "
                                      "are answered",
                                      use.in_flight)));
    return;
  }
  // The proxy's queries upstream are shared fairly: once they are nearly
  // all taken, a sandbox holding its share waits for its own to be answered,
  // and one below its share still gets a place, if need be another's.
  UpstreamPool& pool = client.tcp ? tcp_pool_ : udp_pool_;
  const auto admission = pool.admit(slot);
  if (admission.verdict == UpstreamPool::Verdict::refuse) {
    ++use.upstream_refused;
    ++counters_.over_budget;
    reply(client, refusal(*query, Refusal::servfail, kEdeOther,
                          fmt::format("agentd: the proxy's queries upstream are nearly all taken and this sandbox "
                                      "holds {}, its fair share; ask again once they are answered",
                                      pool.held(slot))));
    return;
  }
  if (admission.verdict == UpstreamPool::Verdict::evict) evict_upstream(admission.victim, client.tcp);
  // Never the sandbox's bytes: a query rebuilt from what was judged.
  const uint16_t id = random_id();
  auto forward = upstream_query(*query, id);
  const auto deadline = std::chrono::steady_clock::now() + settings_.upstream_timeout;
  Pending pending{client, slot, std::move(*query), deadline};
  const bool sent =
      forward && (client.tcp ? forward_over_tcp(pending, *forward) : forward_over_udp(pending, id, *forward));
  if (!sent) {
    ++counters_.upstream_failures;
    if (!forward) spdlog::debug("DNS from sandbox slot {}: {}", slot, forward.error().describe());
    reply(client, header_only(pending.query.id, kRcodeServFail));
  }
}

bool DnsProxy::forward_over_udp(const Pending& pending, uint16_t id, const Bytes& query) {
  if (udp_forwards_.size() >= kMaxUdpForwards) return false;  // UpstreamPool keeps it below; a safety net
  auto forward = std::make_unique<UdpForward>();
  forward->fd.reset(::socket(settings_.upstream.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  // Connected: the kernel binds a random ephemeral port and delivers only
  // what the upstream's address sends to it. An upstream unreachable now
  // (no route yet at boot) fails this query only.
  if (!forward->fd ||
      ::connect(forward->fd.get(), reinterpret_cast<const sockaddr*>(&settings_.upstream), settings_.upstream_len) !=
          0 ||
      ::send(forward->fd.get(), query.data(), query.size(), MSG_DONTWAIT) != static_cast<ssize_t>(query.size())) {
    spdlog::debug("forwarding to {}: {}", address_str(settings_.upstream), errno_text(errno));
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
  ++use_[pending.slot].in_flight;
  udp_pool_.take(pending.slot);
  udp_forwards_.emplace(forward->serial, std::move(forward));
  return true;
}

void DnsProxy::drop_udp_forward(uint64_t serial) {
  auto it = udp_forwards_.find(serial);
  if (it == udp_forwards_.end()) return;
  forward_done(it->second->pending);
  udp_forwards_.erase(it);
}

bool DnsProxy::forward_over_tcp(const Pending& pending, const Bytes& query) {
  // Bounded overall; per sandbox, handle_query checked its queries in flight.
  if (tcp_forwards_.size() >= kMaxTcpForwards) return false;
  const uint64_t serial = next_serial_++;
  auto exchange = TcpExchange::start(loop_, settings_.upstream, settings_.upstream_len, query,
                                     [this, serial](const Bytes& answer) { finish_tcp_forward(serial, answer); });
  if (!exchange) {
    spdlog::debug("forwarding over TCP to {}: {}", address_str(settings_.upstream), exchange.error().describe());
    return false;
  }
  ++counters_.forwarded;
  ++counters_.forwarded_tcp;
  ++use_[pending.slot].in_flight;
  tcp_pool_.take(pending.slot);
  if (auto c = connections_.find(pending.client.connection); c != connections_.end()) ++c->second->in_flight;
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
  forward_done(pending);
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
  cache_[cache_key(query)] =
      Cached{Bytes(data, data + size), std::move(*answer), std::chrono::steady_clock::now() + lifetime};
}

void DnsProxy::reply(const Client& client, const Bytes& bytes) {
  if (bytes.empty()) return;
  if (client.tcp) {
    auto it = connections_.find(client.connection);
    if (it == connections_.end()) return;  // the resolver hung up
    TcpConnection& c = *it->second;
    SandboxUse& use = use_[c.slot];
    // A client that asks and does not read is cut off, not buffered for:
    // what a sandbox's clients are owed stays below its budget.
    if (use.buffered + bytes.size() + 2 > settings_.limits.buffered_per_sandbox) {
      ++use.tcp_cut_off;
      spdlog::debug("DNS/tcp of sandbox slot {}: {} answer bytes unread, closed", c.slot, use.buffered);
      return close_tcp(client.connection);
    }
    if (c.out.empty()) c.last_written = std::chrono::steady_clock::now();  // the stall clock starts now
    c.out.push_back(static_cast<char>(bytes.size() >> 8));
    c.out.push_back(static_cast<char>(bytes.size() & 0xff));
    c.out.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    use.buffered += bytes.size() + 2;
    serve_tcp(client.connection, EPOLLOUT);
    return;
  }
  // From the very address the query went to: a connected resolver socket
  // accepts nothing else.
  if (client.foreign) {
    auto it = foreign_.find(client.foreign);
    if (it == foreign_.end()) return;  // the namespace was left meanwhile
    const bool v6 = client.peer.ss_family == AF_INET6;
    const int fd = v6 ? it->second->sockets.udp6.get() : it->second->sockets.udp4.get();
    if (::sendto(fd, bytes.data(), bytes.size(), MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&client.peer),
                 v6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in)) < 0)
      spdlog::debug("DNS reply not sent: {}", errno_text(errno));
    return;
  }
  if (client.ipv4_slot) {
    auto it = ipv4_.find(client.ipv4_slot);
    if (it == ipv4_.end() || !it->second->udp) return;
    if (::sendto(it->second->udp.get(), bytes.data(), bytes.size(), MSG_DONTWAIT,
                 reinterpret_cast<const sockaddr*>(&client.peer), sizeof(sockaddr_in)) < 0)
      spdlog::debug("DNS reply not sent: {}", errno_text(errno));
    return;
  }
  if (client.ipv6_slot) {
    auto it = ipv6_.find(client.ipv6_slot);
    if (it == ipv6_.end()) return;
    if (::sendto(it->second->udp.get(), bytes.data(), bytes.size(), MSG_DONTWAIT,
                 reinterpret_cast<const sockaddr*>(&client.peer), sizeof(sockaddr_in6)) < 0)
      spdlog::debug("DNS reply not sent: {}", errno_text(errno));
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
  if (::sendmsg(udp_.get(), &msg, MSG_DONTWAIT) < 0) spdlog::debug("DNS reply not sent: {}", errno_text(errno));
}

int DnsProxy::on_accept(sd_event_source*, int fd, uint32_t, void* self) {
  auto* proxy = static_cast<DnsProxy*>(self);
  guarded("accepting DNS/tcp", proxy->counters_.failed, [&] { proxy->accept_tcp(fd, 0); });
  return 0;
}

void DnsProxy::accept_tcp(int listener, uint32_t known_slot) {
  for (int turn = 0; turn < kAcceptsPerTurn; ++turn) {
    UniqueFd fd = accept_or_shed(listener, SOCK_NONBLOCK | SOCK_CLOEXEC, &counters_.shed);
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
    if (!slot) continue;  // not through the redirect: closed at once
    SandboxUse& use = use_[*slot];
    if (use.tcp >= settings_.limits.tcp_per_sandbox ||
        (connections_.size() >= settings_.limits.tcp_total && !make_room_for(*slot))) {
      ++use.tcp_refused;  // closed at once: the client sees a reset, its resolver tries UDP or again
      continue;
    }
    (void)set_int_option(fd.get(), SOL_SOCKET, SO_SNDBUF, kClientSendBuffer, "SO_SNDBUF");  // best effort
    auto connection = std::make_unique<TcpConnection>();
    connection->fd = std::move(fd);
    connection->slot = *slot;
    connection->proxy = this;
    connection->serial = next_serial_++;
    connection->last_read = connection->last_written = std::chrono::steady_clock::now();
    sd_event_source* io = nullptr;
    if (sd_event_add_io(loop_, &io, connection->fd.get(), EPOLLIN, &DnsProxy::on_tcp, connection.get()) < 0) continue;
    connection->io.reset(io);
    ++use.tcp;
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

int DnsProxy::on_resume(sd_event_source*, void* userdata) {
  auto* connection = static_cast<TcpConnection*>(userdata);
  DnsProxy* proxy = connection->proxy;
  const uint64_t serial = connection->serial;
  if (!guarded("a DNS/tcp connection", proxy->counters_.failed, [&] { proxy->serve_tcp(serial, EPOLLIN); }))
    proxy->close_tcp(serial);
  return 0;
}

bool DnsProxy::paused(const TcpConnection& c) const {
  return c.in_flight >= settings_.limits.queries_per_connection || c.out.size() >= settings_.limits.buffered_pause;
}

namespace {

// The length of the first whole message in `in`, when it holds one.
std::optional<size_t> whole_message(const std::string& in) {
  if (in.size() < 2) return std::nullopt;
  const size_t size = (static_cast<uint8_t>(in[0]) << 8) | static_cast<uint8_t>(in[1]);
  if (in.size() < 2 + size) return std::nullopt;
  return size;
}

}  // namespace

void DnsProxy::serve_tcp(uint64_t serial, uint32_t revents) {
  auto it = connections_.find(serial);
  if (it == connections_.end()) return;
  TcpConnection& c = *it->second;
  const auto now = std::chrono::steady_clock::now();
  // Reset or gone both ways: nothing owed can reach it any more. (Reported
  // even while reading pauses: waiting would spin the loop.)
  if (revents & (EPOLLHUP | EPOLLERR)) return close_tcp(serial);
  if ((revents & EPOLLIN) && !c.eof) {
    // At most messages_per_turn messages, then the loop serves the others.
    // Bytes are read only while no whole message waits, a chunk at a time:
    // `in` holds at most one message and a chunk, whatever the client sends.
    for (size_t handled = 0; !paused(c);) {
      if (auto size = whole_message(c.in)) {
        if (handled++ == settings_.limits.messages_per_turn) break;
        const std::string message = c.in.substr(2, *size);
        c.in.erase(0, 2 + *size);
        Client client;
        client.tcp = true;
        client.connection = serial;
        handle(client, c.slot, reinterpret_cast<const uint8_t*>(message.data()), message.size());
        if (!connections_.contains(serial)) return;
        continue;
      }
      char chunk[4096];
      const ssize_t n = ::read(c.fd.get(), chunk, sizeof(chunk));
      if (n > 0) {
        c.in.append(chunk, static_cast<size_t>(n));
        c.last_read = now;
        continue;
      }
      if (n == 0 || errno != EAGAIN) c.eof = true;  // flush what is owed, then close
      break;
    }
  }
  if (!c.out.empty()) {
    const ssize_t n = ::send(c.fd.get(), c.out.data(), c.out.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      c.out.erase(0, static_cast<size_t>(n));
      use_[c.slot].buffered -= static_cast<size_t>(n);
      c.last_written = now;
    } else if (n < 0 && errno != EAGAIN) {
      return close_tcp(serial);
    }
  }
  if (c.eof && c.out.empty()) return close_tcp(serial);
  const bool reading = !c.eof && !paused(c);
  const uint32_t events = (reading ? uint32_t{EPOLLIN} : 0u) | (c.out.empty() ? 0u : uint32_t{EPOLLOUT});
  sd_event_source_set_io_events(c.io.get(), events);
  // Messages read already wait for no event of the socket: come back to
  // them on the next turn of the loop, after every other ready client.
  if (reading && whole_message(c.in)) {
    if (!c.resume) {
      sd_event_source* resume = nullptr;
      if (sd_event_add_defer(loop_, &resume, &DnsProxy::on_resume, &c) < 0) return close_tcp(serial);
      c.resume.reset(resume);
    }
    sd_event_source_set_enabled(c.resume.get(), SD_EVENT_ONESHOT);
  }
}

void DnsProxy::close_tcp(uint64_t serial) {
  auto it = connections_.find(serial);
  if (it == connections_.end()) return;
  SandboxUse& use = use_[it->second->slot];
  --use.tcp;
  use.buffered -= it->second->out.size();
  connections_.erase(it);
  // Nobody is left to answer: what it asked upstream is dropped.
  for (auto f = tcp_forwards_.begin(); f != tcp_forwards_.end();) {
    if (f->second.pending.client.connection != serial) {
      ++f;
      continue;
    }
    forward_done(f->second.pending);
    f = tcp_forwards_.erase(f);
  }
}

int DnsProxy::on_foreign_udp(sd_event_source*, int fd, uint32_t, void* userdata) {
  auto* endpoint = static_cast<ForeignEndpoint*>(userdata);
  DnsProxy* proxy = endpoint->proxy;
  const bool v6 = fd == endpoint->sockets.udp6.get();
  guarded("reading DNS/udp in a sandbox's namespace", proxy->counters_.failed,
          [&] { proxy->read_udp(fd, endpoint->info.slot, v6, endpoint->info.id); });
  return 0;
}

int DnsProxy::on_foreign_accept(sd_event_source*, int fd, uint32_t, void* userdata) {
  auto* endpoint = static_cast<ForeignEndpoint*>(userdata);
  DnsProxy* proxy = endpoint->proxy;
  guarded("accepting DNS/tcp in a sandbox's namespace", proxy->counters_.failed,
          [&] { proxy->accept_tcp(fd, endpoint->info.slot); });
  return 0;
}

Result<uint64_t> DnsProxy::serve_foreign(uint32_t slot, uint64_t netns_ino, NetnsSockets sockets) {
  if (slot == AGENTD_SLOT_UNKNOWN || slot >= AGENTD_MAX_SANDBOXES) return make_error("slot {} out of range", slot);
  auto endpoint = std::make_unique<ForeignEndpoint>();
  endpoint->proxy = this;
  endpoint->info = {next_foreign_++, slot, sockets.cookie, netns_ino, static_cast<bool>(sockets.udp6)};
  endpoint->sockets = std::move(sockets);
  auto* e = endpoint.get();
  const char* what = "DNS in a sandbox's namespace";
  if (auto st = watch(loop_, e->udp4_source, e->sockets.udp4.get(), EPOLLIN, &DnsProxy::on_foreign_udp, e, what); !st)
    return st.error();
  if (auto st = watch(loop_, e->tcp4_source, e->sockets.tcp4.get(), EPOLLIN, &DnsProxy::on_foreign_accept, e, what);
      !st)
    return st.error();
  if (e->sockets.udp6) {
    if (auto st = watch(loop_, e->udp6_source, e->sockets.udp6.get(), EPOLLIN, &DnsProxy::on_foreign_udp, e, what); !st)
      return st.error();
    if (auto st = watch(loop_, e->tcp6_source, e->sockets.tcp6.get(), EPOLLIN, &DnsProxy::on_foreign_accept, e, what);
        !st)
      return st.error();
  }
  const uint64_t id = e->info.id;
  foreign_.emplace(id, std::move(endpoint));
  return id;
}

std::vector<DnsProxy::Foreign> DnsProxy::foreign() const {
  std::vector<Foreign> list;
  for (const auto& [id, e] : foreign_) list.push_back(e->info);
  return list;
}

void DnsProxy::stop_foreign(uint64_t id) { foreign_.erase(id); }

void DnsProxy::stop_serving(uint32_t slot) {
  ipv4_.erase(slot);
  ipv6_.erase(slot);
  std::erase_if(foreign_, [&](const auto& f) { return f.second->info.slot == slot; });
  std::vector<uint64_t> connections;
  for (const auto& [serial, c] : connections_)
    if (c->slot == slot) connections.push_back(serial);
  for (uint64_t serial : connections) close_tcp(serial);  // and their forwards
  std::erase_if(udp_forwards_, [&](const auto& f) { return f.second->pending.slot == slot; });
  std::erase_if(tcp_forwards_, [&](const auto& f) { return f.second.pending.slot == slot; });
  udp_pool_.forget(slot);
  tcp_pool_.forget(slot);
  use_.erase(slot);
}

void DnsProxy::forward_done(const Pending& pending) {
  if (auto u = use_.find(pending.slot); u != use_.end() && u->second.in_flight > 0) --u->second.in_flight;
  (pending.client.tcp ? tcp_pool_ : udp_pool_).release(pending.slot);
  if (!pending.client.tcp) return;
  if (auto c = connections_.find(pending.client.connection); c != connections_.end() && c->second->in_flight > 0)
    --c->second->in_flight;
}

void DnsProxy::evict_upstream(uint32_t victim, bool tcp) {
  // The oldest (the lowest serial) of the victim's: bounded by the pool's
  // size, whatever the number of sandboxes.
  std::optional<Pending> pending;
  if (tcp) {
    for (auto it = tcp_forwards_.begin(); it != tcp_forwards_.end(); ++it)
      if (it->second.pending.slot == victim) {
        pending = std::move(it->second.pending);
        tcp_forwards_.erase(it);
        forward_done(*pending);
        break;
      }
  } else {
    // NOLINTNEXTLINE(modernize-loop-convert): it erases what it finds
    for (auto it = udp_forwards_.begin(); it != udp_forwards_.end(); ++it)
      if (it->second->pending.slot == victim) {
        pending = it->second->pending;
        drop_udp_forward(it->first);  // forward_done: its place is free before the reply
        break;
      }
  }
  if (!pending) return;
  ++use_[victim].upstream_refused;
  ++counters_.over_budget;
  reply(pending->client, refusal(pending->query, Refusal::servfail, kEdeOther,
                                 "agentd: the proxy's queries upstream were all taken and this sandbox held more than "
                                 "its fair share; this one gave its place to another sandbox's"));
}

bool DnsProxy::make_room_for(uint32_t slot) {
  auto victim = tcp_victim(use_, slot);
  if (!victim) return false;
  std::optional<uint64_t> oldest;
  auto oldest_time = std::chrono::steady_clock::time_point::max();
  for (const auto& [serial, c] : connections_) {
    const auto active = std::max(c->last_read, c->last_written);
    if (c->slot == *victim && active < oldest_time) {
      oldest_time = active;
      oldest = serial;
    }
  }
  if (!oldest) return false;
  ++use_[*victim].tcp_evicted;
  close_tcp(*oldest);
  return true;
}

void DnsProxy::sweep_tcp(std::chrono::steady_clock::time_point now) {
  std::vector<std::pair<uint64_t, TcpVerdict>> closing;
  for (const auto& [serial, c] : connections_) {
    const auto verdict = tcp_verdict(settings_.limits, now, c->out.size(), c->in_flight, c->last_read, c->last_written);
    if (verdict != TcpVerdict::keep) closing.emplace_back(serial, verdict);
  }
  for (const auto& [serial, verdict] : closing) {
    auto it = connections_.find(serial);
    if (it == connections_.end()) continue;
    SandboxUse& use = use_[it->second->slot];
    ++(verdict == TcpVerdict::idle ? use.tcp_idle_closed : use.tcp_cut_off);
    close_tcp(serial);
  }
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
    proxy->drop_udp_forward(serial);  // forward_done: the budgets free up before the reply
    proxy->reply(pending.client, header_only(pending.query.id, kRcodeServFail));
  }
  // Collected first: a reply may close its connection, and with it other
  // forwards of that connection.
  std::vector<uint64_t> late;
  for (const auto& [serial, forward] : proxy->tcp_forwards_)
    if (forward.pending.deadline <= now) late.push_back(serial);
  for (const uint64_t serial : late) {
    auto it = proxy->tcp_forwards_.find(serial);
    if (it == proxy->tcp_forwards_.end()) continue;
    ++proxy->counters_.upstream_failures;
    const Pending pending = std::move(it->second.pending);
    proxy->tcp_forwards_.erase(it);
    proxy->forward_done(pending);
    proxy->reply(pending.client, header_only(pending.query.id, kRcodeServFail));
  }
  proxy->sweep_tcp(now);
  sd_event_source_set_time_relative(source, kSweepUsec);
  sd_event_source_set_enabled(source, SD_EVENT_ON);
  return 0;
}

}  // namespace agentd::dns
