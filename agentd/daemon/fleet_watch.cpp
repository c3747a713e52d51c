#include "agentd/daemon/fleet_watch.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "agentd/fleet/etcd_messages.hpp"
#include "agentd/fleet/policy_read.hpp"

namespace agentd::daemon {

namespace {
constexpr auto kFirstBackoff = std::chrono::milliseconds(250);
constexpr auto kMaxBackoff = std::chrono::seconds(10);
// A watch is renewed with a fresh read this often even when quiet: a member
// cut off from its cluster keeps a stream open and silent; a read needs a
// quorum, so it fails there and the next endpoint is tried.
constexpr auto kRewatch = std::chrono::seconds(30);
}  // namespace

Result<std::unique_ptr<FleetWatch>> FleetWatch::start(sd_event* loop, fleet::EtcdClient client, fleet::KeyLayout layout,
                                                      Callback on_update) {
  std::unique_ptr<FleetWatch> watch(new FleetWatch(std::move(client), std::move(layout), std::move(on_update)));
  watch->wakeup_ = UniqueFd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (watch->wakeup_.get() < 0) return system_error("making the fleet watch's eventfd");
  sd_event_source* source = nullptr;
  if (int r = sd_event_add_io(loop, &source, watch->wakeup_.get(), EPOLLIN, &FleetWatch::on_wakeup, watch.get());
      r < 0) {
    errno = -r;
    return system_error("watching the fleet watch's eventfd");
  }
  watch->source_.reset(source);
  watch->client_.abort_when(&watch->stop_);
  watch->thread_ = std::thread([w = watch.get()] { w->run(); });
  return watch;
}

FleetWatch::~FleetWatch() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  stopped_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::string FleetWatch::state() const {
  std::lock_guard lock(mutex_);
  return state_;
}

bool FleetWatch::connected() const {
  std::lock_guard lock(mutex_);
  return connected_;
}

void FleetWatch::set_state(std::string state, bool connected) {
  std::lock_guard lock(mutex_);
  state_ = std::move(state);
  connected_ = connected;
}

void FleetWatch::hand_over(Update update) {
  {
    std::lock_guard lock(mutex_);
    pending_ = std::move(update);  // only the newest matters
  }
  const uint64_t one = 1;
  (void)::write(wakeup_.get(), &one, sizeof(one));
}

int FleetWatch::on_wakeup(sd_event_source*, int fd, uint32_t, void* self) {
  auto* watch = static_cast<FleetWatch*>(self);
  uint64_t count = 0;
  (void)::read(fd, &count, sizeof(count));
  std::optional<Update> update;
  {
    std::lock_guard lock(watch->mutex_);
    update.swap(watch->pending_);
  }
  if (update) {
    try {
      watch->on_update_(std::move(*update));
    } catch (const std::exception& e) {
      spdlog::error("handling a fleet policy update: {}", e.what());  // sd-event is C: nothing unwinds through it
    }
  }
  return 0;
}

Status FleetWatch::read_and_watch(std::optional<fleet::PolicySnapshot>& last, std::string& last_refused) {
  const std::string prefix = layout_.policy_prefix(), end = fleet::range_end_of_prefix(prefix);
  auto range = fleet::read_policy_range(client_, layout_);
  if (!range) return range.error();
  auto snapshot = fleet::snapshot_of(*range, layout_);
  if (!snapshot) {
    if (snapshot.error().describe() != last_refused) {
      last_refused = snapshot.error().describe();
      last.reset();  // the same policy again after this is news
      hand_over({range->revision, std::move(snapshot)});
    }
  } else if (!last || !fleet::same_policy(*snapshot, *last)) {
    last = *snapshot;
    last_refused.clear();
    hand_over({range->revision, std::move(snapshot)});
  }
  set_state(fmt::format("watching {} from revision {}", client_.current_endpoint(), range->revision + 1), true);

  std::optional<Error> failure;
  auto on_message = [&](std::string_view line) {
    auto message = fleet::parse_watch(line);
    if (!message) {
      failure = message.error();
      return false;
    }
    using Kind = fleet::WatchMessage::Kind;
    switch (message->kind) {
      case Kind::created:
      case Kind::progress:
        return true;
      case Kind::events:     // read whole again
      case Kind::compacted:  // the same: a read is never compacted
        return false;
      case Kind::canceled:
        failure = make_error("etcd canceled the watch: {}", message->reason.empty() ? "no reason" : message->reason);
        return false;
    }
    return false;
  };
  auto streamed = client_.stream("/v3/watch", fleet::watch_request(prefix, end, range->revision + 1), on_message,
                                 std::chrono::duration_cast<std::chrono::milliseconds>(kRewatch));
  if (!streamed) return streamed.error();
  if (failure) return *failure;
  return ok_status();
}

void FleetWatch::run() {
  std::optional<fleet::PolicySnapshot> last;
  std::string last_refused;  // keys refused as they are: said once, not at every read
  auto backoff = std::chrono::milliseconds(kFirstBackoff);
  std::string last_error;
  while (!stop_) {
    // A thread: an exception must not end the process (std::terminate);
    // it is one more failure, retried.
    Status status = ok_status();
    try {
      status = read_and_watch(last, last_refused);
    } catch (const std::exception& e) {
      status = make_error("the fleet watch failed: {}", e.what());
    }
    if (status) {
      backoff = kFirstBackoff;
      last_error.clear();
      continue;
    }
    const std::string error = status.error().describe();
    if (error != last_error) spdlog::warn("fleet policy watch: {}; retrying (the running policy stays)", error);
    last_error = error;
    set_state(fmt::format("disconnected: {}", error), false);
    std::unique_lock lock(mutex_);
    stopped_.wait_for(lock, backoff, [&] { return stop_.load(); });
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, kMaxBackoff);
  }
}

}  // namespace agentd::daemon
