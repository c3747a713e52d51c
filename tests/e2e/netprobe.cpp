// netprobe: the e2e tests' network tool. Each action prints one JSON line
// and exits 0 on success, 1 when the operation failed, 2 on bad usage.
//
//   netprobe connect tcp|udp ADDR PORT     TCP handshake, or UDP connect + echo
//   netprobe sendto udp ADDR PORT          unconnected sendto + echo
//   netprobe fastopen ADDR PORT            TCP sendto(MSG_FASTOPEN)
//   netprobe bind tcp|udp ADDR PORT        bind (SO_REUSEADDR, as a squatter would)
//   netprobe socket FAMILY TYPE [PROTO]    create a socket
//   netprobe serve [--tcp P,..] [--udp P,..] [--sink P,..] [--bind ADDR]
//                                          accept/echo (sink: UDP, read and dropped) until SIGTERM
//   netprobe bench connect|sendto|socket|socket-udp ADDR PORT COUNT
//                                          ns per operation (socket: socket()+close() of ADDR's family)
//   netprobe loop ADDR PORT STOPFILE       TCP connects until STOPFILE exists: counts
//   netprobe spray STOPFILE                TCP connects, each to a new destination in 192.0.2.0/24
//                                          (address, then port; not 53), until STOPFILE exists (120 s at most)
//   netprobe resolve NAME [PORT]             getaddrinfo, then a TCP connect to the first address
//   netprobe until ok|refused ADDR PORT    TCP connects until that outcome: its wall-clock time
//   netprobe from SRC tcp|udp ADDR PORT    from source address SRC: a TCP handshake (2 s bound),
//                                          or a UDP datagram and its echo (inbound tests)
//
// Before any action, `--comm-hex HEX` sets the process name the kernel
// records (prctl PR_SET_NAME) to those bytes: any bytes, as an attacker
// would choose them (not UTF-8, terminal escapes, newlines).
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace {

struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_INET;
};

bool parse_address(const std::string& text, int port, Address& out) {
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
  if (inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    out.length = sizeof(*v4);
    out.family = AF_INET;
    return true;
  }
  if (inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    out.length = sizeof(*v6);
    out.family = AF_INET6;
    return true;
  }
  return false;
}

const char* errno_name(int e) {
  switch (e) {
    case EPERM:
      return "EPERM";
    case EACCES:
      return "EACCES";
    case ECONNREFUSED:
      return "ECONNREFUSED";
    case ENETUNREACH:
      return "ENETUNREACH";
    case EHOSTUNREACH:
      return "EHOSTUNREACH";
    case ETIMEDOUT:
      return "ETIMEDOUT";
    case EAFNOSUPPORT:
      return "EAFNOSUPPORT";
    case EPROTONOSUPPORT:
      return "EPROTONOSUPPORT";
    case EINVAL:
      return "EINVAL";
    case EAGAIN:
      return "EAGAIN";
    case ESOCKTNOSUPPORT:
      return "ESOCKTNOSUPPORT";
    default:
      return "EOTHER";
  }
}

int report(const std::string& op, const std::string& detail, bool ok, int error) {
  if (ok) {
    std::printf("{\"op\":\"%s\",%s\"ok\":true}\n", op.c_str(), detail.c_str());
  } else {
    std::printf("{\"op\":\"%s\",%s\"ok\":false,\"errno\":%d,\"error\":\"%s\"}\n", op.c_str(), detail.c_str(), error,
                errno_name(error));
  }
  std::fflush(stdout);
  return ok ? 0 : 1;
}

// Waits up to two seconds for a datagram; true when one came.
bool await_echo(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, 2000) != 1) return false;
  char buf[64];
  return recv(fd, buf, sizeof(buf), 0) > 0;
}

int do_connect(const std::string& proto, const std::string& addr, int port) {
  Address a;
  if (!parse_address(addr, port, a)) return 2;
  const bool tcp = proto == "tcp";
  const std::string detail =
      "\"proto\":\"" + proto + "\",\"dest\":\"" + addr + "\",\"port\":" + std::to_string(port) + ",";
  int fd = socket(a.family, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
  if (fd < 0) return report("socket", detail, false, errno);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a.storage), a.length) != 0)
    return report("connect", detail, false, errno);
  if (tcp) return report("connect", detail, true, 0);
  if (send(fd, "ping", 4, 0) < 0) return report("send", detail, false, errno);
  return await_echo(fd) ? report("echo", detail, true, 0) : report("echo", detail, false, ETIMEDOUT);
}

