#include "agentd/daemon/policy_watcher.hpp"

#include <sys/inotify.h>

#include <cstring>
#include <string_view>

#include <spdlog/spdlog.h>

namespace agentd::daemon {

// sd-event batches timers with a default slack of 250 ms; a reload should
// follow the settle time, not a quarter second after it.
constexpr uint64_t kSettleAccuracyUsec = 1000;

bool PolicyWatcher::is_policy_file(const char* name) {
  const std::string_view n(name);
  if (n.empty() || n[0] == '.') return false;
  auto ends_with = [&](std::string_view suffix) {
    return n.size() > suffix.size() && n.substr(n.size() - suffix.size()) == suffix;
  };
  return ends_with(".yaml") || ends_with(".yml");
}

Result<std::unique_ptr<PolicyWatcher>> PolicyWatcher::watch(sd_event* loop, const std::filesystem::path& dir,
                                                            uint64_t settle_usec, Callback on_change) {
  std::unique_ptr<PolicyWatcher> watcher(new PolicyWatcher(settle_usec, std::move(on_change)));
  const uint32_t mask = IN_CLOSE_WRITE | IN_MODIFY | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE |
                        IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;
  sd_event_source* source = nullptr;
  if (int r = sd_event_add_inotify(loop, &source, dir.c_str(), mask, &PolicyWatcher::on_inotify, watcher.get());
      r < 0) {
    errno = -r;
    return system_error("watching the policy dir {}", dir.string());
  }
  watcher->inotify_.reset(source);
  sd_event_source* timer = nullptr;
  if (int r = sd_event_add_time_relative(loop, &timer, CLOCK_MONOTONIC, settle_usec, kSettleAccuracyUsec, &PolicyWatcher::on_settled,
                                         watcher.get());
      r < 0) {
    errno = -r;
    return system_error("arming the policy settle timer");
  }
  sd_event_source_set_enabled(timer, SD_EVENT_OFF);
  watcher->settle_timer_.reset(timer);
  return watcher;
}

int PolicyWatcher::on_inotify(sd_event_source*, const inotify_event* event, void* self) {
  auto* watcher = static_cast<PolicyWatcher*>(self);
  if (event->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
    spdlog::warn("the policy dir was removed or moved: the running policy stays; restart agentd to watch it again");
    return 0;
  }
  if (event->len == 0 || !is_policy_file(event->name)) return 0;
  // Every change restarts the settle time: a burst collapses into one reload.
  sd_event_source_set_time_relative(watcher->settle_timer_.get(), watcher->settle_usec_);
  sd_event_source_set_enabled(watcher->settle_timer_.get(), SD_EVENT_ONESHOT);
  return 0;
}

int PolicyWatcher::on_settled(sd_event_source*, uint64_t, void* self) {
  static_cast<PolicyWatcher*>(self)->on_change_();
  return 0;
}

}  // namespace agentd::daemon
