#include "agentd/sandbox/populated_watch.hpp"

#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include <spdlog/spdlog.h>

#include "agentd/sandbox/cgroup.hpp"

namespace agentd::sandbox {
namespace fs = std::filesystem;
namespace {

// cgroup.events of an open cgroup directory: "populated 0|1", "frozen 0|1".
Result<bool> read_events(int dir) {
  UniqueFd file(::openat(dir, "cgroup.events", O_RDONLY | O_CLOEXEC));
  if (!file) return system_error("opening cgroup.events");
  char text[256];
  const ssize_t n = ::read(file.get(), text, sizeof(text));
  if (n < 0) return system_error("reading cgroup.events");
  return parse_populated(std::string_view(text, static_cast<size_t>(n)));
}

// The cgroup's directory, open, when it is still the one with that id;
// nothing when it is gone or another cgroup took its path.
Result<std::optional<UniqueFd>> open_same_cgroup(const fs::path& cgroup, uint64_t cgroup_id) {
  UniqueFd dir(::open(cgroup.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) {
    if (errno == ENOENT || errno == ENOTDIR) return std::optional<UniqueFd>{};
    return system_error("opening {}", cgroup.string());
  }
  struct stat st {};
  if (::fstat(dir.get(), &st) != 0) return system_error("stat {}", cgroup.string());
  if (static_cast<uint64_t>(st.st_ino) != cgroup_id) return std::optional<UniqueFd>{};
  return std::optional<UniqueFd>(std::move(dir));
}

}  // namespace

Result<PopulatedWatch> PopulatedWatch::open() {
  UniqueFd fd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!fd) return system_error("creating an inotify instance for the sandboxes' cgroup.events");
  return PopulatedWatch(std::move(fd));
}

Status PopulatedWatch::start(uint32_t slot, Entry& entry) {
  watch_parent(slot, entry);  // first: a removal after the read below is noticed
  auto dir = open_same_cgroup(entry.cgroup, entry.cgroup_id);
  if (!dir) return dir.error();
  if (!*dir) {
    entry.gone = true;
    drop_parent_watch(entry);
    return ok_status();
  }
  // Through the open directory, so the watch is on this cgroup's file even
  // if another cgroup took the path meanwhile.
  const std::string file = "/proc/self/fd/" + std::to_string((*dir)->get()) + "/cgroup.events";
  const int watch = ::inotify_add_watch(inotify_.get(), file.c_str(), IN_MODIFY);
  if (watch < 0) {
    if (errno != ENOSPC && errno != ENOMEM) return system_error("watching {}/cgroup.events", entry.cgroup.string());
    entry.direct = true;  // read each time, as without a watch
    ++unwatched_;
    if (!warned_)
      spdlog::warn("no inotify watch to spare for {} (fs.inotify.max_user_watches): its state is read on each sweep",
                   entry.cgroup.string());
    warned_ = true;
  } else if (slot_of_watch_.contains(watch)) {
    // The same file as another slot's (one watch per file): read directly.
    entry.direct = true;
    ++unwatched_;
  } else {
    entry.watch = watch;
    slot_of_watch_[watch] = slot;
  }
  ++reads_;
  auto populated = read_events((*dir)->get());
  if (!populated) return populated.error();
  entry.populated = *populated;
  entry.fresh = entry.watch >= 0;
  return ok_status();
}

Result<std::optional<bool>> PopulatedWatch::read(const Entry& entry) {
  auto dir = open_same_cgroup(entry.cgroup, entry.cgroup_id);
  if (!dir) return dir.error();
  if (!*dir) return std::optional<bool>{};
  ++reads_;
  auto populated = read_events((*dir)->get());
  if (!populated) return populated.error();
  return std::optional<bool>(*populated);
}

Result<std::optional<bool>> PopulatedWatch::populated(uint32_t slot, const fs::path& cgroup, uint64_t cgroup_id) {
  auto found = by_slot_.find(slot);
  // By id, then the path's text: fs::path's own == compares component by
  // component, which was most of a 3,000-sandbox sweep.
  if (found != by_slot_.end() &&
      (found->second.cgroup_id != cgroup_id || found->second.cgroup.native() != cgroup.native())) {
    forget(slot);  // the slot has passed to another sandbox
    found = by_slot_.end();
  }
  if (found == by_slot_.end()) {
    Entry fresh;
    fresh.cgroup = cgroup;
    fresh.cgroup_id = cgroup_id;
    found = by_slot_.emplace(slot, std::move(fresh)).first;
    if (auto started = start(slot, found->second); !started) {
      forget(slot);  // asked again, from the start, next time
      return started.error();
    }
  }
  Entry& entry = found->second;
  if (entry.gone) return std::optional<bool>{};
  if (entry.watch < 0) return read(entry);
  if (!entry.fresh) {
    auto now = read(entry);
    if (!now) return now;
    if (!*now) {
      entry.gone = true;
      drop_watch(entry);
      return now;
    }
    entry.populated = **now;
    entry.fresh = true;
  }
  if (entry.populated) return std::optional<bool>(true);           // a populated cgroup cannot be removed
  if (entry.parent_watch >= 0) return std::optional<bool>(false);  // its removal would have been noticed
  // Empty, so it may have been removed, and nothing would say so: by id.
  auto id = cgroup_id_of(entry.cgroup);
  if (!id || *id != entry.cgroup_id) {
    entry.gone = true;
    drop_watch(entry);
    return std::optional<bool>{};
  }
  return std::optional<bool>(false);
}

void PopulatedWatch::drain() {
  alignas(inotify_event) char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(inotify_.get(), buffer, sizeof(buffer));
    if (n <= 0) return;  // EAGAIN: nothing more queued
    for (ssize_t at = 0; at + static_cast<ssize_t>(sizeof(inotify_event)) <= n;) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer + at);
      at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      notice(*event);
    }
  }
}

