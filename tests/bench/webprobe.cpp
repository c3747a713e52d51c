// webprobe: the name-check benchmark's client and server (bench_names.cpp).
// Each client action prints one JSON line {"ok":true,"ns_per_op":...}.
//
//   webprobe serve PORT                  per connection: read a request's header block, answer
//                                        200 "ok", then read and drop the rest until EOF
//   webprobe requests ADDR PORT HOST N   N times: connect, GET / with Host: HOST, read the
//                                        answer, close; ns per request
//   webprobe bulk ADDR PORT HOST MB      one request, then MB MiB in 64 KiB writes; ns per MiB
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

int report(double ns_per_op) {
  std::printf("{\"op\":\"webprobe\",\"ns_per_op\":%.1f,\"ok\":true}\n", ns_per_op);
  return 0;
}

int fail(const char* what) {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): the probe has one thread
  std::printf("{\"op\":\"webprobe\",\"ok\":false,\"error\":\"%s: %s\"}\n", what, std::strerror(errno));
  return 1;
}

bool read_until(int fd, const char* marker) {
  std::string got;
  char buf[4096];
  while (got.find(marker) == std::string::npos) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) return false;
    got.append(buf, static_cast<size_t>(n));
  }
  return true;
}

bool write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = write(fd, data, size);
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// One connection: the request, our answer, then whatever else it sends.
void serve_one(int fd) {
  static const char kAnswer[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  if (read_until(fd, "\r\n\r\n") && write_all(fd, kAnswer, sizeof(kAnswer) - 1)) {
    std::vector<char> sink(1 << 16);
    while (read(fd, sink.data(), sink.size()) > 0) {
    }
  }
  close(fd);
}

int serve(int port) {
  signal(SIGPIPE, SIG_IGN);
  int fd = socket(AF_INET6, SOCK_STREAM, 0);
  int one = 1, zero = 0;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_port = htons(static_cast<uint16_t>(port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(fd, 512) != 0) return fail("listen");
  std::printf("{\"op\":\"serve\",\"ready\":true}\n");
  std::fflush(stdout);
  for (;;) {
    const int c = accept(fd, nullptr, nullptr);
    if (c >= 0) std::thread(serve_one, c).detach();
  }
}

int connect_to(const sockaddr_in& to) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof(to)) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 2 && args[0] == "serve") return serve(static_cast<int>(std::strtol(args[1].c_str(), nullptr, 10)));
  if (args.size() != 5 || (args[0] != "requests" && args[0] != "bulk")) {
    std::fprintf(stderr, "usage: webprobe serve PORT | requests ADDR PORT HOST N | bulk ADDR PORT HOST MB\n");
    return 2;
  }
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(std::strtol(args[2].c_str(), nullptr, 10)));
  if (inet_pton(AF_INET, args[1].c_str(), &to.sin_addr) != 1) return 2;
  const std::string request = "GET / HTTP/1.1\r\nHost: " + args[3] + "\r\nUser-Agent: webprobe\r\n\r\n";
  const long count = std::strtol(args[4].c_str(), nullptr, 10);
  if (count <= 0) return 2;
  const auto start = std::chrono::steady_clock::now();
  if (args[0] == "requests") {
    for (long i = 0; i < count; ++i) {
      const int fd = connect_to(to);
      if (fd < 0) return fail("connect");
      if (!write_all(fd, request.data(), request.size())) return fail("write");
      if (!read_until(fd, "\r\n\r\nok")) return fail("read");
      close(fd);
    }
  } else {
    const int fd = connect_to(to);
    if (fd < 0) return fail("connect");
    if (!write_all(fd, request.data(), request.size()) || !read_until(fd, "\r\n\r\nok")) return fail("request");
    std::vector<char> chunk(1 << 16, 'x');
    for (long i = 0; i < count * 16; ++i)
      if (!write_all(fd, chunk.data(), chunk.size())) return fail("write");
    shutdown(fd, SHUT_WR);
    char end;
    while (read(fd, &end, 1) > 0) {
    }
    close(fd);
  }
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start);
  return report(static_cast<double>(ns.count()) / static_cast<double>(count));
}
