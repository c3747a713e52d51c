#include "agentd/api/server.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "agentd/api/protocol.hpp"
#include "agentd/common/accept_or_shed.hpp"
#include "agentd/common/guard.hpp"
#include "agentd/common/json_dump.hpp"
#include "agentd/common/safe_text.hpp"

namespace agentd::api {
namespace fs = std::filesystem;
namespace {

constexpr uint64_t kClientDeadlineUsec = 5'000'000;  // a client that says nothing is dropped
// Connections taken per wakeup: a client that connects without pause must
// not keep the loop (the DNS proxy, the records, every other client) in
// accept; the listener is level-triggered, so the rest wait one turn.
constexpr int kAcceptsPerWakeup = 64;

// Now, from the clock rather than sd_event_now(): that is when the loop's
// turn began, and one turn of a flood can outlast a client's whole deadline.
uint64_t monotonic_now_usec() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1'000'000 + static_cast<uint64_t>(now.tv_nsec) / 1000;
}

// The groups the peer process holds (Linux 4.13+), which is what counts,
// rather than what the user database says it could have.
void read_peer_groups(int fd, Peer& peer) {
  std::vector<gid_t> groups(64);
  for (int attempt = 0; attempt < 2; ++attempt) {
    socklen_t len = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len) == 0) {
      groups.resize(len / sizeof(gid_t));
      peer.groups = std::move(groups);
      peer.groups_known = true;
      return;
    }
    if (errno != ERANGE) return;
    groups.resize(len / sizeof(gid_t) + 1);
  }
}

}  // namespace

Status check_socket_free(const fs::path& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.string().size() >= sizeof(addr.sun_path)) return ok_status();  // listen() reports it
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (probe && ::connect(probe.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0)
    return make_error("another agentd is listening on {}: stop it first, or give this one another --socket",
                      path.string());
  return ok_status();
}

Result<std::unique_ptr<Server>> Server::listen(sd_event* loop, const fs::path& path, Handler handler, Gate gate,
                                               ClientLimits limits) {
  std::unique_ptr<Server> server(new Server(loop, path, std::move(handler), std::move(gate), limits));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.string().size() >= sizeof(addr.sun_path))
    return make_error("socket path {} is longer than {} bytes", path.string(), sizeof(addr.sun_path) - 1);
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);

  std::error_code ec;
  if (!path.parent_path().empty()) fs::create_directories(path.parent_path(), ec);
  if (ec) return make_error("creating {}: {}", path.parent_path().string(), ec.message());
  // A socket file left by a daemon that was killed: nobody listens on it.
  // One somebody answers on belongs to a running agentd: never take it over.
  if (auto busy = check_socket_free(path); !busy) return busy.error();
  ::unlink(path.c_str());

  server->listen_fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!server->listen_fd_) return system_error("creating the control socket");
  // 0660 from the start: no window in which others could connect.
  mode_t old_mask = ::umask(0117);
  int rc = ::bind(server->listen_fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::umask(old_mask);
  if (rc != 0) return system_error("binding the control socket {}", path.string());
  if (::listen(server->listen_fd_.get(), 64) != 0) return system_error("listening on {}", path.string());

  sd_event_source* source = nullptr;
  if (int r = sd_event_add_io(loop, &source, server->listen_fd_.get(), EPOLLIN, &Server::on_accept, server.get());
      r < 0) {
    errno = -r;
    return system_error("watching the control socket");
  }
  server->listen_source_.reset(source);
  return server;
}

Server::~Server() {
  clients_.clear();
  listen_source_.reset();
  if (listen_fd_) ::unlink(path_.c_str());
}

// sd-event is C: nothing may unwind through it, and a callback that
// returned an error would be switched off for good.
int Server::on_accept(sd_event_source*, int, uint32_t, void* self) {
  auto* server = static_cast<Server*>(self);
  guarded("accepting control clients", server->failed_, [&] { server->accept_clients(); });
  return 0;
}

