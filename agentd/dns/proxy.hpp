// agentd's DNS proxy. The kernel hooks send every DNS query of a sandbox,
// UDP or TCP, whatever server it named, to 127.64.<slot>:<port>; the
// proxy reads the slot back from the address the query arrived on
// (IP_PKTINFO for UDP, getsockname for TCP). Queries to IPv6 servers from
// IPv6 sockets go to [::1]:<base + slot> instead, a socket pair per
// sandbox (IPv6 has no 127/8). The proxy answers names the sandbox may
// not reach itself (REFUSED or NXDOMAIN with an Extended DNS Error), and
// forwards the others to the upstream resolver. Addresses in an answer
// are handed to the daemon to learn *before* the answer goes back, so the
// connect that follows never races the map write.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agentd/common/result.hpp"
#include "agentd/common/sd_event_ptr.hpp"
#include "agentd/common/unique_fd.hpp"
#include "agentd/dns/client_budget.hpp"
#include "agentd/dns/message.hpp"
#include "agentd/dns/proxy_sockets.hpp"
#include "agentd/dns/tcp_exchange.hpp"

namespace agentd::dns {

struct ProxySettings {
  uint16_t port = 1053;
  uint16_t ipv6_port_base = 0;  // 0: no [::1] ports
  sockaddr_storage upstream{};
  socklen_t upstream_len = 0;
  std::chrono::milliseconds upstream_timeout{2000};
  ClientLimits limits;  // what one sandbox may hold (client_budget.hpp)
};

// "198.51.100.53", "198.51.100.53:5353", "[2001:db8::53]:53", "2001:db8::53".
Result<std::pair<sockaddr_storage, socklen_t>> parse_upstream(const std::string& text);
// The first nameserver of /etc/resolv.conf.
Result<std::string> upstream_from_resolv_conf(const std::string& path = "/etc/resolv.conf");
std::string address_str(const sockaddr_storage& addr);

// How the daemon answers for one query: refuse it now, or forward it and,
// once the upstream answered, learn what it said and shape the reply.
class QueryJudge {
 public:
  virtual ~QueryJudge() = default;
  // A refusal to send back at once, or nothing to forward the query.
  virtual std::optional<Bytes> judge(uint32_t slot, const Query& query, const std::string& transport) = 0;
  // The upstream's answer: learn what may be learned; returns the bytes
  // to give the sandbox (the answer, maybe without refused addresses).
  // `parsed`, when given, is parse_answer() of those bytes (a cache hit).
  virtual Bytes learn(uint32_t slot, const Query& query, const uint8_t* answer, size_t size,
                      const Answer* parsed = nullptr) = 0;
};

class DnsProxy {
 public:
  // Queries upstream at once, a socket each: bounded well below the
  // daemon's descriptor limit, and shared fairly (UpstreamPool). Per
  // sandbox, ClientLimits::in_flight_per_sandbox bounds both together.
  static constexpr size_t kMaxUdpForwards = 384;
  static constexpr size_t kMaxTcpForwards = 512;

  static Result<std::unique_ptr<DnsProxy>> start(sd_event* loop, const ProxySettings& settings, QueryJudge& judge);
  ~DnsProxy();

  struct Counters {
    uint64_t queries = 0, refused = 0, forwarded = 0, forwarded_tcp = 0, answered = 0, malformed = 0,
             upstream_failures = 0, cache_hits = 0,
             mismatched = 0;  // upstream datagrams that did not answer the query (discarded)
    uint64_t failed = 0;      // queries, answers and callbacks that threw: logged and dropped
    // queries answered SERVFAIL because their sandbox had too many in flight,
    // or held its fair share of the proxy's queries upstream when they were
    // nearly all taken (or gave one up to a sandbox below its share)
    uint64_t over_budget = 0;
    uint64_t shed = 0;  // TCP connections closed at accept: agentd was out of descriptors
  };
  const Counters& counters() const { return counters_; }

