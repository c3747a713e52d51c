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
//   dnsprobe hold ADDR PORT COUNT SECONDS [until-closed]    open COUNT TCP
//       connections and hold them, sending nothing, for SECONDS (with
//       until-closed: at most, ending once the server closed them all);
//       print how many were opened, how many the server closed within a
//       second ("at_once"), how many later ("later"), how many were still
//       open at the end
//   dnsprobe pipeline ADDR PORT NAME SECONDS    one TCP connection: write
//       queries for NAME as fast as the socket takes them, never reading an
//       answer, for up to SECONDS; print how many were sent and whether (and
//       after how long) the server closed the connection
//   dnsprobe udpflood ADDR PORT NAME SECONDS [PER_SECOND]    send queries
//       for NAME over UDP as fast as the socket takes them (or PER_SECOND)
//       for SECONDS, never reading an answer; print how many were sent
//   dnsprobe silent ADDR PORT ANSWER_IP SILENT_NAME    a UDP "resolver" that
//       never answers SILENT_NAME (or a name under it) and answers every
//       other A query with ANSWER_IP (TTL 300), any other type with an empty
//       NOERROR, until SIGTERM
//   dnsprobe connflood ADDR PORT SECONDS PARALLEL    connect over TCP in a
//       tight loop for SECONDS, PARALLEL connects at once: each is held
//       while the server keeps it, and given up for a fresh one when the
//       handshake has not completed within 100 ms; print how many connects
//       were tried and how many completed
//   dnsprobe tcpask ADDR PORT NAME COUNT    COUNT queries for NAME over TCP,
//       one after another, a connection each (5 s at most each); print how
//       many were answered, how many connections needed a retransmission
//       (a SYN the server's backlog dropped) and the slowest in ms
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <vector>

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

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Whether the peer closed `fd`: EOF or an error on a read that does not block.
bool closed_by_peer(int fd) {
  char byte;
  const ssize_t n = recv(fd, &byte, 1, MSG_DONTWAIT | MSG_PEEK);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

int hold(const std::string& addr, int port, int count, int seconds, bool until_closed) {
  sockaddr_storage to{};
  socklen_t to_len = 0;
  if (!parse_address(addr, port, to, to_len) || count < 1) return 2;
  const auto start = std::chrono::steady_clock::now();
  std::vector<int> fds;
  int failed = 0;
  for (int i = 0; i < count; ++i) {
    int fd = socket(to.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) {
      ++failed;
      continue;
    }
    if (connect(fd, reinterpret_cast<sockaddr*>(&to), to_len) != 0 && errno != EINPROGRESS) {
      close(fd);
      ++failed;
      continue;
    }
    fds.push_back(fd);
  }
  // Connected (or refused) within 10 s: a full accept queue retries SYNs.
  int opened = 0;
  for (int fd : fds) {
    pollfd pfd{fd, POLLOUT, 0};
    int error = 0;
    socklen_t len = sizeof(error);
    const double left = 10.0 - seconds_since(start);
    if (poll(&pfd, 1, left > 0 ? static_cast<int>(left * 1000) : 0) == 1 &&
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) == 0 && error == 0)
      ++opened;
    else
      ++failed;
  }
  const auto held_from = std::chrono::steady_clock::now();
  std::vector<double> closed_after(fds.size(), -1);
  while (seconds_since(held_from) < seconds) {
    size_t still_open = 0;
    for (size_t i = 0; i < fds.size(); ++i) {
      if (closed_after[i] < 0 && closed_by_peer(fds[i])) closed_after[i] = seconds_since(held_from);
      still_open += closed_after[i] < 0;
    }
    if (until_closed && still_open == 0) break;
    usleep(20'000);
  }
  int at_once = 0, later = 0, open = 0;
  for (double t : closed_after) (t < 0 ? open : t < 1.0 ? at_once : later)++;
  std::printf("{\"op\":\"hold\",\"opened\":%d,\"failed\":%d,\"at_once\":%d,\"later\":%d,\"open\":%d}\n", opened, failed,
              at_once, later, open);
  for (int fd : fds) close(fd);
  return 0;
}

// An A query for `name` in wire form (empty if ldns cannot build it).
std::vector<uint8_t> a_query(const std::string& name) {
  ldns_pkt* pkt =
      ldns_pkt_query_new(ldns_dname_new_frm_str((name + ".").c_str()), LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, LDNS_RD);
  uint8_t* wire = nullptr;
  size_t size = 0;
  std::vector<uint8_t> query;
  if (pkt && ldns_pkt2wire(&wire, pkt, &size) == LDNS_STATUS_OK) query.assign(wire, wire + size);
  free(wire);
  ldns_pkt_free(pkt);
  return query;
}

int pipeline(const std::string& addr, int port, const std::string& name, int seconds) {
  sockaddr_storage to{};
  socklen_t to_len = 0;
  if (!parse_address(addr, port, to, to_len)) return 2;
  std::vector<uint8_t> wire = a_query(name);
  if (wire.empty()) return 2;
  const size_t size = wire.size();
  std::string framed;
  for (int i = 0; i < 64; ++i) {  // 64 queries a write, ids 0..63
    wire[0] = 0;
    wire[1] = static_cast<uint8_t>(i);
    framed.push_back(static_cast<char>(size >> 8));
    framed.push_back(static_cast<char>(size & 0xff));
    framed.append(reinterpret_cast<const char*>(wire.data()), size);
  }
  int fd = socket(to.ss_family, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&to), to_len) != 0) {
    std::printf("{\"op\":\"pipeline\",\"ok\":false,\"errno\":%d}\n", errno);
    return 1;
  }
  fcntl(fd, F_SETFL, O_NONBLOCK);
  const auto start = std::chrono::steady_clock::now();
  uint64_t sent = 0;
  double closed_at = -1;
  size_t offset = 0;
  while (seconds_since(start) < seconds) {
    const ssize_t n = send(fd, framed.data() + offset, framed.size() - offset, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<uint64_t>(n);
      offset = (offset + static_cast<size_t>(n)) % framed.size();
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      closed_at = seconds_since(start);
      break;
    }
    // Blocked: the server reads no more. Closed meanwhile?
    if (closed_by_peer(fd)) {
      closed_at = seconds_since(start);
      break;
    }
    pollfd pfd{fd, POLLOUT, 0};
    poll(&pfd, 1, 100);
  }
  std::printf("{\"op\":\"pipeline\",\"ok\":true,\"queries_sent\":%llu,\"closed\":%s,\"closed_after\":%.2f}\n",
              static_cast<unsigned long long>(sent / (size + 2)), closed_at >= 0 ? "true" : "false", closed_at);
  close(fd);
  return 0;
}

