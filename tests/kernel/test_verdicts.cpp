// The kernel side on its own (issue 17, item 7): the order in which the
// hooks consult what they hold (the DNS redirect, which no rule can stop,
// then rules, learned addresses, grants), the accounting of denials, and
// the DNS rewrites,
// with maps written by hand and no daemon. Every probe is a real socket
// call in a child process inside the test's cgroup and network namespace.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstring>

#include "bpf_fixture.hpp"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

using namespace agentd::bpf_test;

namespace {

constexpr uint8_t kTcp = AGENTD_PROTO_TCP;
constexpr uint8_t kAny = AGENTD_PROTO_ANY;
constexpr uint8_t kAllow = AGENTD_ACTION_ALLOW;
constexpr uint8_t kDeny = AGENTD_ACTION_DENY;

uint64_t monotonic_ns() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(now.tv_nsec);
}

// A /25 allowing TCP 80, and inside it a /26 denied on every port: the
// trie holds what covers each prefix, flattened, as the compiler writes it.
void write_rules(BpfFixture& f) {
  f.add_rule(kClass, "198.51.100.0/25", {range(80, 80, kTcp, kAllow)});
  f.add_rule(kClass, "198.51.100.64/26", {range(0, 65535, kAny, kDeny), range(80, 80, kTcp, kAllow)});
  f.add_rule(kClass, "2001:db8:1::/64", {range(443, 443, kTcp, kAllow)});
}

bool has_record(const std::vector<agentd_deny_event>& records, const std::string& address, uint16_t port,
                uint8_t reason, uint32_t slot) {
  in_addr want{};
  inet_pton(AF_INET, address.c_str(), &want);
  for (const auto& r : records)
    if (std::memcmp(r.addr, &want, 4) == 0 && r.port == port && r.reason == reason && r.slot == slot) return true;
  return false;
}

}  // namespace

TEST_CASE("rules decide first, then learned addresses, then grants, and an explicit deny beats both") {
  BpfFixture f;
  write_rules(f);
  const uint64_t later = monotonic_ns() + 3600'000'000'000ULL;
  f.learn(kSlot, "198.51.100.70", {range(80, 80, kTcp, kAllow)}, later);  // under the deny
  f.learn(kSlot, "198.51.100.200", {range(443, 443, kTcp, kAllow)}, later);
  f.learn(kSlot, "198.51.100.203", {range(443, 443, kTcp, kAllow)}, 1);   // expired long ago
  f.grant(kSlot, "198.51.100.71", {range(22, 22, kTcp, kAllow)}, later);  // under the deny
  f.grant(kSlot, "198.51.100.201", {range(22, 22, kTcp, kAllow)}, later);
  f.grant(kSlot, "198.51.100.204", {range(22, 22, kTcp, kAllow)}, 1);  // ended

  const Results r = f.run_in(f.sandbox(), [](Results& out) {
    out.push_back(tcp_connect("198.51.100.10", 80));         // 0: the /25 rule
    out.push_back(tcp_connect("198.51.100.10", 81));         // 1: no port of it
    out.push_back(udp_send("198.51.100.10", 80));            // 2: TCP only
    out.push_back(tcp_connect("198.51.100.70", 80));         // 3: the deny, despite a learned entry
    out.push_back(tcp_connect("198.51.100.200", 443));       // 4: learned
    out.push_back(tcp_connect("198.51.100.200", 80));        // 5: learned, another port
    out.push_back(tcp_connect("198.51.100.203", 443));       // 6: learned, expired
    out.push_back(tcp_connect("198.51.100.71", 22));         // 7: the deny, despite a grant
    out.push_back(tcp_connect("198.51.100.201", 22));        // 8: granted
    out.push_back(tcp_connect("198.51.100.204", 22));        // 9: granted, ended
    out.push_back(tcp_connect("2001:db8:1::5", 443));        // 10: IPv6 rule
    out.push_back(tcp_connect("::ffff:198.51.100.10", 80));  // 11: IPv4-mapped: the IPv4 rule
    out.push_back(tcp_connect("::ffff:198.51.100.70", 80));  // 12: and the IPv4 deny
  });
  REQUIRE(r.size() == 13);
  CHECK(r[0] == 0);
  CHECK(r[1] == EPERM);
  CHECK(r[2] == EPERM);
  CHECK(r[3] == EPERM);
  CHECK(r[4] == 0);
  CHECK(r[5] == EPERM);
  CHECK(r[6] == EPERM);
  CHECK(r[7] == EPERM);
  CHECK(r[8] == 0);
  CHECK(r[9] == EPERM);
  CHECK(r[10] == 0);
  CHECK(r[11] == 0);
  CHECK(r[12] == EPERM);

  // Each denial is a record naming why.
  const auto records = f.take_records();
  CHECK(has_record(records, "198.51.100.10", 81, AGENTD_REASON_NO_RULE, kSlot));
  CHECK(has_record(records, "198.51.100.70", 80, AGENTD_REASON_DENY_RULE, kSlot));
  CHECK(has_record(records, "198.51.100.71", 22, AGENTD_REASON_DENY_RULE, kSlot));
  CHECK(has_record(records, "198.51.100.203", 443, AGENTD_REASON_DNS_EXPIRED, kSlot));
  const agentd_counters counts = f.counters(kSlot);
  CHECK(counts.allowed >= 5);
  CHECK(counts.denied >= 8);
}