// The libc resolver (getaddrinfo, as most programs do), then a TCP connect
// to the first address when a port is given.
int do_resolve(const std::string& name, int port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  const int rc = getaddrinfo(name.c_str(), nullptr, &hints, &list);
  if (rc != 0) {
    std::printf("{\"op\":\"resolve\",\"name\":\"%s\",\"ok\":false,\"error\":\"%s\"}\n", name.c_str(), gai_strerror(rc));
    return 1;
  }
  std::string addresses;
  std::string first;
  for (addrinfo* a = list; a; a = a->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    const void* raw = a->ai_family == AF_INET
                          ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr)
                          : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr);
    inet_ntop(a->ai_family, raw, text, sizeof(text));
    if (addresses.find(std::string("\"") + text + "\"") != std::string::npos) continue;
    addresses += (addresses.empty() ? "\"" : ",\"") + std::string(text) + "\"";
    if (first.empty()) first = text;
  }
  freeaddrinfo(list);
  std::printf("{\"op\":\"resolve\",\"name\":\"%s\",\"addresses\":[%s],\"ok\":true}\n", name.c_str(), addresses.c_str());
  std::fflush(stdout);
  return port ? do_connect("tcp", first, port) : 0;
}

int do_sendto(const std::string& addr, int port) {
  Address a;
  if (!parse_address(addr, port, a)) return 2;
  const std::string detail = "\"proto\":\"udp\",\"dest\":\"" + addr + "\",\"port\":" + std::to_string(port) + ",";
  int fd = socket(a.family, SOCK_DGRAM, 0);
  if (fd < 0) return report("socket", detail, false, errno);
  if (sendto(fd, "ping", 4, 0, reinterpret_cast<sockaddr*>(&a.storage), a.length) < 0)
    return report("sendto", detail, false, errno);
  return await_echo(fd) ? report("echo", detail, true, 0) : report("echo", detail, false, ETIMEDOUT);
}

int do_bind(const std::string& proto, const std::string& addr, int port) {
  Address a;
  if (!parse_address(addr, port, a) || (proto != "tcp" && proto != "udp")) return 2;
  const std::string detail =
      "\"proto\":\"" + proto + "\",\"dest\":\"" + addr + "\",\"port\":" + std::to_string(port) + ",";
  int fd = socket(a.family, proto == "tcp" ? SOCK_STREAM : SOCK_DGRAM, 0);
  if (fd < 0) return report("socket", detail, false, errno);
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, reinterpret_cast<sockaddr*>(&a.storage), a.length) != 0) return report("bind", detail, false, errno);
  return report("bind", detail, true, 0);
}

int do_fastopen(const std::string& addr, int port) {
  Address a;
  if (!parse_address(addr, port, a)) return 2;
  const std::string detail = "\"proto\":\"tcp\",\"dest\":\"" + addr + "\",\"port\":" + std::to_string(port) + ",";
  int fd = socket(a.family, SOCK_STREAM, 0);
  if (fd < 0) return report("socket", detail, false, errno);
  if (sendto(fd, "ping", 4, MSG_FASTOPEN, reinterpret_cast<sockaddr*>(&a.storage), a.length) < 0)
    return report("fastopen", detail, false, errno);
  return report("fastopen", detail, true, 0);
}

int do_socket(const std::string& family, const std::string& type, const std::string& proto) {
  const std::map<std::string, int> families = {{"inet", AF_INET},       {"inet6", AF_INET6},   {"unix", AF_UNIX},
                                               {"netlink", AF_NETLINK}, {"packet", AF_PACKET}, {"vsock", AF_VSOCK}};
  const std::map<std::string, int> types = {
      {"stream", SOCK_STREAM}, {"dgram", SOCK_DGRAM}, {"raw", SOCK_RAW}, {"seqpacket", SOCK_SEQPACKET}};
  const std::map<std::string, int> protos = {
      {"tcp", IPPROTO_TCP}, {"udp", IPPROTO_UDP}, {"icmp", IPPROTO_ICMP}, {"icmpv6", IPPROTO_ICMPV6}};
  if (!families.contains(family) || !types.contains(type)) return 2;
  int protocol = proto.empty()            ? 0
                 : protos.contains(proto) ? protos.at(proto)
                                          : static_cast<int>(std::strtol(proto.c_str(), nullptr, 10));
  const std::string detail =
      "\"family\":\"" + family + "\",\"type\":\"" + type + "\",\"protocol\":" + std::to_string(protocol) + ",";
  int fd = socket(families.at(family), types.at(type), protocol);
  return report("socket", detail, fd >= 0, fd >= 0 ? 0 : errno);
}

