#include "agentd/daemon/fleet_watch.hpp"

namespace agentd::daemon {

Result<std::unique_ptr<FleetWatch>> FleetWatch::start(sd_event* loop, fleet::EtcdClient client, fleet::KeyLayout layout,
                                                      Callback on_update) {
  std::unique_ptr<FleetWatch> fleet(new FleetWatch(std::move(layout), std::move(on_update)));
  auto watch = PrefixWatch::start(loop, std::move(client), fleet->layout_.policy_prefix(),
                                  [w = fleet.get()](const fleet::RangeAnswer& range) { w->on_read(range); });
  if (!watch) return watch.error();
  fleet->watch_ = std::move(*watch);
  return fleet;
}

void FleetWatch::on_read(const fleet::RangeAnswer& range) {
  auto snapshot = fleet::snapshot_of(range, layout_);
  if (!snapshot) {
    if (snapshot.error().describe() == last_refused_) return;
    last_refused_ = snapshot.error().describe();
    last_.reset();  // the same policy again after this is news
    on_update_({range.revision, std::move(snapshot)});
    return;
  }
  if (last_ && fleet::same_policy(*snapshot, *last_)) return;
  last_ = *snapshot;
  last_refused_.clear();
  on_update_({range.revision, std::move(snapshot)});
}

}  // namespace agentd::daemon
