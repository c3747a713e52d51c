// The etcd policy source (agentd --policy-source etcd): a thread reads the
// policy keys whole, watches them, and reads them whole again on every
// change (so a transaction is never seen half-applied, and a compacted
// watch just means one more read); each policy that differs from the last
// one handed over goes to the event loop through an eventfd. Reconnects with
// backoff, trying the endpoints in turn. The loop then reloads through the
// same path as a policy dir change (Daemon::request_reload).
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "agentd/common/result.hpp"
#include "agentd/common/sd_event_ptr.hpp"
#include "agentd/common/unique_fd.hpp"
#include "agentd/fleet/etcd_client.hpp"
#include "agentd/fleet/key_layout.hpp"
#include "agentd/fleet/policy_snapshot.hpp"

namespace agentd::daemon {

class FleetWatch {
 public:
  // What etcd holds now: a policy to validate and apply, or why the keys
  // themselves are refused (a bad key name, a file too large).
  struct Update {
    int64_t read_revision = 0;
    Result<fleet::PolicySnapshot> snapshot = make_error("not read");
  };
  using Callback = std::function<void(Update)>;

  static Result<std::unique_ptr<FleetWatch>> start(sd_event* loop, fleet::EtcdClient client, fleet::KeyLayout layout,
                                                   Callback on_update);
  ~FleetWatch();  // stops the thread (within a second) and waits for it

  // "watching http://...", or the last failure and since when.
  std::string state() const;
  bool connected() const;

 private:
  FleetWatch(fleet::EtcdClient client, fleet::KeyLayout layout, Callback on_update)
      : client_(std::move(client)), layout_(std::move(layout)), on_update_(std::move(on_update)) {}
  void run();
  // One read and one watch until the next change; an error when either failed.
  Status read_and_watch(std::optional<fleet::PolicySnapshot>& last, std::string& last_refused);
  void hand_over(Update update);
  void set_state(std::string state, bool connected);
  static int on_wakeup(sd_event_source*, int fd, uint32_t, void* self);

  fleet::EtcdClient client_;
  const fleet::KeyLayout layout_;
  Callback on_update_;
  UniqueFd wakeup_;
  SdEventSourcePtr source_;
  mutable std::mutex mutex_;
  std::condition_variable stopped_;
  std::optional<Update> pending_;
  std::string state_ = "starting";
  bool connected_ = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace agentd::daemon
