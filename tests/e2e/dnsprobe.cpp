// dnsprobe: DNS messages netprobe and dig cannot make, for the e2e tests.
// Each action prints one JSON line.
//
//   dnsprobe hostile ADDR PORT NAME    send a query for NAME (type A) as a
//       hostile sandbox would: mixed case, CD and AD set, EDNS size 4096
//       and DO, with client subnet, cookie and padding ("SECRET-IN-PADDING")
//       options, an authority and an additional record; print the rcode
//   dnsprobe record ADDR PORT FILE     a UDP "resolver" that appends each
//       query it receives to FILE as a line "SOURCEPORT HEX" and answers it with an
//       empty NOERROR response, until SIGTERM
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

// Last: ldns's headers may define `bool` as a macro.
#include <ldns/ldns.h>

namespace {

bool parse_address(const std::string& text, int port, sockaddr_storage& out, socklen_t& length) {
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out);
  if (inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    length = sizeof(sockaddr_in);
    return true;
  }
  if (inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    length = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

void push(ldns_pkt* pkt, ldns_pkt_section section, const char* text) {
  ldns_rr* rr = nullptr;
  if (ldns_rr_new_frm_str(&rr, text, 300, nullptr, nullptr) == LDNS_STATUS_OK) ldns_pkt_push_rr(pkt, section, rr);
}

int hostile(const std::string& addr, int port, const std::string& name) {
  sockaddr_storage to{};
  socklen_t to_len = 0;
  if (!parse_address(addr, port, to, to_len)) return 2;
  std::string mixed = name + ".";
  for (size_t i = 0; i < mixed.size(); i += 2) mixed[i] = static_cast<char>(std::toupper(mixed[i]));
  ldns_pkt* pkt = ldns_pkt_query_new(ldns_dname_new_frm_str(mixed.c_str()), LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, LDNS_RD);
  ldns_pkt_set_id(pkt, 0x5151);
  ldns_pkt_set_cd(pkt, true);
  ldns_pkt_set_ad(pkt, true);
  ldns_pkt_set_edns_udp_size(pkt, 4096);
  ldns_pkt_set_edns_do(pkt, true);
  ldns_edns_option_list* options = ldns_edns_option_list_new();
  const std::string subnet("\x00\x01\x18\x00\xcb\x00\x71", 7);  // 203.0.113.0/24
  ldns_edns_option_list_push(options, ldns_edns_new_from_data(LDNS_EDNS_CLIENT_SUBNET, subnet.size(), subnet.data()));
  const std::string cookie = "COOKIE01";
  ldns_edns_option_list_push(options, ldns_edns_new_from_data(LDNS_EDNS_COOKIE, cookie.size(), cookie.data()));
  const std::string padding = "SECRET-IN-PADDING";
  ldns_edns_option_list_push(options, ldns_edns_new_from_data(LDNS_EDNS_PADDING, padding.size(), padding.data()));
  ldns_pkt_set_edns_option_list(pkt, options);
  push(pkt, LDNS_SECTION_AUTHORITY, "test. 300 IN NS ns.smuggled.test.");
  push(pkt, LDNS_SECTION_ADDITIONAL, "extra.smuggled.test. 300 IN TXT \"exfiltrated\"");
  uint8_t* wire = nullptr;
  size_t size = 0;
  const bool built = ldns_pkt2wire(&wire, pkt, &size) == LDNS_STATUS_OK;
  ldns_pkt_free(pkt);
  if (!built) return 2;
  int fd = socket(to.ss_family, SOCK_DGRAM, 0);
  const bool sent = fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&to), to_len) == 0 &&
                    send(fd, wire, size, 0) == static_cast<ssize_t>(size);
  free(wire);
  if (!sent) {
    std::printf("{\"op\":\"hostile\",\"ok\":false,\"errno\":%d}\n", errno);
    return 1;
  }
  pollfd pfd{fd, POLLIN, 0};
  uint8_t reply[65536];
  const ssize_t n = poll(&pfd, 1, 5000) == 1 ? recv(fd, reply, sizeof(reply), 0) : -1;
  if (n < 12) {
    std::printf("{\"op\":\"hostile\",\"ok\":false,\"error\":\"no answer\"}\n");
    return 1;
  }
  std::printf("{\"op\":\"hostile\",\"ok\":true,\"id\":%d,\"rcode\":%d}\n", (reply[0] << 8) | reply[1], reply[3] & 0x0f);
  return 0;
}

volatile sig_atomic_t stopping = 0;

int record(const std::string& addr, int port, const std::string& file) {
  signal(SIGTERM, [](int) { stopping = 1; });
  sockaddr_storage at{};
  socklen_t at_len = 0;
  if (!parse_address(addr, port, at, at_len)) return 2;
  int fd = socket(at.ss_family, SOCK_DGRAM, 0);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&at), at_len) != 0) {
    std::printf("{\"op\":\"record\",\"ok\":false,\"errno\":%d}\n", errno);
    return 1;
  }
  std::printf("{\"op\":\"record\",\"ready\":true}\n");
  std::fflush(stdout);
  while (!stopping) {
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, 200) != 1) continue;
    uint8_t buffer[65536];
    sockaddr_storage from{};
    socklen_t from_len = sizeof(from);
    const ssize_t n = recvfrom(fd, buffer, sizeof(buffer), 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 12) continue;
    if (FILE* out = std::fopen(file.c_str(), "a")) {
      const uint16_t from_port = from.ss_family == AF_INET ? reinterpret_cast<sockaddr_in&>(from).sin_port
                                                           : reinterpret_cast<sockaddr_in6&>(from).sin6_port;
      std::fprintf(out, "%u ", ntohs(from_port));
      for (ssize_t i = 0; i < n; ++i) std::fprintf(out, "%02x", buffer[i]);
      std::fprintf(out, "\n");
      std::fclose(out);
    }
    buffer[2] |= 0x80;  // QR: the query itself, as an empty NOERROR answer
    buffer[3] &= 0xf0;
    sendto(fd, buffer, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&from), from_len);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "hostile" && argc == 5) return hostile(argv[2], std::atoi(argv[3]), argv[4]);
  if (cmd == "record" && argc == 5) return record(argv[2], std::atoi(argv[3]), argv[4]);
  std::fprintf(stderr, "usage: see the comment at the top of dnsprobe.cpp\n");
  return 2;
}
