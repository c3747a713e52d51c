#include "agentd/confine/host_control.hpp"

#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace agentd::confine {
namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape(const std::string& field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      out += static_cast<char>(std::stoi(field.substr(i + 1, 3), nullptr, 8));
      i += 3;
    } else {
      out += field[i];
    }
  }
  return out;
}

constexpr unsigned long kCoverFlags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;

// An empty read-only tmpfs over `point`. ENOENT: not there (or under a
// cover already), nothing to hide.
int cover(const std::string& point) {
  if (mount("agentd-hidden", point.c_str(), "tmpfs", kCoverFlags, "mode=0555,size=4k") == 0 || errno == ENOENT)
    return 0;
  return errno;
}

// `path` (a file or a directory tree) read-only in this namespace only: a
// bind of itself, whose mounts below are then all made read-only. The bind
// first makes `path` a mount of its own, so that the read-only flag never
// lands on the mount holding it (/ itself, where /sys is no mount point).
int make_read_only(const char* path) {
  if (mount(path, path, nullptr, MS_BIND | MS_REC, nullptr) != 0) return errno == ENOENT ? 0 : errno;
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
  return mount_setattr(AT_FDCWD, path, AT_RECURSIVE, &attr, sizeof(attr)) == 0 ? 0 : errno;
}

}  // namespace

Result<HostControlPaths> find_host_control_paths(const std::vector<std::string>& agentd_dirs) {
  HostControlPaths paths;
  std::ifstream in("/proc/self/mountinfo");
  if (!in) return system_error("reading /proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    const auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream after(line.substr(dash + 3));
    std::string type;
    after >> type;
    if (type != "cgroup" && type != "cgroup2" && type != "proc") continue;
    std::istringstream fields(line);
    std::string id, parent, devices, root, mount_point;
    fields >> id >> parent >> devices >> root >> mount_point;
    mount_point = unescape(mount_point);
    if (type == "proc") {
      if (mount_point != "/proc") paths.proc_mounts.push_back(mount_point);
    } else {
      paths.cgroup_mounts.push_back(mount_point);
    }
  }
  for (const auto& dir : agentd_dirs) {
    if (dir.empty()) continue;
    std::string absolute = std::filesystem::absolute(dir).lexically_normal().string();
    while (absolute.size() > 1 && absolute.back() == '/') absolute.pop_back();
    // Covering / would hide everything: agentd never asks for it.
    if (absolute == "/" || std::count(paths.agentd_dirs.begin(), paths.agentd_dirs.end(), absolute)) continue;
    paths.agentd_dirs.push_back(absolute);
  }
  return paths;
}

int mount_private_proc() {
  if (mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0) return errno;
  // The host's /proc stays below, unreachable: this one is of our PID
  // namespace, so /proc/<pid> names the sandbox's processes only.
  if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) return errno;
  return 0;
}

int hide_host_control(const HostControlPaths& paths) {
  // Kernel settings: root owns /proc/sys/kernel/core_pattern (a host
  // takeover), /proc/sysrq-trigger (needs no capability) and much of /sys.
  for (const char* path : {"/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs", "/sys"})
    if (int error = make_read_only(path)) return error;
  for (const auto& point : paths.cgroup_mounts)
    if (int error = cover(point)) return error;
  for (const auto& point : paths.proc_mounts)
    if (int error = cover(point)) return error;
  for (const auto& dir : paths.agentd_dirs)
    if (int error = cover(dir)) return error;
  return 0;
}

}  // namespace agentd::confine