void PopulatedWatch::notice(const inotify_event& event) {
  if (event.mask & IN_Q_OVERFLOW) {
    // Notices were lost: every state is read again.
    for (auto& [slot, entry] : by_slot_) entry.fresh = false;
    return;
  }
  if (const auto watched = slot_of_watch_.find(event.wd); watched != slot_of_watch_.end()) {
    Entry& entry = by_slot_.at(watched->second);
    entry.fresh = false;
    if (event.mask & IN_IGNORED) {
      // The kernel took the watch away (its file is gone): read directly.
      slot_of_watch_.erase(watched);
      entry.watch = -1;
    }
    return;
  }
  const auto parent = parents_.find(event.wd);
  if (parent == parents_.end()) return;  // a watch already dropped
  if (event.mask & IN_IGNORED) {
    // The parent's watch went: its children's removals are looked up by id.
    for (const auto& [name, slot] : parent->second.slot_of_child) {
      Entry& entry = by_slot_.at(slot);
      entry.parent_watch = -1;
      entry.fresh = false;
    }
    parents_.erase(parent);
    return;
  }
  if (event.len == 0) return;
  // A directory below it was removed (or, with IN_MOVED_FROM, moved away).
  const auto child = parent->second.slot_of_child.find(std::string(event.name));
  if (child != parent->second.slot_of_child.end()) by_slot_.at(child->second).fresh = false;
}

void PopulatedWatch::watch_parent(uint32_t slot, Entry& entry) {
  fs::path cgroup = entry.cgroup.lexically_normal();
  if (!cgroup.has_filename()) cgroup = cgroup.parent_path();  // a trailing slash
  const int watch =
      ::inotify_add_watch(inotify_.get(), cgroup.parent_path().c_str(), IN_DELETE | IN_MOVED_FROM | IN_ONLYDIR);
  if (watch < 0) return;  // no notice of its removal: looked up by id while empty
  if (slot_of_watch_.contains(watch)) {
    ::inotify_rm_watch(inotify_.get(), watch);  // cannot happen: a directory is not a file
    return;
  }
  Parent& parent = parents_[watch];
  const auto [child, added] = parent.slot_of_child.emplace(cgroup.filename().string(), slot);
  if (!added && child->second != slot) {
    // Another slot's cgroup by that name (not the registry's way): that
    // one keeps the notice, this one is looked up by id while empty.
    if (parent.users == 0) {
      ::inotify_rm_watch(inotify_.get(), watch);
      parents_.erase(watch);
    }
    return;
  }
  ++parent.users;
  entry.parent_watch = watch;
}

void PopulatedWatch::drop_parent_watch(Entry& entry) {
  if (entry.parent_watch < 0) return;
  const auto parent = parents_.find(entry.parent_watch);
  entry.parent_watch = -1;
  if (parent == parents_.end()) return;
  auto& children = parent->second.slot_of_child;
  for (auto child = children.begin(); child != children.end(); ++child)
    if (&by_slot_.at(child->second) == &entry) {
      children.erase(child);
      break;
    }
  if (--parent->second.users == 0) {
    ::inotify_rm_watch(inotify_.get(), parent->first);
    parents_.erase(parent);
  }
}

void PopulatedWatch::drop_watch(Entry& entry) {
  if (entry.watch < 0) return;
  ::inotify_rm_watch(inotify_.get(), entry.watch);
  slot_of_watch_.erase(entry.watch);
  entry.watch = -1;
}

void PopulatedWatch::forget(uint32_t slot) {
  const auto found = by_slot_.find(slot);
  if (found == by_slot_.end()) return;
  if (found->second.direct) --unwatched_;
  drop_watch(found->second);
  drop_parent_watch(found->second);
  by_slot_.erase(found);
}

}  // namespace agentd::sandbox