TEST_CASE("a cgroup that is no sandbox, and a sandbox that is not active, are denied everything") {
  BpfFixture f;
  write_rules(f);
  const Results outside = f.run_in(f.outside(), [](Results& out) {
    out.push_back(tcp_connect("198.51.100.10", 80));
    out.push_back(udp_send("198.51.100.10", 80));
  });
  REQUIRE(outside.size() == 2);
  CHECK(outside[0] == EPERM);
  CHECK(outside[1] == EPERM);
  CHECK(has_record(f.take_records(), "198.51.100.10", 80, AGENTD_REASON_UNKNOWN_CGROUP, AGENTD_SLOT_UNKNOWN));

  f.set_sandbox(kSlot, kClass, false);
  const Results inactive = f.run_in(f.sandbox(), [](Results& out) { out.push_back(tcp_connect("198.51.100.10", 80)); });
  REQUIRE(inactive.size() == 1);
  CHECK(inactive[0] == EPERM);
  f.set_sandbox(kSlot, kClass, true);
  const Results active = f.run_in(f.sandbox(), [](Results& out) { out.push_back(tcp_connect("198.51.100.10", 80)); });
  REQUIRE(active.size() == 1);
  CHECK(active[0] == 0);
}

TEST_CASE("every denial is counted once: recorded, suppressed by the stream limit, held or dropped") {
  BpfFixture f;
  write_rules(f);
  constexpr int kAttempts = 40;
  const Results r = f.run_in(f.sandbox(), [](Results& out) {
    for (int i = 0; i < kAttempts; ++i) out.push_back(tcp_connect("198.51.100.10", 81));
  });
  REQUIRE(r.size() == kAttempts);
  for (int e : r) CHECK(e == EPERM);
  const agentd_counters counts = f.counters(kSlot);
  const agentd_record_counts records = f.record_counts(kSlot);
  CHECK(counts.denied == kAttempts);
  CHECK(counts.denied == records.recorded + counts.suppressed + records.held + records.dropped);
  // One stream: at most five records a second; the loop spans one or two.
  const auto written = f.take_records();
  CHECK(written.size() == records.recorded);
  CHECK(records.recorded >= 1);
  CHECK(records.recorded <= uint64_t{2} * AGENTD_RECORDS_PER_SECOND);
  CHECK(counts.suppressed >= kAttempts - 2 * AGENTD_RECORDS_PER_SECOND);
}

