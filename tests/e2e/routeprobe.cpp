// routeprobe: the attacks on the packet path that the route walls close
// (bpf/route_options.h, bpf/packet_path.bpf.h). Each sends one UDP datagram
// to an allowed DEST:PORT while asking the kernel to route it through VIA
// first, or to claim VIA as its source. Prints one JSON line per step and
// exits 0 when the datagram was sent, 1 when a step was refused, 2 on bad
// usage.
//
//   routeprobe srh-option DEST PORT VIA      IPv6 segment routing header (type 4), setsockopt IPV6_RTHDR
//   routeprobe rthdr2-cmsg DEST PORT VIA     IPv6 type 2 routing header as sendmsg ancillary data
//   routeprobe lsrr-option DEST PORT VIA     IPv4 loose source route, setsockopt IP_OPTIONS
//   routeprobe lsrr-cmsg DEST PORT VIA       IPv4 loose source route as IP_RETOPTS ancillary data
//   routeprobe freebind DEST PORT VIA        IPV6_FREEBIND/IP_FREEBIND, bind VIA, send from it
//   routeprobe transparent DEST PORT VIA     IPV6_TRANSPARENT/IP_TRANSPARENT, bind VIA, send from it
//   routeprobe pktinfo DEST PORT VIA          sticky IPV6_PKTINFO: VIA as every datagram's source
//   routeprobe bindtodevice DEST PORT DEV    SO_BINDTODEVICE, then send
//   routeprobe addrform DEST4 PORT VIA       an IPv6 UDP socket connected to ::ffff:DEST4, turned
//                                            into an IPv4 one (IPV6_ADDRFORM), then send
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip6.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

int report(const std::string& op, int result) {
  const int error = errno;
  if (result >= 0) {
    std::printf("{\"op\":\"%s\",\"ok\":true}\n", op.c_str());
  } else {
    std::printf("{\"op\":\"%s\",\"ok\":false,\"errno\":%d,\"error\":\"%s\"}\n", op.c_str(), error,
                error == EPERM ? "EPERM" : std::strerror(error));  // NOLINT(concurrency-mt-unsafe): one thread
  }
  std::fflush(stdout);
  return result >= 0 ? 0 : 1;
}

struct Target {
  int family = AF_INET;
  sockaddr_storage dest{};
  socklen_t length = 0;
  in_addr via4{};
  in6_addr via6{};
};

bool parse(const char* dest, const char* port, const char* via, Target& t) {
  auto* v4 = reinterpret_cast<sockaddr_in*>(&t.dest);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&t.dest);
  const auto p = htons(static_cast<uint16_t>(std::stoi(port)));
  if (inet_pton(AF_INET, dest, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = p;
    t.length = sizeof(*v4);
    t.family = AF_INET;
    return inet_pton(AF_INET, via, &t.via4) == 1;
  }
  if (inet_pton(AF_INET6, dest, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = p;
    t.length = sizeof(*v6);
    t.family = AF_INET6;
    return inet_pton(AF_INET6, via, &t.via6) == 1;
  }
  return false;
}

int send_plain(int fd, const Target& t) {
  return report("sendto",
                static_cast<int>(sendto(fd, "ping", 4, 0, reinterpret_cast<const sockaddr*>(&t.dest), t.length)));
}

int send_with_cmsg(int fd, const Target& t, int level, int type, const void* data, size_t size) {
  std::vector<char> control(CMSG_SPACE(size), 0);
  char payload[] = "ping";
  iovec iov{payload, 4};
  msghdr msg{};
  msg.msg_name = const_cast<sockaddr_storage*>(&t.dest);
  msg.msg_namelen = t.length;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = level;
  c->cmsg_type = type;
  c->cmsg_len = CMSG_LEN(size);
  std::memcpy(CMSG_DATA(c), data, size);
  return report("sendmsg", static_cast<int>(sendmsg(fd, &msg, 0)));
}

// A segment routing header with VIA as the first segment; the kernel puts
// the destination into segments[0] and sends the packet to VIA.
std::vector<uint8_t> segment_routing_header(const in6_addr& via) {
  std::vector<uint8_t> srh(8 + 2 * sizeof(in6_addr), 0);
  srh[1] = 4;  // hdrlen: 2 segments of 16 bytes, in 8-byte units
  srh[2] = 4;  // type 4: segment routing
  srh[3] = 1;  // segments left
  srh[4] = 1;  // last entry
  std::memcpy(srh.data() + 8 + sizeof(in6_addr), &via, sizeof(via));
  return srh;
}

// A type 2 routing header (Mobile IPv6): one address, which the kernel
// makes the packet's first destination.
std::vector<uint8_t> type2_routing_header(const in6_addr& via) {
  std::vector<uint8_t> rh(8 + sizeof(in6_addr), 0);
  rh[1] = 2;
  rh[2] = 2;
  rh[3] = 1;
  std::memcpy(rh.data() + 8, &via, sizeof(via));
  return rh;
}

// Loose source route through VIA (padded to 8 bytes with an end of list).
std::vector<uint8_t> loose_source_route(const in_addr& via) {
  std::vector<uint8_t> opt = {131, 7, 4, 0, 0, 0, 0, 0};
  std::memcpy(opt.data() + 3, &via, sizeof(via));
  return opt;
}

int bind_via(int fd, const Target& t) {
  sockaddr_storage local{};
  socklen_t length = t.length;
  if (t.family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&local);
    a->sin6_family = AF_INET6;
    a->sin6_addr = t.via6;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&local);
    a->sin_family = AF_INET;
    a->sin_addr = t.via4;
  }
  return report("bind", bind(fd, reinterpret_cast<sockaddr*>(&local), length));
}