  // Serves sandbox `slot` on [::1]:<base + slot>, UDP and TCP; returns that
  // port (already served: the same). Fails when IPv6 is off or the port is
  // taken: the sandbox's queries to IPv6 servers are then refused.
  Result<uint16_t> serve_ipv6(uint32_t slot);
  // Where allowed queries go from now on (resolv.conf changed); answers
  // still on their way from the previous one are not taken.
  void set_upstream(const sockaddr_storage& upstream, socklen_t length) {
    settings_.upstream = upstream;
    settings_.upstream_len = length;
  }
  size_t ipv6_served() const { return ipv6_.size(); }
  // Serves sandbox `slot` on sockets of its own, 127.64.<slot>:<port>, UDP
  // and a TCP listener (the kernel prefers them to the wildcard ones): its
  // queries and connects queue apart from every other sandbox's, so a flood
  // fills its own receive queue or accept backlog only, and the loop takes
  // each sandbox's in turn. When one fails, the sandbox's queries or
  // connects still reach the shared socket or listener.
  Status serve_ipv4(uint32_t slot);
  // A sandbox's sockets inside another network namespace (a container's,
  // from open_in_netns), served as its own: replies leave from them.
  struct Foreign {
    uint64_t id = 0;
    uint32_t slot = 0;
    uint64_t cookie = 0;     // the namespace, as the hooks see it
    uint64_t netns_ino = 0;  // the namespace, as /proc/PID/ns/net shows it
    bool ipv6 = false;
  };
  Result<uint64_t> serve_foreign(uint32_t slot, uint64_t netns_ino, NetnsSockets sockets);
  std::vector<Foreign> foreign() const;
  void stop_foreign(uint64_t id);
  // A retired sandbox: its sockets closed (in any namespace), its connections and the
  // queries it has upstream dropped (an answer arriving later is never
  // learned for the slot's next sandbox), its use forgotten.
  void stop_serving(uint32_t slot);
  size_t ipv4_served() const;      // sandboxes with a UDP socket of their own
  size_t ipv4_tcp_served() const;  // sandboxes with a TCP listener of their own
  // The queries upstream: in flight, and how many may be.
  const UpstreamPool& udp_pool() const { return udp_pool_; }
  const UpstreamPool& tcp_pool() const { return tcp_pool_; }
  // Each sandbox's use of the proxy and what its budgets refused, by slot.
  const std::map<uint32_t, SandboxUse>& sandbox_use() const { return use_; }
  size_t tcp_connections() const { return connections_.size(); }
  const ProxySettings& settings() const { return settings_; }

 private:
  // Where an answer goes back to: a UDP peer or a TCP connection.
  struct Client {
    bool tcp = false;
    sockaddr_storage peer{};  // UDP: the resolver's address
    in_addr local{};          // UDP: the 127.64.x.y it sent to (the reply's source)
    uint32_t ipv6_slot = 0;   // UDP over [::1]: the slot whose socket took it (replies from there)
    uint32_t ipv4_slot = 0;   // UDP on a sandbox's own 127.64 socket: replies from there
    uint64_t connection = 0;  // TCP: the connection's serial
    uint64_t foreign = 0;     // UDP in another namespace: the endpoint that took it (replies from there)
  };
  struct Pending {
    Client client;
    uint32_t slot = 0;
    Query query;
    std::chrono::steady_clock::time_point deadline;
  };
  struct TcpConnection {
    DnsProxy* proxy = nullptr;
    uint64_t serial = 0;
    UniqueFd fd;
    uint32_t slot = 0;
    std::string in;        // bytes read, not yet a whole message (at most one, and a chunk)
    std::string out;       // bytes to write
    size_t in_flight = 0;  // its queries upstream
    bool eof = false;      // the client closed its side: flush what is owed, then close
    std::chrono::steady_clock::time_point last_read, last_written;  // for the idle and stall sweeps
    SdEventSourcePtr io;
    SdEventSourcePtr resume;  // messages already read wait for the next turn of the loop
  };

  DnsProxy(sd_event* loop, ProxySettings settings, QueryJudge& judge)
      : loop_(loop), settings_(settings), judge_(judge) {}

  // One sandbox's [::1] sockets.
  struct Ipv6Endpoint {
    DnsProxy* proxy = nullptr;
    uint32_t slot = 0;
    UniqueFd udp, tcp;
    SdEventSourcePtr udp_source, tcp_source;
  };

  static int on_udp(sd_event_source*, int fd, uint32_t, void* self);
  static int on_udp6(sd_event_source*, int fd, uint32_t, void* userdata);
  static int on_udp4(sd_event_source*, int fd, uint32_t, void* userdata);
  static int on_accept4(sd_event_source*, int fd, uint32_t, void* userdata);
  static int on_accept6(sd_event_source*, int fd, uint32_t, void* userdata);
  static int on_upstream(sd_event_source*, int fd, uint32_t, void* userdata);
  static int on_accept(sd_event_source*, int fd, uint32_t, void* self);
  static int on_tcp(sd_event_source*, int fd, uint32_t revents, void* userdata);
  static int on_sweep(sd_event_source*, uint64_t, void* self);
  static int on_resume(sd_event_source*, void* userdata);

