// Whether each sandbox's cgroup holds a process, kept from the kernel's own
// notices instead of read again on every sweep.
//
// The kernel marks a cgroup's cgroup.events modified (an inotify IN_MODIFY)
// whenever its "populated" field changes, so a sandbox's state is read once
// when it is first asked for and again only after a notice. Reading every
// cgroup on every 5-second sweep held the event loop (and with it DNS and
// status) for about 30-90 µs a sandbox: a third of a second or more at
// 10,000 sandboxes (issue 15).
//
// A cgroup's removal sends nothing on its own files (kernfs), but its
// parent directory sees the rmdir (IN_DELETE with the child's name), so the
// parents are watched too, one watch each however many sandboxes share
// one. A sweep then reads only what changed. When the kernel refuses a
// watch (fs.inotify.max_user_watches), that cgroup is read directly each
// time, as before, or (no parent watch) looked up by id while empty:
// slower, never wrong.
#pragma once

#include <sys/inotify.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <unordered_map>

#include "agentd/common/result.hpp"
#include "agentd/common/unique_fd.hpp"

namespace agentd::sandbox {

class PopulatedWatch {
 public:
  static Result<PopulatedWatch> open();

  // For the event loop: readable when notices wait (drain() takes them).
  int fd() const { return inotify_.get(); }

  // Whether the cgroup of the sandbox in `slot` (that directory, with that
  // id) holds a process; nothing when it is gone or is another cgroup now;
  // an error when it could not be read (asked again next time). As of the
  // last drain(): call it once before a round of questions.
  Result<std::optional<bool>> populated(uint32_t slot, const std::filesystem::path& cgroup, uint64_t cgroup_id);

  // Takes the queued notices without blocking: each marks its cgroup to be
  // read again at its next question.
  void drain();

  // The slot's sandbox is gone: its watch goes too.
  void forget(uint32_t slot);

  // For status and tests: cgroups watched, read directly (no watch to
  // spare), and cgroup.events reads so far.
  size_t watched() const { return slot_of_watch_.size(); }
  size_t unwatched() const { return unwatched_; }
  uint64_t reads() const { return reads_; }

 private:
  explicit PopulatedWatch(UniqueFd inotify) : inotify_(std::move(inotify)) {}

  struct Entry {
    std::filesystem::path cgroup;
    uint64_t cgroup_id = 0;
    int watch = -1;         // on cgroup.events; -1: none (gone, or read directly)
    int parent_watch = -1;  // on the parent directory, for the removal; -1: none
    bool direct = false;    // no watch to spare: counted in unwatched()
    bool gone = false;
    bool fresh = false;  // `populated` holds what the file said since its last notice
    bool populated = false;
  };
  // A parent directory's watch, shared by the sandboxes below it.
  struct Parent {
    size_t users = 0;
    std::unordered_map<std::string, uint32_t> slot_of_child;  // by the child's name
  };

  // Adds the watch and reads the state, both through one open directory so
  // both are of the cgroup with that id.
  Status start(uint32_t slot, Entry& entry);
  // Reads cgroup.events of the directory, checking its id first.
  Result<std::optional<bool>> read(const Entry& entry);
  void drop_watch(Entry& entry);
  void watch_parent(uint32_t slot, Entry& entry);
  void drop_parent_watch(Entry& entry);
  void notice(const inotify_event& event);

  UniqueFd inotify_;
  std::unordered_map<uint32_t, Entry> by_slot_;
  std::unordered_map<int, uint32_t> slot_of_watch_;
  std::unordered_map<int, Parent> parents_;  // by watch
  size_t unwatched_ = 0;
  uint64_t reads_ = 0;
  bool warned_ = false;
};

}  // namespace agentd::sandbox
