// Watches the policy dir (and its presets/ subdirectory) with inotify and calls back once a burst of
// changes has settled: editors write in steps (temp file + rename,
// truncate + write, backup files), and one reload should follow, not five.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>

#include "agentd/common/result.hpp"
#include "agentd/common/sd_event_ptr.hpp"

namespace agentd::daemon {

class PolicyWatcher {
 public:
  using Callback = std::function<void()>;

  static Result<std::unique_ptr<PolicyWatcher>> watch(sd_event* loop, const std::filesystem::path& dir,
                                                      uint64_t settle_usec, Callback on_change);

  // Only policy files matter: *.yaml and *.yml, not hidden, not backups.
  static bool is_policy_file(const char* name);
  // Reactions to a change that threw (logged; the next change tries again).
  uint64_t failed() const { return failed_; }

 private:
  PolicyWatcher(uint64_t settle_usec, Callback on_change)
      : settle_usec_(settle_usec), on_change_(std::move(on_change)) {}
  static int on_inotify(sd_event_source*, const struct inotify_event* event, void* self);
  static void on_event(PolicyWatcher* watcher, const struct inotify_event* event);
  static int on_settled(sd_event_source*, uint64_t, void* self);

  uint64_t settle_usec_;
  Callback on_change_;
  Status add_watch(const std::filesystem::path& dir, SdEventSourcePtr& slot);

  sd_event* loop_ = nullptr;
  std::filesystem::path dir_;
  SdEventSourcePtr inotify_;
  SdEventSourcePtr presets_inotify_;  // <dir>/presets, when it exists
  SdEventSourcePtr settle_timer_;
  uint64_t failed_ = 0;
};

}  // namespace agentd::daemon