  // own_slot 0: the shared 127.64.0.0/16 socket, whose slot is in
  // IP_PKTINFO; else the socket of that sandbox, [::1] or 127.64.
  void read_udp(int fd, uint32_t own_slot, bool ipv6, uint64_t foreign = 0);
  // known_slot 0: the 127.64.0.0/16 listener, whose slot is the local address.
  void accept_tcp(int listener, uint32_t known_slot);
  // A query that came over UDP goes upstream from a socket of its own.
  bool forward_over_udp(const Pending& pending, uint16_t id, const Bytes& query);
  void read_upstream(uint64_t serial);
  void drop_udp_forward(uint64_t serial);
  // Queries that came over TCP go upstream over TCP: their answers may not
  // fit UDP (a UDP client gets the truncated answer and retries over TCP).
  bool forward_over_tcp(const Pending& pending, const Bytes& query);
  void finish_tcp_forward(uint64_t serial, const Bytes& answer);
  // The upstream's answer to a pending query: cached, learned, returned.
  void deliver(const Pending& pending, const uint8_t* data, size_t size);
  void deliver_answer(const Pending& pending, const uint8_t* data, size_t size);
  void handle(const Client& client, uint32_t slot, const uint8_t* data, size_t size);
  void handle_query(const Client& client, uint32_t slot, const uint8_t* data, size_t size);
  void reply(const Client& client, const Bytes& bytes);
  void serve_tcp(uint64_t serial, uint32_t revents);
  void close_tcp(uint64_t serial);
  // Not read from while it has this many queries upstream or is owed this
  // many bytes: the client's own socket buffers hold what it sends meanwhile.
  bool paused(const TcpConnection& c) const;
  // All connections taken: close the least recently active one of the
  // sandbox holding the most, when that is fairer than refusing `slot`.
  bool make_room_for(uint32_t slot);
  // A forwarded query was answered, failed or dropped: its budgets free up.
  void forward_done(const Pending& pending);
  // The upstream pool is full and a sandbox below its share asks: the
  // oldest query of `victim` over that transport gives up its place, and
  // its client gets SERVFAIL.
  void evict_upstream(uint32_t victim, bool tcp);
  void sweep_tcp(std::chrono::steady_clock::time_point now);

  sd_event* loop_;
  ProxySettings settings_;
  QueryJudge& judge_;
  UniqueFd udp_, tcp_;
  SdEventSourcePtr udp_source_, tcp_source_, sweep_;
  // A UDP query upstream has its own connected socket: a fresh source port
  // the kernel picks at random and a random id, so a sandbox cannot tell
  // from one query where the next one leaves from, nor an off-path host
  // guess both; only the upstream's address can answer it (the kernel
  // checks, and so do we), and only with that id and question.
  struct UdpForward {
    DnsProxy* proxy = nullptr;
    uint64_t serial = 0;
    Pending pending;
    uint16_t id = 0;  // the id sent upstream
    UniqueFd fd;
    SdEventSourcePtr io;
  };
  std::map<uint64_t, std::unique_ptr<UdpForward>> udp_forwards_;  // by serial
  std::map<uint32_t, SandboxUse> use_;                            // by slot
  struct TcpForward {
    Pending pending;
    uint16_t id = 0;  // the id sent upstream
    std::unique_ptr<TcpExchange> exchange;
  };
  std::map<uint64_t, TcpForward> tcp_forwards_;  // by serial
  // Upstream answers with addresses, kept a few seconds (their TTL if
  // shorter): a hot name costs one round trip to the upstream per interval,
  // not one per query. Every hit is still judged and learned per sandbox.
  struct Cached {
    Bytes answer;
    Answer parsed;
    std::chrono::steady_clock::time_point expires;
  };
  std::map<std::string, Cached> cache_;  // by "qtype/qclass/name"
  void remember(const Query& query, const uint8_t* data, size_t size);
  std::map<uint64_t, std::unique_ptr<TcpConnection>> connections_;
  std::map<uint32_t, std::unique_ptr<Ipv6Endpoint>> ipv6_;  // by slot
  struct Ipv4Endpoint {
    DnsProxy* proxy = nullptr;
    uint32_t slot = 0;
    UniqueFd udp, tcp;  // either may be closed: that one could not be made
    SdEventSourcePtr source, tcp_source;
  };
  std::map<uint32_t, std::unique_ptr<Ipv4Endpoint>> ipv4_;  // by slot
  UpstreamPool udp_pool_{kMaxUdpForwards}, tcp_pool_{kMaxTcpForwards};
  struct ForeignEndpoint {
    DnsProxy* proxy = nullptr;
    Foreign info;
    NetnsSockets sockets;
    SdEventSourcePtr udp4_source, tcp4_source, udp6_source, tcp6_source;
  };
  static int on_foreign_udp(sd_event_source*, int fd, uint32_t, void* userdata);
  static int on_foreign_accept(sd_event_source*, int fd, uint32_t, void* userdata);
  std::map<uint64_t, std::unique_ptr<ForeignEndpoint>> foreign_;  // by id
  uint64_t next_foreign_ = 1;
  uint64_t next_serial_ = 1;
  Counters counters_;
};

}  // namespace agentd::dns
