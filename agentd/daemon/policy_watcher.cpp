#include "agentd/daemon/policy_watcher.hpp"

#include <sys/inotify.h>

#include <cstring>
#include <string_view>

#include <spdlog/spdlog.h>

#include "agentd/common/guard.hpp"

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
  watcher->loop_ = loop;
  watcher->dir_ = dir;
  if (auto st = watcher->add_watch(dir, watcher->inotify_); !st) return st.error();
  // Presets live in a subdirectory; it may appear later (see on_inotify).
  std::error_code ec;
  if (std::filesystem::is_directory(dir / "presets", ec))
    if (auto st = watcher->add_watch(dir / "presets", watcher->presets_inotify_); !st) return st.error();
  sd_event_source* timer = nullptr;
  if (int r = sd_event_add_time_relative(loop, &timer, CLOCK_MONOTONIC, settle_usec, kSettleAccuracyUsec,
                                         &PolicyWatcher::on_settled, watcher.get());
      r < 0) {
    errno = -r;
    return system_error("arming the policy settle timer");
  }
  sd_event_source_set_enabled(timer, SD_EVENT_OFF);
  watcher->settle_timer_.reset(timer);
  return watcher;
}

Status PolicyWatcher::add_watch(const std::filesystem::path& dir, SdEventSourcePtr& slot) {
  const uint32_t mask = IN_CLOSE_WRITE | IN_MODIFY | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB |
                        IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;
  sd_event_source* source = nullptr;
  if (int r = sd_event_add_inotify(loop_, &source, dir.c_str(), mask, &PolicyWatcher::on_inotify, this); r < 0) {
    errno = -r;
    return system_error("watching the policy dir {}", dir.string());
  }
  slot.reset(source);
  return ok_status();
}

// sd-event is C: nothing may unwind through it; a failure is counted,
// logged, and the next event is watched as before.
int PolicyWatcher::on_inotify(sd_event_source*, const inotify_event* event, void* self) {
  auto* watcher = static_cast<PolicyWatcher*>(self);
  guarded("a policy dir event", watcher->failed_, [&] { on_event(watcher, event); });
  return 0;
}

void PolicyWatcher::on_event(PolicyWatcher* watcher, const inotify_event* event) {
  auto settle = [&] {
    // Every change restarts the settle time: a burst collapses into one reload.
    sd_event_source_set_time_relative(watcher->settle_timer_.get(), watcher->settle_usec_);
    sd_event_source_set_enabled(watcher->settle_timer_.get(), SD_EVENT_ONESHOT);
  };
  if ((event->mask & IN_ISDIR) && event->len > 0 && std::string_view(event->name) == "presets") {
    if (event->mask & (IN_DELETE | IN_MOVED_FROM)) watcher->presets_inotify_.reset();  // the parent's source runs: safe
    if ((event->mask & (IN_CREATE | IN_MOVED_TO)) && !watcher->presets_inotify_)
      if (auto st = watcher->add_watch(watcher->dir_ / "presets", watcher->presets_inotify_); !st)
        spdlog::warn("{}", st.error().describe());
    settle();  // presets appeared or went: the policy changes with them
    return;
  }
  std::error_code ec;
  if ((event->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) && std::filesystem::is_directory(watcher->dir_, ec)) {
    return;  // the presets dir went; its parent's watch saw that too
  }
  if (event->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
    spdlog::warn("the policy dir was removed or moved: the running policy stays; restart agentd to watch it again");
    return;
  }
  if (event->len == 0 || !is_policy_file(event->name)) return;
  settle();
}

int PolicyWatcher::on_settled(sd_event_source*, uint64_t, void* self) {
  auto* watcher = static_cast<PolicyWatcher*>(self);
  guarded("reacting to a policy dir change", watcher->failed_, watcher->on_change_);
  return 0;
}

}  // namespace agentd::daemon
