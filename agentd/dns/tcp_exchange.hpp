// One DNS exchange with the upstream over TCP (RFC 7766 framing: a 2-byte
// length before each message): what the proxy does for a query that came
// over TCP, whose answer may be too large for UDP. Non-blocking on the
// daemon's event loop; the owner bounds how long it may take.
#pragma once

#include <sys/socket.h>

#include <functional>
#include <memory>
#include <string>

#include "agentd/common/result.hpp"
#include "agentd/common/sd_event_ptr.hpp"
#include "agentd/common/unique_fd.hpp"
#include "agentd/dns/message.hpp"

namespace agentd::dns {

class TcpExchange {
 public:
  // The answer, or an empty one when the upstream failed. Called at most
  // once, as the last thing the exchange does: the callee may destroy it.
  using Done = std::function<void(Bytes answer)>;

  static Result<std::unique_ptr<TcpExchange>> start(sd_event* loop, const sockaddr_storage& upstream,
                                                    socklen_t upstream_len, const Bytes& query, Done done);
  TcpExchange(const TcpExchange&) = delete;
  TcpExchange& operator=(const TcpExchange&) = delete;

 private:
  TcpExchange() = default;
  static int on_io(sd_event_source*, int fd, uint32_t revents, void* self);
  void step(uint32_t revents);
  void finish(Bytes answer);

  UniqueFd fd_;
  SdEventSourcePtr io_;
  std::string out_;  // the framed query, what is left of it to send
  std::string in_;   // what the upstream sent so far
  Done done_;
};

}  // namespace agentd::dns
