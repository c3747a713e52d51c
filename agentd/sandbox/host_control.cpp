#include "agentd/sandbox/host_control.hpp"

#include <errno.h>
#include <sched.h>
#include <sys/mount.h>

#include <fstream>
#include <sstream>

namespace agentd::sandbox {
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

}  // namespace

Result<HostControlPaths> find_host_control_paths(const std::filesystem::path& control_socket) {
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
    if (type != "cgroup" && type != "cgroup2") continue;
    std::istringstream fields(line);
    std::string id, parent, devices, root, mount_point;
    fields >> id >> parent >> devices >> root >> mount_point;
    paths.cgroup_mounts.push_back(unescape(mount_point));
  }
  if (!control_socket.empty()) paths.control_socket = std::filesystem::absolute(control_socket).string();
  return paths;
}

int hide_host_control(const HostControlPaths& paths) {
  if (unshare(CLONE_NEWNS) != 0) return errno;
  if (mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0) return errno;
  for (const auto& point : paths.cgroup_mounts) {
    // ENOENT: under a cgroup mount covered already.
    if (mount("agentd-hidden", point.c_str(), "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
              "mode=0555,size=4k") != 0 &&
        errno != ENOENT)
      return errno;
  }
  if (!paths.control_socket.empty()) {
    if (mount("/dev/null", paths.control_socket.c_str(), nullptr, MS_BIND, nullptr) != 0 && errno != ENOENT)
      return errno;
  }
  return 0;
}

}  // namespace agentd::sandbox