void Server::accept_clients() {
  for (int taken = 0; taken < kAcceptsPerWakeup; ++taken) {
    UniqueFd fd = accept_or_shed(listen_fd_.get(), SOCK_NONBLOCK | SOCK_CLOEXEC, &shed_);
    if (!fd) return;  // EAGAIN: all taken; out of descriptors: one shed; other errors: the client is gone
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) continue;
    Peer peer{cred.pid, cred.uid, cred.gid, {}, false};
    read_peer_groups(fd.get(), peer);
    auto refusal = gate_(peer);
    if (refusal && refusal->at_accept) {
      // Told and closed now: a sandbox holds none of our descriptors.
      // Logged at the first of a burst only (a flood must not flood the log).
      if (refused_in_sandbox_++ % 1000 == 0)
        spdlog::warn("control socket: closed pid {} uid {} at accept: {} ({} so far)", peer.pid, peer.uid,
                     terminal_text(refusal->why), refused_in_sandbox_);
      turn_away(fd.get(), refusal->why);
      continue;
    }
    if (auto limit = over_limit(peer)) {
      if (refused_over_limit_++ % 1000 == 0)
        spdlog::warn("control socket: closed pid {} uid {} at accept: {} ({} so far)", peer.pid, peer.uid, *limit,
                     refused_over_limit_);
      turn_away(fd.get(), *limit);
      continue;
    }
    auto client = std::make_shared<Client>();
    client->server = this;
    client->peer = peer;
    // A refused peer still gets its request read, then the refusal as the
    // answer: closing on unread data would reset the connection instead.
    if (refusal) {
      client->refusal = refusal->why;
      // Any uid that may connect can repeat this: the first of each thousand is logged.
      if (refused_no_role_++ % 1000 == 0)
        spdlog::warn("control socket: refused pid {} uid {}: {} ({} so far)", peer.pid, peer.uid,
                     terminal_text(refusal->why), refused_no_role_);
    }
    client->fd = std::move(fd);
    sd_event_source* io = nullptr;
    sd_event_source* deadline = nullptr;
    if (sd_event_add_io(loop_, &io, client->fd.get(), EPOLLIN, &Server::on_readable, client.get()) < 0) continue;
    client->io.reset(io);
    if (sd_event_add_time(loop_, &deadline, CLOCK_MONOTONIC, monotonic_now_usec() + kClientDeadlineUsec, 0,
                          &Server::on_deadline, client.get()) < 0)
      continue;
    client->deadline.reset(deadline);
    Client* key = client.get();
    clients_.emplace(key, std::move(client));
  }
}

std::optional<std::string> Server::over_limit(const Peer& peer) const {
  if (clients_.size() >= limits_.total)
    return fmt::format("agentd holds {} control connections, its limit: try again later", limits_.total);
  size_t held = 0;
  for (const auto& [key, client] : clients_) held += client->peer.uid == peer.uid;
  if (held >= limits_.per_uid)
    return fmt::format("uid {} holds {} control connections, the limit per uid: close some", peer.uid, held);
  return std::nullopt;
}