TEST_CASE(
    "DNS to any server goes to the proxy address of the sandbox's slot, before any rule, and the answer comes from the "
    "server") {
  BpfFixture f;
  write_rules(f);
  constexpr uint16_t kProxyPort = 5353;
  f.set_dns(kProxyPort);
  const int dnsns = f.map_fd(f.skeleton()->maps.agentd_dnsns);
  int proxy = -1;
  const Results r = f.run_in(
      f.sandbox(),
      [&](Results& out) {
        // The sandbox asks a server a deny rule covers, on port 53: the
        // query goes to the proxy all the same, never to the server.
        int ask = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_in server{};
        server.sin_family = AF_INET;
        server.sin_port = htons(53);
        inet_pton(AF_INET, "198.51.100.99", &server.sin_addr);
        out.push_back(::sendto(ask, "q", 1, 0, reinterpret_cast<sockaddr*>(&server), sizeof(server)) == 1 ? 0 : errno);
        // The proxy's socket gets it, and answers whoever sent it.
        pollfd p{proxy, POLLIN, 0};
        char byte = 0;
        sockaddr_in from{};
        socklen_t from_length = sizeof(from);
        const bool arrived = ::poll(&p, 1, 5000) == 1 &&
                             ::recvfrom(proxy, &byte, 1, 0, reinterpret_cast<sockaddr*>(&from), &from_length) == 1;
        out.push_back(arrived && byte == 'q');
        if (arrived) ::sendto(proxy, "a", 1, 0, reinterpret_cast<sockaddr*>(&from), from_length);
        // The answer reads as the server's.
        pollfd q{ask, POLLIN, 0};
        sockaddr_in source{};
        socklen_t source_length = sizeof(source);
        const bool answered = ::poll(&q, 1, 5000) == 1 &&
                              ::recvfrom(ask, &byte, 1, 0, reinterpret_cast<sockaddr*>(&source), &source_length) == 1;
        char text[INET_ADDRSTRLEN] = {};
        inet_ntop(AF_INET, &source.sin_addr, text, sizeof(text));
        out.push_back(answered && byte == 'a');
        out.push_back(answered && std::string(text) == "198.51.100.99" && ntohs(source.sin_port) == 53);
      },
      [&](Results&) {
        // Outside the hooks: the proxy's socket at 127.64.<slot>, and the
        // namespace marked as one the proxy serves (agentd does both).
        proxy = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_in at{};
        at.sin_family = AF_INET;
        at.sin_port = htons(kProxyPort);
        at.sin_addr.s_addr = htonl(AGENTD_DNS_NET | kSlot);
        if (::bind(proxy, reinterpret_cast<sockaddr*>(&at), sizeof(at)) != 0) throw std::runtime_error("bind");
        agentd_dnsns_key key{};
        socklen_t length = sizeof(key.netns_cookie);
        if (getsockopt(proxy, SOL_SOCKET, SO_NETNS_COOKIE, &key.netns_cookie, &length) != 0)
          throw std::runtime_error("netns cookie");
        const uint32_t yes = 1;
        if (bpf_map_update_elem(dnsns, &key, &yes, BPF_ANY) != 0) throw std::runtime_error("dnsns");
      });
  REQUIRE(r.size() == 4);
  CHECK(r[0] == 0);
  CHECK(r[1] == 1);
  CHECK(r[2] == 1);
  CHECK(r[3] == 1);
}

// Issue 15: a socket's sandbox is the cgroup the kernel recorded when it
// was made (TCP and IPv6 UDP read it through BTF; IPv4 UDP from the storage
// made at socket()), not the cgroup of whoever uses it.
TEST_CASE(
    "a socket is judged by the cgroup it was made in, whoever uses it, and a sandbox's child cgroup is the sandbox") {
  BpfFixture f;
  write_rules(f);
  f.add_rule(kClass, "198.51.100.10/32", {range(80, 80, kAny, kAllow)});
  f.add_rule(kClass, "2001:db8:1::/64", {range(443, 443, kAny, kAllow)});
  const auto child = f.sandbox() / "child";
  std::filesystem::create_directory(child);
  // A TCP, an IPv4 UDP and an IPv6 UDP socket made in one cgroup, used
  // from another.
  auto made_then_used = [&](const std::filesystem::path& made_in, const std::filesystem::path& used_in) {
    return f.run_in(made_in, [&](Results& out) {
      ProbeSocket tcp("198.51.100.10", 80, SOCK_STREAM), udp4("198.51.100.10", 80, SOCK_DGRAM),
          udp6("2001:db8:1::10", 443, SOCK_DGRAM);
      move_to(used_in);
      out.push_back(tcp.use());
      out.push_back(udp4.use());
      out.push_back(udp6.use());
      out.push_back(tcp_connect("198.51.100.11", 80));  // and one made where it is used
    });
  };
  CHECK(made_then_used(f.sandbox(), f.outside()) == Results{0, 0, 0, EPERM});
  CHECK(made_then_used(f.outside(), f.sandbox()) == Results{EPERM, EPERM, EPERM, 0});

  // A cgroup the sandbox made below its own: the sandbox's, through the
  // ancestors the kernel links (and the task's ancestors for the rest).
  const Results below = f.run_in(child, [&](Results& out) {
    out.push_back(tcp_connect("198.51.100.10", 80));
    out.push_back(udp_send("2001:db8:1::10", 443));
    out.push_back(tcp_connect("198.51.100.70", 81));  // the /26's deny, under the sandbox's class
  });
  REQUIRE(below.size() == 3);
  CHECK(below[0] == 0);
  CHECK(below[1] == 0);
  CHECK(below[2] == EPERM);
  CHECK(has_record(f.take_records(), "198.51.100.70", 81, AGENTD_REASON_DENY_RULE, kSlot));
  CHECK(f.counters(kSlot).allowed == 6);
  std::filesystem::remove(child);
}