std::vector<int> parse_ports(const std::string& list) {
  std::vector<int> ports;
  size_t start = 0;
  while (start < list.size()) {
    size_t comma = list.find(',', start);
    ports.push_back(static_cast<int>(std::strtol(list.substr(start, comma - start).c_str(), nullptr, 10)));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return ports;
}

volatile sig_atomic_t stopping = 0;

int do_serve(const std::vector<int>& tcp_ports, const std::vector<int>& udp_ports, const std::vector<int>& sink_ports,
             const std::string& bind_addr) {
  signal(SIGTERM, [](int) { stopping = 1; });
  signal(SIGPIPE, SIG_IGN);
  std::vector<pollfd> fds;
  std::vector<bool> is_tcp, is_sink;
  auto open_listener = [&](int port, bool tcp) {
    Address a;
    // Dual stack on [::] unless told where.
    parse_address(bind_addr.empty() ? "::" : bind_addr, port, a);
    int fd = socket(a.family, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
    int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (a.family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    // Echo from the address the datagram was sent to: a connected UDP
    // client drops replies from any other (the host has several).
    if (!tcp && a.family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
    if (!tcp && a.family == AF_INET) setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
    if (tcp) {
      int qlen = 64;
      setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN, &qlen, sizeof(qlen));
    }
    if (bind(fd, reinterpret_cast<sockaddr*>(&a.storage), a.length) != 0 || (tcp && listen(fd, 512) != 0)) {
      // NOLINTNEXTLINE(concurrency-mt-unsafe): the probe has one thread
      std::fprintf(stderr, "netprobe serve: port %d: %s\n", port, std::strerror(errno));
      std::exit(1);
    }
    fds.push_back({fd, POLLIN, 0});
    is_tcp.push_back(tcp);
    is_sink.push_back(false);
  };
  for (int p : tcp_ports) open_listener(p, true);
  for (int p : udp_ports) open_listener(p, false);
  for (int p : sink_ports) {
    open_listener(p, false);
    is_sink.back() = true;
  }
  std::printf("{\"op\":\"serve\",\"ready\":true}\n");
  std::fflush(stdout);
  while (!stopping) {
    if (poll(fds.data(), fds.size(), 200) <= 0) continue;
    for (size_t i = 0; i < fds.size(); ++i) {
      if (!(fds[i].revents & POLLIN)) continue;
      if (is_tcp[i]) {
        int c = accept(fds[i].fd, nullptr, nullptr);
        if (c >= 0) close(c);
      } else {
        char buf[512];
        char control[256];
        sockaddr_storage from{};
        iovec iov{buf, sizeof(buf)};
        msghdr msg{};
        msg.msg_name = &from;
        msg.msg_namelen = sizeof(from);
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof(control);
        ssize_t n = recvmsg(fds[i].fd, &msg, 0);
        // A sink answers nothing: a sender's benchmark measures its sends,
        // not the replies queueing up at its socket.
        if (n <= 0 || is_sink[i]) continue;
        // Send back with the same packet info (the local address it came to).
        for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
          if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO)
            reinterpret_cast<in6_pktinfo*>(CMSG_DATA(c))->ipi6_ifindex = 0;
          if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO)
            reinterpret_cast<in_pktinfo*>(CMSG_DATA(c))->ipi_ifindex = 0;
        }
        iov.iov_len = static_cast<size_t>(n);
        sendmsg(fds[i].fd, &msg, 0);
      }
    }
  }
  return 0;
}

// Median-free raw figure: total time / count; the benchmark driver takes
// medians over many runs.
int do_bench(const std::string& what, const std::string& addr, int port, long count) {
  Address a;
  if (!parse_address(addr, port, a) || count <= 0) return 2;
  if (what != "connect" && what != "sendto" && what != "socket" && what != "socket-udp") return 2;
  int udp = -1;
  if (what == "sendto") udp = socket(a.family, SOCK_DGRAM, 0);
  auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < count; ++i) {
    if (what == "socket" || what == "socket-udp") {
      int fd = socket(a.family, what == "socket" ? SOCK_STREAM : SOCK_DGRAM, 0);
      if (fd < 0) return report("bench", "", false, errno);
      close(fd);
    } else if (what == "connect") {
      int fd = socket(a.family, SOCK_STREAM, 0);
      if (connect(fd, reinterpret_cast<sockaddr*>(&a.storage), a.length) != 0) return report("bench", "", false, errno);
      close(fd);
    } else if (sendto(udp, "x", 1, 0, reinterpret_cast<sockaddr*>(&a.storage), a.length) < 0) {
      return report("bench", "", false, errno);
    }
  }
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count();
  std::printf("{\"op\":\"bench\",\"what\":\"%s\",\"count\":%ld,\"ns_per_op\":%.1f,\"ok\":true}\n", what.c_str(), count,
              static_cast<double>(ns) / static_cast<double>(count));
  return 0;
}