int udpflood(const std::string& addr, int port, const std::string& name, int seconds, int per_second) {
  sockaddr_storage to{};
  socklen_t to_len = 0;
  if (!parse_address(addr, port, to, to_len)) return 2;
  std::vector<uint8_t> wire = a_query(name);
  if (wire.empty()) return 2;
  int fd = socket(to.ss_family, SOCK_DGRAM, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&to), to_len) != 0) {
    std::printf("{\"op\":\"udpflood\",\"ok\":false,\"errno\":%d}\n", errno);
    return 1;
  }
  const auto start = std::chrono::steady_clock::now();
  uint64_t sent = 0;
  while (seconds_since(start) < seconds) {
    if (per_second > 0 && static_cast<double>(sent) >= seconds_since(start) * per_second) {
      usleep(1000);
      continue;
    }
    wire[0] = static_cast<uint8_t>(sent >> 8);
    wire[1] = static_cast<uint8_t>(sent);
    if (send(fd, wire.data(), wire.size(), 0) == static_cast<ssize_t>(wire.size())) ++sent;
  }
  std::printf("{\"op\":\"udpflood\",\"ok\":true,\"sent\":%llu}\n", static_cast<unsigned long long>(sent));
  close(fd);
  return 0;
}

// Connects in a loop, holding what the server keeps: a sandbox that would
// fill the proxy's accept backlog.
int connflood(const std::string& addr, int port, int seconds, int parallel) {
  sockaddr_storage to{};
  socklen_t to_len = 0;
  if (!parse_address(addr, port, to, to_len) || parallel < 1) return 2;
  struct Attempt {
    int fd = -1;
    bool connected = false;
    std::chrono::steady_clock::time_point since;
  };
  std::vector<Attempt> attempts(static_cast<size_t>(parallel));
  uint64_t tried = 0, completed = 0;
  const auto start = std::chrono::steady_clock::now();
  auto open_one = [&](Attempt& a) {
    a.fd = socket(to.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
    a.connected = false;
    a.since = std::chrono::steady_clock::now();
    if (a.fd < 0) return;
    ++tried;
    if (connect(a.fd, reinterpret_cast<sockaddr*>(&to), to_len) == 0) {
      a.connected = true;
      ++completed;
    }
  };
  std::vector<pollfd> fds(attempts.size());
  while (seconds_since(start) < seconds) {
    for (size_t i = 0; i < attempts.size(); ++i) {
      Attempt& a = attempts[i];
      if (a.fd < 0) open_one(a);
      fds[i] = {a.fd, static_cast<short>(a.connected ? POLLIN : POLLOUT), 0};
    }
    poll(fds.data(), fds.size(), 10);
    const auto now = std::chrono::steady_clock::now();
    for (size_t i = 0; i < attempts.size(); ++i) {
      Attempt& a = attempts[i];
      if (a.fd < 0) continue;
      bool done = false;
      if (!a.connected) {
        int error = 0;
        socklen_t len = sizeof(error);
        if (fds[i].revents & (POLLOUT | POLLERR | POLLHUP)) {
          getsockopt(a.fd, SOL_SOCKET, SO_ERROR, &error, &len);
          if (error == 0 && !(fds[i].revents & (POLLERR | POLLHUP))) {
            a.connected = true;
            ++completed;
          } else {
            done = true;
          }
        } else if (now - a.since > std::chrono::milliseconds(100)) {
          done = true;  // a SYN dropped: a fresh one at once rather than the kernel's retry in a second
        }
      } else if (fds[i].revents) {
        done = closed_by_peer(a.fd);  // closed by the server: connect again
      }
      if (done) {
        close(a.fd);
        a.fd = -1;
      }
    }
  }
  std::printf("{\"op\":\"connflood\",\"ok\":true,\"tried\":%llu,\"completed\":%llu}\n",
              static_cast<unsigned long long>(tried), static_cast<unsigned long long>(completed));
  for (auto& a : attempts)
    if (a.fd >= 0) close(a.fd);
  return 0;
}

// One query over a connection of its own: whether it was answered, and
// whether the connection needed a retransmission on the way.
int tcpask(const std::string& addr, int port, const std::string& name, int count) {
  sockaddr_storage to{};
  socklen_t to_len = 0;
  if (!parse_address(addr, port, to, to_len) || count < 1) return 2;
  std::vector<uint8_t> wire = a_query(name);
  if (wire.empty()) return 2;
  int answered = 0, retransmitted = 0;
  double slowest = 0;
  for (int i = 0; i < count; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const auto left_ms = [&] { return std::max(0, static_cast<int>(5000 - seconds_since(start) * 1000)); };
    int fd = socket(to.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) continue;
    wire[0] = 0x42;
    wire[1] = static_cast<uint8_t>(i);
    std::string framed{static_cast<char>(wire.size() >> 8), static_cast<char>(wire.size() & 0xff)};
    framed.append(reinterpret_cast<const char*>(wire.data()), wire.size());
    bool ok = connect(fd, reinterpret_cast<sockaddr*>(&to), to_len) == 0 || errno == EINPROGRESS;
    pollfd pfd{fd, POLLOUT, 0};
    int error = 0;
    socklen_t len = sizeof(error);
    ok = ok && poll(&pfd, 1, left_ms()) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) == 0 && error == 0;
    ok = ok && send(fd, framed.data(), framed.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(framed.size());
    std::string in;
    while (ok) {
      if (in.size() >= 2 &&
          in.size() >= 2 + static_cast<size_t>((static_cast<uint8_t>(in[0]) << 8) | static_cast<uint8_t>(in[1])))
        break;
      pollfd r{fd, POLLIN, 0};
      char buffer[4096];
      const ssize_t n = poll(&r, 1, left_ms()) == 1 ? recv(fd, buffer, sizeof(buffer), 0) : -1;
      if (n <= 0)
        ok = false;
      else
        in.append(buffer, static_cast<size_t>(n));
    }
    tcp_info info{};
    socklen_t info_len = sizeof(info);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &info_len) == 0 && info.tcpi_total_retrans > 0) ++retransmitted;
    // The answer: our id, QR, NOERROR.
    if (ok && in.size() >= 2 + 12 && static_cast<uint8_t>(in[2]) == 0x42 && static_cast<uint8_t>(in[3]) == i &&
        (static_cast<uint8_t>(in[4]) & 0x80) && (static_cast<uint8_t>(in[5]) & 0x0f) == 0)
      ++answered;
    slowest = std::max(slowest, seconds_since(start) * 1000);
    close(fd);
  }
  std::printf("{\"op\":\"tcpask\",\"ok\":true,\"asked\":%d,\"answered\":%d,\"retransmitted\":%d,\"slowest_ms\":%.1f}\n",
              count, answered, retransmitted, slowest);
  return 0;
}