int spoof_source(int fd, const Target& t, int v4_option, int v6_option) {
  const int one = 1;
  const int level = t.family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP;
  if (report("setsockopt", setsockopt(fd, level, t.family == AF_INET6 ? v6_option : v4_option, &one, sizeof(one))))
    return 1;
  if (bind_via(fd, t)) return 1;
  return send_plain(fd, t);
}

int usage() {
  std::fprintf(stderr,
               "usage: routeprobe srh-option|rthdr2-cmsg|lsrr-option|lsrr-cmsg|freebind|transparent|pktinfo|addrform "
               "DEST PORT VIA\n"
               "       routeprobe bindtodevice DEST PORT DEV\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) return usage();
  const std::string action = argv[1];
  Target t;
  if (action == "bindtodevice") {
    if (!parse(argv[2], argv[3], argv[2], t)) return usage();
  } else if (!parse(argv[2], argv[3], argv[4], t)) {
    return usage();
  }
  const int fd = socket(t.family, SOCK_DGRAM, 0);
  if (fd < 0) return report("socket", -1);

  if (action == "srh-option" && t.family == AF_INET6) {
    auto srh = segment_routing_header(t.via6);
    if (report("setsockopt", setsockopt(fd, IPPROTO_IPV6, IPV6_RTHDR, srh.data(), static_cast<socklen_t>(srh.size()))))
      return 1;
    return send_plain(fd, t);
  }
  if (action == "rthdr2-cmsg" && t.family == AF_INET6) {
    auto rh = type2_routing_header(t.via6);
    return send_with_cmsg(fd, t, IPPROTO_IPV6, IPV6_RTHDR, rh.data(), rh.size());
  }
  if (action == "lsrr-option" && t.family == AF_INET) {
    auto opt = loose_source_route(t.via4);
    if (report("setsockopt", setsockopt(fd, IPPROTO_IP, IP_OPTIONS, opt.data(), static_cast<socklen_t>(opt.size()))))
      return 1;
    return send_plain(fd, t);
  }
  if (action == "lsrr-cmsg" && t.family == AF_INET) {
    auto opt = loose_source_route(t.via4);
    return send_with_cmsg(fd, t, IPPROTO_IP, IP_RETOPTS, opt.data(), opt.size());
  }
  if (action == "freebind") return spoof_source(fd, t, IP_FREEBIND, IPV6_FREEBIND);
  if (action == "transparent") return spoof_source(fd, t, IP_TRANSPARENT, IPV6_TRANSPARENT);
  if (action == "pktinfo" && t.family == AF_INET6) {
    in6_pktinfo info{};
    info.ipi6_addr = t.via6;
    if (report("setsockopt", setsockopt(fd, IPPROTO_IPV6, IPV6_PKTINFO, &info, sizeof(info)))) return 1;
    return send_plain(fd, t);
  }
  if (action == "addrform" && t.family == AF_INET) {
    // The sandbox of an IPv6 UDP socket is read from the kernel while it is
    // one; converted, it would be judged as an IPv4 socket without storage.
    const int s6 = socket(AF_INET6, SOCK_DGRAM, 0);
    if (s6 < 0) return report("socket", -1);
    sockaddr_in6 mapped{};
    mapped.sin6_family = AF_INET6;
    mapped.sin6_port = reinterpret_cast<const sockaddr_in*>(&t.dest)->sin_port;
    mapped.sin6_addr.s6_addr[10] = 0xff;
    mapped.sin6_addr.s6_addr[11] = 0xff;
    std::memcpy(&mapped.sin6_addr.s6_addr[12], &reinterpret_cast<const sockaddr_in*>(&t.dest)->sin_addr, 4);
    if (report("connect", connect(s6, reinterpret_cast<const sockaddr*>(&mapped), sizeof(mapped)))) return 1;
    const int inet = AF_INET;
    if (report("setsockopt", setsockopt(s6, IPPROTO_IPV6, IPV6_ADDRFORM, &inet, sizeof(inet)))) return 1;
    return report("send", static_cast<int>(send(s6, "ping", 4, 0)));
  }
  if (action == "bindtodevice") {
    const std::string dev = argv[4];
    if (report("setsockopt",
               setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, dev.c_str(), static_cast<socklen_t>(dev.size()))))
      return 1;
    return send_plain(fd, t);
  }
  return usage();
}