// Tight loop of TCP connects, counting outcomes, until the stop file appears.
int do_loop(const std::string& addr, int port, const std::string& stop_file) {
  Address a;
  if (!parse_address(addr, port, a)) return 2;
  long ok = 0, refused = 0, other = 0;
  for (long i = 0;; ++i) {
    if (i % 16 == 0 && access(stop_file.c_str(), F_OK) == 0) break;
    int fd = socket(a.family, SOCK_STREAM, 0);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a.storage), a.length) == 0)
      ++ok;
    else if (errno == EPERM)
      ++refused;
    else
      ++other;
    close(fd);
  }
  std::printf(
      "{\"op\":\"loop\",\"dest\":\"%s\",\"port\":%d,\"connected\":%ld,\"refused\":%ld,\"other\":%ld,\"ok\":true}\n",
      addr.c_str(), port, ok, refused, other);
  return 0;
}

// A flood of distinct destinations, as an agent scanning would make: every
// connect goes somewhere it has not gone before, so the per-destination
// record limit never applies. TEST-NET-1 only, which no policy allows and
// nothing in the test world serves; never port 53, which the hooks send to
// agentd's DNS proxy instead of denying.
int do_spray(const std::string& stop_file) {
  long ok = 0, refused = 0, other = 0;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  for (long i = 0;; ++i) {
    if (i % 64 == 0 && (access(stop_file.c_str(), F_OK) == 0 || std::chrono::steady_clock::now() > give_up)) break;
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(0xc0000200u | static_cast<uint32_t>(i & 0xff));  // 192.0.2.x
    const auto port = static_cast<uint16_t>(1 + (i >> 8) % 65535);
    if (port == 53) continue;
    sin.sin_port = htons(port);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) == 0)
      ++ok;
    else if (errno == EPERM)
      ++refused;
    else
      ++other;
    close(fd);
  }
  std::printf("{\"op\":\"spray\",\"connected\":%ld,\"refused\":%ld,\"other\":%ld,\"ok\":true}\n", ok, refused, other);
  return 0;
}

// Connects until the outcome is the one wanted (at most 60 s); prints
// when, in wall-clock nanoseconds, so a benchmark can compare it with when
// it changed the policy.
int do_until(const std::string& wanted, const std::string& addr, int port) {
  Address a;
  if (!parse_address(addr, port, a) || (wanted != "ok" && wanted != "refused")) return 2;
  std::printf("{\"op\":\"until\",\"ready\":true}\n");
  std::fflush(stdout);
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < give_up) {
    int fd = socket(a.family, SOCK_STREAM, 0);
    const bool connected = connect(fd, reinterpret_cast<sockaddr*>(&a.storage), a.length) == 0;
    const bool refused = !connected && errno == EPERM;
    close(fd);
    if ((wanted == "ok" && connected) || (wanted == "refused" && refused)) {
      const long long ns =
          std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
              .count();
      std::printf("{\"op\":\"until\",\"at_ns\":%lld,\"ok\":true}\n", ns);
      return 0;
    }
    usleep(100);  // not a busy loop: on a small host it would starve the daemon being measured
  }
  return report("until", "", false, ETIMEDOUT);
}

// A peer with a chosen source address: what the inbound tests use to be
// an allowed or a forbidden host. A dropped SYN is retried for minutes:
// two seconds without an answer counts as ETIMEDOUT.
int do_from(const std::string& source, const std::string& proto, const std::string& addr, int port) {
  Address a, s;
  if (!parse_address(addr, port, a) || !parse_address(source, 0, s) || a.family != s.family) return 2;
  const bool tcp = proto == "tcp";
  const std::string detail = "\"source\":\"" + source + "\",\"proto\":\"" + proto + "\",\"dest\":\"" + addr +
                             "\",\"port\":" + std::to_string(port) + ",";
  int fd = socket(a.family, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK, 0);
  if (fd < 0) return report("socket", detail, false, errno);
  if (bind(fd, reinterpret_cast<sockaddr*>(&s.storage), s.length) != 0) return report("bind", detail, false, errno);
  if (!tcp) {
    if (connect(fd, reinterpret_cast<sockaddr*>(&a.storage), a.length) != 0 || send(fd, "ping", 4, 0) < 0)
      return report("send", detail, false, errno);
    return await_echo(fd) ? report("echo", detail, true, 0) : report("echo", detail, false, ETIMEDOUT);
  }
  if (connect(fd, reinterpret_cast<sockaddr*>(&a.storage), a.length) != 0 && errno != EINPROGRESS)
    return report("connect", detail, false, errno);
  pollfd p{fd, POLLOUT, 0};
  if (poll(&p, 1, 2000) != 1) return report("connect", detail, false, ETIMEDOUT);
  int error = 0;
  socklen_t length = sizeof(error);
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
  return report("connect", detail, error == 0, error);
}

