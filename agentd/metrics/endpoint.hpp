// The metrics endpoint: GET /metrics over HTTP/1.1 on a loopback address
// or a unix socket (--metrics-listen), served by libmicrohttpd's own
// thread. The text is rendered on agentd's event loop, where the state it
// reads lives: a scrape wakes the loop through an eventfd and waits for
// the text (5 s at most, then 503). A text less than a second old is
// served again: scrapes in a loop cannot keep the event loop rendering.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <systemd/sd-event.h>

#include "agentd/common/result.hpp"
#include "agentd/common/sd_event_ptr.hpp"
#include "agentd/common/unique_fd.hpp"
#include "agentd/metrics/listen_address.hpp"

struct MHD_Daemon;

namespace agentd::metrics {

class Endpoint {
 public:
  using Render = std::function<std::string()>;  // called on the event loop

  static Result<std::unique_ptr<Endpoint>> start(sd_event* loop, const ListenAddress& where, Render render);
  ~Endpoint();
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;

  uint64_t scrapes() const;
  // On libmicrohttpd's thread: a fresh text from the loop, or none.
  std::optional<std::string> fetch();

 private:
  Endpoint() = default;
  static int on_wakeup(sd_event_source* source, int fd, uint32_t events, void* self);

  Render render_;
  UniqueFd wake_;
  SdEventSourcePtr source_;
  MHD_Daemon* daemon_ = nullptr;
  std::string unix_path_;

  mutable std::mutex mutex_;
  std::condition_variable answered_cv_;
  uint64_t asked_ = 0, answered_ = 0, scrapes_ = 0;
  bool stopping_ = false;
  std::string text_;
  std::chrono::steady_clock::time_point rendered_at_{};
};

}  // namespace agentd::metrics
