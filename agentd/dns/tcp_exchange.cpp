#include "agentd/dns/tcp_exchange.hpp"

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>

namespace agentd::dns {

Result<std::unique_ptr<TcpExchange>> TcpExchange::start(sd_event* loop, const sockaddr_storage& upstream,
                                                        socklen_t upstream_len, const Bytes& query, Done done) {
  if (query.empty() || query.size() > kMaxMessageBytes) return make_error("a query of {} bytes", query.size());
  std::unique_ptr<TcpExchange> exchange(new TcpExchange());
  exchange->fd_.reset(::socket(upstream.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!exchange->fd_) return system_error("creating a TCP socket to the upstream resolver");
  if (::connect(exchange->fd_.get(), reinterpret_cast<const sockaddr*>(&upstream), upstream_len) != 0 &&
      errno != EINPROGRESS)
    return system_error("connecting to the upstream resolver over TCP");
  exchange->out_.push_back(static_cast<char>(query.size() >> 8));
  exchange->out_.push_back(static_cast<char>(query.size() & 0xff));
  exchange->out_.append(reinterpret_cast<const char*>(query.data()), query.size());
  exchange->done_ = std::move(done);
  sd_event_source* io = nullptr;
  if (int r = sd_event_add_io(loop, &io, exchange->fd_.get(), EPOLLOUT, &TcpExchange::on_io, exchange.get()); r < 0) {
    errno = -r;
    return system_error("watching the upstream TCP connection");
  }
  exchange->io_.reset(io);
  return exchange;
}

int TcpExchange::on_io(sd_event_source*, int, uint32_t revents, void* self) {
  static_cast<TcpExchange*>(self)->step(revents);
  return 0;
}

void TcpExchange::step(uint32_t revents) {
  if (!out_.empty()) {
    // Writable first means connected, or failed: send() tells which.
    const ssize_t n = ::send(fd_.get(), out_.data(), out_.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
      if (errno != EAGAIN) finish({});
      return;
    }
    out_.erase(0, static_cast<size_t>(n));
    if (out_.empty()) sd_event_source_set_io_events(io_.get(), EPOLLIN);
    return;
  }
  if (!(revents & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
  char chunk[4096];
  for (;;) {
    const ssize_t n = ::read(fd_.get(), chunk, sizeof(chunk));
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) return finish({});  // closed or failed before a whole answer
    in_.append(chunk, static_cast<size_t>(n));
    if (in_.size() < 2) continue;
    const size_t size = (static_cast<uint8_t>(in_[0]) << 8) | static_cast<uint8_t>(in_[1]);
    if (in_.size() >= 2 + size) {
      const auto* data = reinterpret_cast<const uint8_t*>(in_.data()) + 2;
      return finish(Bytes(data, data + size));
    }
  }
}

void TcpExchange::finish(Bytes answer) {
  io_.reset();
  fd_.reset();
  if (!done_) return;
  Done done = std::move(done_);
  done_ = nullptr;
  done(std::move(answer));  // last: may destroy this exchange
}

}  // namespace agentd::dns
