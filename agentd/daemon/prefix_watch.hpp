// Follows every key under one etcd prefix for the event loop: a thread
// reads the prefix whole, watches it, and reads it whole again on every
// change (a compacted or broken watch just means one more read), handing
// each read whose keys differ from the last to the loop through an eventfd.
// Reconnects with backoff, trying the endpoints in turn. The fleet's policy
// (fleet_watch.hpp) and grants ride it (README, "Fleet").
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "agentd/common/result.hpp"
#include "agentd/common/sd_event_ptr.hpp"
#include "agentd/common/unique_fd.hpp"
#include "agentd/fleet/etcd_client.hpp"
#include "agentd/fleet/etcd_messages.hpp"

namespace agentd::daemon {

class PrefixWatch {
 public:
  // Every key under the prefix, as read at `range.revision`.
  using Callback = std::function<void(const fleet::RangeAnswer& range)>;

  static Result<std::unique_ptr<PrefixWatch>> start(sd_event* loop, fleet::EtcdClient client, std::string prefix,
                                                    Callback on_read);
  ~PrefixWatch();  // stops the thread (within a second) and waits for it

  // Whether the last read or watch worked; the last failure otherwise.
  bool connected() const;
  std::string last_error() const;
  // "watching http://... from revision N", or "disconnected: <why>".
  std::string state() const;

 private:
  PrefixWatch(fleet::EtcdClient client, std::string prefix, Callback on_read)
      : client_(std::move(client)), prefix_(std::move(prefix)), on_read_(std::move(on_read)) {}
  void run();
  Status read_and_watch(std::optional<fleet::RangeAnswer>& last);
  static int on_wakeup(sd_event_source*, int fd, uint32_t, void* self);

  fleet::EtcdClient client_;
  const std::string prefix_;
  Callback on_read_;
  UniqueFd wakeup_;
  SdEventSourcePtr source_;
  mutable std::mutex mutex_;
  std::condition_variable stopped_;
  std::optional<fleet::RangeAnswer> pending_;
  std::string last_error_ = "not read yet";
  std::string state_ = "starting";
  bool connected_ = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace agentd::daemon