// The stream limit over time, without waiting: the test ages each
// stream's window by hand, as a second passing would.
TEST_CASE("a stream's records open again once its window has passed, and the next record carries what was held back") {
  BpfFixture f;
  write_rules(f);
  const int ratelimit = f.map_fd(f.skeleton()->maps.agentd_ratelim);
  auto age_windows = [&] {
    agentd_ratelimit_key key{}, next{};
    const void* previous = nullptr;
    int aged = 0;
    while (bpf_map_get_next_key(ratelimit, previous, &next) == 0) {
      agentd_ratelimit_value value{};
      REQUIRE(bpf_map_lookup_elem(ratelimit, &next, &value) == 0);
      value.window_start_ns -= 2'000'000'000ULL;
      REQUIRE(bpf_map_update_elem(ratelimit, &next, &value, BPF_EXIST) == 0);
      key = next;
      previous = &key;
      ++aged;
    }
    return aged;
  };
  constexpr int kHeld = 7;
  const Results burst = f.run_in(f.sandbox(), [](Results& out) {
    for (int i = 0; i < AGENTD_RECORDS_PER_SECOND + kHeld; ++i) out.push_back(tcp_connect("198.51.100.10", 81));
  });
  for (int e : burst) CHECK(e == EPERM);
  CHECK(f.take_records().size() == AGENTD_RECORDS_PER_SECOND);
  CHECK(f.counters(kSlot).suppressed == kHeld);

  REQUIRE(age_windows() == 1);
  const Results later = f.run_in(f.sandbox(), [](Results& out) { out.push_back(tcp_connect("198.51.100.10", 81)); });
  CHECK(later == Results{EPERM});
  const auto records = f.take_records();
  REQUIRE(records.size() == 1);
  CHECK(records[0].suppressed == kHeld);  // what the window held, handed on, counted once
  CHECK(f.counters(kSlot).suppressed == kHeld);
  CHECK(f.record_counts(kSlot).recorded == AGENTD_RECORDS_PER_SECOND + 1);
}

// The second wall (packet_path.bpf.h): a datagram the hooks allowed goes,
// the same datagram with a loose source route added as ancillary data
// (which no setsockopt refusal sees; the probe is root, so the kernel
// itself accepts the option) is dropped and recorded.
TEST_CASE("the packet wall passes an allowed datagram and drops the same with a source route added as ancillary data") {
  BpfFixture f;
  write_rules(f);
  f.add_rule(kClass, "198.51.100.10/32", {range(80, 80, kAny, kAllow)});
  const Results r = f.run_in(f.sandbox(), [](Results& out) {
    agentd::UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(80);
    inet_pton(AF_INET, "198.51.100.10", &to.sin_addr);
    char payload[] = "ping";
    out.push_back(::sendto(fd.get(), payload, 4, 0, reinterpret_cast<sockaddr*>(&to), sizeof(to)) == 4 ? 0 : errno);
    // LSRR (type 131) through 198.51.100.66, which the policy never allows.
    uint8_t route[8] = {131, 7, 4, 198, 51, 100, 66, 0};
    char control[CMSG_SPACE(sizeof(route))] = {};
    iovec iov{payload, 4};
    msghdr msg{};
    msg.msg_name = &to;
    msg.msg_namelen = sizeof(to);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_RETOPTS;
    c->cmsg_len = CMSG_LEN(sizeof(route));
    std::memcpy(CMSG_DATA(c), route, sizeof(route));
    out.push_back(::sendmsg(fd.get(), &msg, 0) >= 0 ? 0 : errno);
  });
  REQUIRE(r.size() == 2);
  CHECK(r[0] == 0);
  CHECK(r[1] == EPERM);
  CHECK(has_record(f.take_records(), "198.51.100.66", 0, AGENTD_REASON_ROUTE_HEADER, kSlot));
}