volatile sig_atomic_t stopping = 0;

// The name of a query (lowercase, no final dot), or empty.
std::string question_name(const uint8_t* data, size_t size) {
  std::string name;
  size_t at = 12;
  while (at < size && data[at] != 0 && data[at] < 64) {
    const size_t length = data[at];
    if (at + 1 + length > size) return {};
    if (!name.empty()) name.push_back('.');
    for (size_t i = 0; i < length; ++i) name.push_back(static_cast<char>(std::tolower(data[at + 1 + i])));
    at += 1 + length;
  }
  return name;
}

// A resolver that keeps some queries waiting for ever: what an upstream
// that is slow for some names looks like to the proxy.
int silent(const std::string& addr, int port, const std::string& answer_ip, const std::string& silent_name) {
  signal(SIGTERM, [](int) { stopping = 1; });
  sockaddr_storage at{};
  socklen_t at_len = 0;
  in_addr answer{};
  if (!parse_address(addr, port, at, at_len) || inet_pton(AF_INET, answer_ip.c_str(), &answer) != 1) return 2;
  int fd = socket(at.ss_family, SOCK_DGRAM, 0);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&at), at_len) != 0) {
    std::printf("{\"op\":\"silent\",\"ok\":false,\"errno\":%d}\n", errno);
    return 1;
  }
  std::printf("{\"op\":\"silent\",\"ready\":true}\n");
  std::fflush(stdout);
  uint64_t kept = 0, answered = 0;
  while (!stopping) {
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, 200) != 1) continue;
    uint8_t buffer[4096];
    sockaddr_storage from{};
    socklen_t from_len = sizeof(from);
    const ssize_t n = recvfrom(fd, buffer, sizeof(buffer), 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 12 + 5 || (buffer[2] & 0x80)) continue;
    const std::string name = question_name(buffer, static_cast<size_t>(n));
    if (name.empty()) continue;
    if (name == silent_name || (name.size() > silent_name.size() &&
                                name.compare(name.size() - silent_name.size(), silent_name.size(), silent_name) == 0 &&
                                name[name.size() - silent_name.size() - 1] == '.')) {
      ++kept;
      continue;
    }
    // The question ends after the name's zero byte, its type and class.
    size_t end = 12;
    while (end < static_cast<size_t>(n) && buffer[end] != 0) end += 1 + buffer[end];
    end += 1 + 4;
    if (end > static_cast<size_t>(n)) continue;
    const bool type_a = buffer[end - 4] == 0 && buffer[end - 3] == 1;
    std::string reply(reinterpret_cast<const char*>(buffer), end);
    reply[2] = static_cast<char>(0x80 | (buffer[2] & 0x01) | 0x04);  // QR, AA, RD as asked
    reply[3] = static_cast<char>(0x80);                              // RA, NOERROR
    reply[4] = 0, reply[5] = 1;                                      // one question
    reply[6] = 0, reply[7] = type_a ? 1 : 0;                         // the answer
    reply.replace(8, 4, std::string(4, '\0'));                       // nothing else (no OPT)
    if (type_a) {
      const unsigned char rr[] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x01, 0x2c, 0, 4};  // the name, A, IN, TTL 300
      reply.append(reinterpret_cast<const char*>(rr), sizeof(rr));
      reply.append(reinterpret_cast<const char*>(&answer.s_addr), 4);
    }
    sendto(fd, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from), from_len);
    ++answered;
  }
  std::printf("{\"op\":\"silent\",\"kept\":%llu,\"answered\":%llu}\n", static_cast<unsigned long long>(kept),
              static_cast<unsigned long long>(answered));
  return 0;
}

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
  if (cmd == "hostile" && argc == 5)
    return hostile(argv[2], static_cast<int>(std::strtol(argv[3], nullptr, 10)), argv[4]);
  if (cmd == "record" && argc == 5)
    return record(argv[2], static_cast<int>(std::strtol(argv[3], nullptr, 10)), argv[4]);
  if (cmd == "hold" && (argc == 6 || (argc == 7 && std::string(argv[6]) == "until-closed")))
    return hold(argv[2], static_cast<int>(std::strtol(argv[3], nullptr, 10)),
                static_cast<int>(std::strtol(argv[4], nullptr, 10)),
                static_cast<int>(std::strtol(argv[5], nullptr, 10)), argc == 7);
  if (cmd == "udpflood" && (argc == 6 || argc == 7))
    return udpflood(argv[2], static_cast<int>(std::strtol(argv[3], nullptr, 10)), argv[4],
                    static_cast<int>(std::strtol(argv[5], nullptr, 10)),
                    argc == 7 ? static_cast<int>(std::strtol(argv[6], nullptr, 10)) : 0);
  if (cmd == "silent" && argc == 6)
    return silent(argv[2], static_cast<int>(std::strtol(argv[3], nullptr, 10)), argv[4], argv[5]);
  if (cmd == "connflood" && argc == 6)
    return connflood(argv[2], static_cast<int>(std::strtol(argv[3], nullptr, 10)),
                     static_cast<int>(std::strtol(argv[4], nullptr, 10)),
                     static_cast<int>(std::strtol(argv[5], nullptr, 10)));
  if (cmd == "tcpask" && argc == 6)
    return tcpask(argv[2], static_cast<int>(std::strtol(argv[3], nullptr, 10)), argv[4],
                  static_cast<int>(std::strtol(argv[5], nullptr, 10)));
  if (cmd == "pipeline" && argc == 6)
    return pipeline(argv[2], static_cast<int>(std::strtol(argv[3], nullptr, 10)), argv[4],
                    static_cast<int>(std::strtol(argv[5], nullptr, 10)));
  std::fprintf(stderr, "usage: see the comment at the top of dnsprobe.cpp\n");
  return 2;
}
