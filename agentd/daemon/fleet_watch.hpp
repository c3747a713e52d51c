// The etcd policy source (agentd --policy-source etcd): every key under the
// policy prefix, followed by a PrefixWatch (read whole, watch, read whole
// again on every change, so a transaction is never seen half-applied),
// becomes a policy snapshot; each one that differs from the last handed
// over goes to the callback on the event loop. The loop then reloads
// through the same path as a policy dir change (Daemon::request_reload).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "agentd/common/result.hpp"
#include "agentd/daemon/prefix_watch.hpp"
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

  // "watching http://...", or the last failure.
  std::string state() const { return watch_->state(); }
  bool connected() const { return watch_->connected(); }

 private:
  FleetWatch(fleet::KeyLayout layout, Callback on_update)
      : layout_(std::move(layout)), on_update_(std::move(on_update)) {}
  void on_read(const fleet::RangeAnswer& range);

  const fleet::KeyLayout layout_;
  Callback on_update_;
  std::optional<fleet::PolicySnapshot> last_;
  std::string last_refused_;            // keys refused as they are: said once, not at every read
  std::unique_ptr<PrefixWatch> watch_;  // last: its thread stops first
};

}  // namespace agentd::daemon