// "ff1b5b" -> "\xff\x1b[": nothing else, or no name.
std::optional<std::string> from_hex(const std::string& hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string bytes;
  for (size_t i = 0; i < hex.size(); i += 2) {
    char* end = nullptr;
    const std::string pair = hex.substr(i, 2);
    const long value = std::strtol(pair.c_str(), &end, 16);
    if (end != pair.c_str() + 2) return std::nullopt;
    bytes += static_cast<char>(value);
  }
  return bytes;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() >= 2 && args[0] == "--comm-hex") {
    auto name = from_hex(args[1]);
    if (!name || name->empty() || name->find('\0') != std::string::npos) return 2;
    if (::prctl(PR_SET_NAME, name->c_str(), 0, 0, 0) != 0) return 1;  // the kernel keeps the first 15 bytes
    args.erase(args.begin(), args.begin() + 2);
  }
  auto arg = [&](size_t i) { return i < args.size() ? args[i] : std::string(); };
  const std::string cmd = arg(0);
  if (cmd == "connect" && args.size() == 4)
    return do_connect(arg(1), arg(2), static_cast<int>(std::strtol(arg(3).c_str(), nullptr, 10)));
  if (cmd == "sendto" && args.size() == 4 && arg(1) == "udp")
    return do_sendto(arg(2), static_cast<int>(std::strtol(arg(3).c_str(), nullptr, 10)));
  if (cmd == "bind" && args.size() == 4)
    return do_bind(arg(1), arg(2), static_cast<int>(std::strtol(arg(3).c_str(), nullptr, 10)));
  if (cmd == "fastopen" && args.size() == 3)
    return do_fastopen(arg(1), static_cast<int>(std::strtol(arg(2).c_str(), nullptr, 10)));
  if (cmd == "socket" && (args.size() == 3 || args.size() == 4)) return do_socket(arg(1), arg(2), arg(3));
  if (cmd == "bench" && args.size() == 5)
    return do_bench(arg(1), arg(2), static_cast<int>(std::strtol(arg(3).c_str(), nullptr, 10)),
                    std::strtol(arg(4).c_str(), nullptr, 10));
  if (cmd == "loop" && args.size() == 4)
    return do_loop(arg(1), static_cast<int>(std::strtol(arg(2).c_str(), nullptr, 10)), arg(3));
  if (cmd == "spray" && args.size() == 2) return do_spray(arg(1));
  if (cmd == "resolve" && (args.size() == 2 || args.size() == 3))
    return do_resolve(arg(1), args.size() == 3 ? static_cast<int>(std::strtol(arg(2).c_str(), nullptr, 10)) : 0);
  if (cmd == "until" && args.size() == 4)
    return do_until(arg(1), arg(2), static_cast<int>(std::strtol(arg(3).c_str(), nullptr, 10)));
  if (cmd == "from" && args.size() == 5)
    return do_from(arg(1), arg(2), arg(3), static_cast<int>(std::strtol(arg(4).c_str(), nullptr, 10)));
  if (cmd == "serve") {
    std::vector<int> tcp, udp, sink;
    std::string bind_addr;
    for (size_t i = 1; i + 1 < args.size(); i += 2) {
      if (args[i] == "--tcp")
        tcp = parse_ports(args[i + 1]);
      else if (args[i] == "--udp")
        udp = parse_ports(args[i + 1]);
      else if (args[i] == "--sink")
        sink = parse_ports(args[i + 1]);
      else if (args[i] == "--bind")
        bind_addr = args[i + 1];
      else
        return 2;
    }
    return do_serve(tcp, udp, sink, bind_addr);
  }
  std::fprintf(stderr, "usage: see the comment at the top of netprobe.cpp\n");
  return 2;
}