void Server::turn_away(int fd, const std::string& why) {
  // One line, never waited for: a client that does not read misses it.
  const std::string text = agentd::dump_json(error_response(why)) + "\n";
  (void)::send(fd, text.data(), text.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  // Closing on unread data resets the connection, and a reset client
  // reads ECONNRESET instead of our line: take what it already sent (a
  // request line, bounded) without waiting for more.
  char sink[4096];
  for (size_t taken = 0; taken < kMaxRequestBytes;) {
    const ssize_t n = ::recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
    if (n <= 0) break;
    taken += static_cast<size_t>(n);
  }
}

ServerCounters Server::counters() const {
  ServerCounters c;
  c.clients = clients_.size();
  for (const auto& [key, client] : clients_) c.subscriptions += client->streaming;
  c.refused_in_sandbox = refused_in_sandbox_;
  c.refused_over_limit = refused_over_limit_;
  c.refused_no_role = refused_no_role_;
  c.shed = shed_;
  return c;
}

int Server::on_deadline(sd_event_source*, uint64_t, void* userdata) {
  auto* client = static_cast<Client*>(userdata);
  Server* server = client->server;
  guarded("dropping a silent control client", server->failed_, [&] { server->drop(*client); });
  return 0;
}

int Server::on_readable(sd_event_source*, int, uint32_t, void* userdata) {
  auto* client = static_cast<Client*>(userdata);
  Server* server = client->server;
  if (!guarded("a control request", server->failed_, [&] { server->serve(*client); }))
    server->clients_.erase(client);  // if it is still there: its state is unknown now
  return 0;
}

void Server::drop(Client& client) { clients_.erase(&client); }

void Server::serve(Client& client) {
  const int fd = client.fd.get();
  if (client.streaming) {
    // A subscriber says nothing more; what it sends is read and dropped,
    // and its hang-up ends the subscription.
    char sink[512];
    ssize_t n;
    while ((n = ::read(fd, sink, sizeof(sink))) > 0) {
    }
    if (n == 0 || (errno != EAGAIN && errno != EINTR)) drop(client);
    return;
  }
  char chunk[4096];
  bool closed = false;
  for (;;) {
    ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n > 0) {
      client.buffer.append(chunk, static_cast<size_t>(n));
      if (client.buffer.size() > kMaxRequestBytes) {
        respond(fd, error_response(fmt::format("request longer than {} bytes", kMaxRequestBytes)));
        drop(client);
        return;
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    closed = n == 0 || errno != EAGAIN;
    break;
  }
  auto newline = client.buffer.find('\n');
  if (newline == std::string::npos) {
    if (!closed) return;  // the rest of the line is still coming
    if (client.buffer.empty()) {
      drop(client);
      return;
    }
    newline = client.buffer.size();  // a last line without its newline
  }
  auto request = nlohmann::json::parse(client.buffer.substr(0, newline), nullptr, false);
  if (client.refusal) return answer(client, error_response(*client.refusal));
  if (request.is_discarded() || !request.is_object())
    return answer(client, error_response("the request is not a JSON object"));
  if (!request.contains("method") || !request["method"].is_string())
    return answer(client, error_response("the request has no \"method\" string"));
  // The request is complete: no more reading, and no deadline while the
  // answer is worked out (a reload may take a while; it replies when done).
  client.io.reset();
  client.deadline.reset();
  Reply reply(clients_.at(&client), this);
  try {
    handler_(request, client.peer, reply);  // may answer, and so drop the client: do not touch it after
  } catch (const std::exception& e) {
    // A handler bug must not take the daemon (and its bookkeeping) down:
    // counted, logged, and the client told (a Reply already sent does nothing).
    log_failure(fmt::format("control request {}", request["method"].get<std::string>()), e.what(), ++failed_);
    reply.send(error_response(fmt::format("internal error: {}", safe_text(e.what()))));
  }
}

void Server::answer(Client& client, const nlohmann::json& response) {
  respond(client.fd.get(), response);
  drop(client);
}

void Reply::send(const nlohmann::json& response) const {
  auto client = client_.lock();
  if (!client) return;  // gone: dropped on its deadline, or the server stopped
  server_->answer(*static_cast<Server::Client*>(client.get()), response);
}

bool Reply::stream(const nlohmann::json& line) const {
  auto client = client_.lock();
  if (!client) return false;
  return server_->push(*static_cast<Server::Client*>(client.get()), line);
}

bool Server::push(Client& client, const nlohmann::json& line) {
  if (!client.streaming) {
    size_t streams = 0;
    for (const auto& [key, other] : clients_) streams += other->streaming && other->peer.uid == client.peer.uid;
    if (streams >= limits_.subscriptions_per_uid) {
      ++refused_over_limit_;
      answer(client, error_response(fmt::format("uid {} holds {} subscriptions, the limit per uid: close some",
                                                client.peer.uid, streams)));
      return false;
    }
    client.streaming = true;
    sd_event_source* io = nullptr;
    if (sd_event_add_io(loop_, &io, client.fd.get(), EPOLLIN | EPOLLRDHUP, &Server::on_readable, &client) < 0) {
      drop(client);
      return false;
    }
    client.io.reset(io);
  }
  // Never block the loop on a subscriber: one that cannot take a line at
  // once (its buffer is full) is dropped; it reconnects and gets the state anew.
  const std::string text = agentd::dump_json(line) + "\n";
  const ssize_t n = ::send(client.fd.get(), text.data(), text.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n != static_cast<ssize_t>(text.size())) {
    drop(client);
    return false;
  }
  return true;
}

void Server::respond(int fd, const nlohmann::json& response) {
  std::string text = agentd::dump_json(response) + "\n";
  // Responses are small; a client that does not read within a second loses it.
  int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  timeval timeout{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  size_t sent = 0;
  while (sent < text.size()) {
    ssize_t n = ::send(fd, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return;
    }
    sent += static_cast<size_t>(n);
  }
}

}  // namespace agentd::api
