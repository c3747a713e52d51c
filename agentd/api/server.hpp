// The control socket: accepts local clients, reads one request line,
// answers (at once, or later for work done off the loop), closes. Every
// peer is identified by SO_PEERCRED and passed through a gate first (a
// process inside any sandbox is closed at accept), and each uid holds a
// bounded number of connections and subscriptions.
// Clients are handled on the daemon's event loop and never block it.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agentd/common/result.hpp"
#include "agentd/common/sd_event_ptr.hpp"
#include "agentd/common/unique_fd.hpp"

namespace agentd::api {

struct Peer {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups (SO_PEERGROUPS), as the process holds them
  bool groups_known = false;
};

class Server;

// An error when a daemon already answers on `path` (a socket file nobody
// listens on is a leftover, and free).
Status check_socket_free(const std::filesystem::path& path);

// The way to answer one request, now or later. Answering a client that
// has gone away does nothing; every Reply is meant to be sent once.
// A subscription streams instead: each stream() is one more line, the
// connection stays open until the client hangs up (or cannot keep up).
class Reply {
 public:
  void send(const nlohmann::json& response) const;
  // False once the client is gone: forget this Reply then.
  bool stream(const nlohmann::json& line) const;

 private:
  friend class Server;
  struct Client;
  explicit Reply(std::weak_ptr<void> client, Server* server) : client_(std::move(client)), server_(server) {}
  std::weak_ptr<void> client_;
  Server* server_;
};

// Why a peer is not served. at_accept: it is told and closed at once,
// never held (a process inside a sandbox: it must not be able to hold
// the daemon's descriptors); otherwise its request is read and answered
// with the refusal (an operator without a role learns why).
struct Refusal {
  std::string why;
  bool at_accept = false;
};

// What one uid may hold at a time, so that one flooding client (or one
// sandbox that reached the socket before it was hidden) costs only
// itself: connections beyond these are told why and closed at accept.
struct ClientLimits {
  size_t per_uid = 64;
  size_t subscriptions_per_uid = 16;
  size_t total = 4096;  // the unit's LimitNOFILE leaves room for this and every sandbox
};

// What the socket turned away, for `status`.
struct ServerCounters {
  size_t clients = 0, subscriptions = 0;
  uint64_t refused_in_sandbox = 0;  // closed at accept (Refusal::at_accept)
  uint64_t refused_over_limit = 0;  // a uid at its limit, or the total reached
  uint64_t refused_no_role = 0;     // answered with the refusal: a uid with no role
  uint64_t shed = 0;                // closed at accept: agentd was out of descriptors
};

class Server {
 public:
  using Handler = std::function<void(const nlohmann::json& request, const Peer& peer, Reply reply)>;
  // Returns the reason to refuse a peer, or nothing to serve it.
  using Gate = std::function<std::optional<Refusal>(const Peer& peer)>;

  static Result<std::unique_ptr<Server>> listen(sd_event* loop, const std::filesystem::path& path, Handler handler,
                                                Gate gate, ClientLimits limits = {});
  ~Server();
  // Requests (and client handling) that failed with an exception: each was
  // logged, answered with an error where possible, and the server went on.
  uint64_t failed() const { return failed_; }
  ServerCounters counters() const;
  const ClientLimits& limits() const { return limits_; }

 private:
  // Heap-held: its address is the userdata of its two event sources.
  struct Client {
    Server* server = nullptr;
    UniqueFd fd;
    Peer peer;
    std::optional<std::string> refusal;  // answered instead of the request
    std::string buffer;
    SdEventSourcePtr io;
    SdEventSourcePtr deadline;
    bool streaming = false;  // a subscription: lines go out until the client hangs up
  };

  Server(sd_event* loop, std::filesystem::path path, Handler handler, Gate gate, ClientLimits limits)
      : loop_(loop), path_(std::move(path)), handler_(std::move(handler)), gate_(std::move(gate)), limits_(limits) {}
  // Why this peer may not open one more connection, or nothing.
  std::optional<std::string> over_limit(const Peer& peer) const;
  static void turn_away(int fd, const std::string& why);

  static int on_accept(sd_event_source*, int fd, uint32_t, void* self);
  static int on_readable(sd_event_source*, int, uint32_t, void* userdata);
  static int on_deadline(sd_event_source*, uint64_t, void* userdata);
  void accept_clients();
  void serve(Client& client);
  void drop(Client& client);
  void answer(Client& client, const nlohmann::json& response);
  bool push(Client& client, const nlohmann::json& line);
  friend class Reply;
  static void respond(int fd, const nlohmann::json& response);

  sd_event* loop_;
  std::filesystem::path path_;
  Handler handler_;
  Gate gate_;
  ClientLimits limits_;
  UniqueFd listen_fd_;
  SdEventSourcePtr listen_source_;
  // Shared so that a Reply can tell whether its client is still there.
  std::map<Client*, std::shared_ptr<Client>> clients_;
  uint64_t failed_ = 0;
  uint64_t refused_in_sandbox_ = 0, refused_over_limit_ = 0, refused_no_role_ = 0, shed_ = 0;
};

}  // namespace agentd::api
