#include "agentd/sandbox/cgroup.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace agentd::sandbox {
namespace fs = std::filesystem;

Result<uint64_t> cgroup_id_of(const fs::path& cgroup) {
  struct stat st {};
  if (::stat(cgroup.c_str(), &st) != 0) return system_error("stat {}", cgroup.string());
  if (!S_ISDIR(st.st_mode)) return make_error("{} is not a cgroup directory", cgroup.string());
  return static_cast<uint64_t>(st.st_ino);
}

Result<bool> parse_populated(std::string_view events) {
  std::istringstream lines{std::string(events)};
  std::string key, value;
  while (lines >> key >> value) {
    if (key != "populated") continue;
    if (value == "0" || value == "1") return value == "1";
    return make_error("cgroup.events: populated is \"{}\", not 0 or 1", value);
  }
  return make_error("cgroup.events has no populated line");
}

Result<bool> cgroup_populated(const fs::path& cgroup) {
  std::ifstream in(cgroup / "cgroup.events");
  if (!in) return system_error("reading {}", (cgroup / "cgroup.events").string());
  std::stringstream text;
  text << in.rdbuf();
  return parse_populated(text.str());
}

std::vector<pid_t> cgroup_pids(const fs::path& cgroup) {
  std::vector<pid_t> pids;
  auto read_procs = [&](const fs::path& dir) {
    std::ifstream in(dir / "cgroup.procs");
    pid_t pid = 0;
    while (in >> pid) pids.push_back(pid);
  };
  read_procs(cgroup);
  std::error_code ec;
  for (fs::recursive_directory_iterator it(cgroup, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_directory(ec)) read_procs(it->path());
  return pids;
}

Status create_cgroup_path(const fs::path& root, const fs::path& relative) {
  fs::path current = root;
  for (const auto& part : relative) {
    current /= part;
    if (::mkdir(current.c_str(), 0755) != 0 && errno != EEXIST)
      return system_error("creating cgroup {}", current.string());
  }
  return ok_status();
}

Result<std::string> parse_proc_cgroup(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.rfind("0::", 0) == 0) return std::string(line.substr(3));
  }
  return make_error("no cgroup v2 entry (0::) in the process's cgroup list");
}

Result<fs::path> cgroup_of_pid(pid_t pid, const fs::path& cgroup2_mount) {
  const std::string path = "/proc/" + std::to_string(pid) + "/cgroup";
  std::ifstream in(path);
  if (!in) return system_error("reading {}", path);
  std::stringstream text;
  text << in.rdbuf();
  auto relative = parse_proc_cgroup(text.str());
  if (!relative) return relative.error();
  return (cgroup2_mount / fs::path(*relative).relative_path()).lexically_normal();
}

bool path_is_within(const fs::path& inner, const fs::path& outer) {
  const fs::path a = inner.lexically_normal();
  const fs::path b = outer.lexically_normal();
  auto ai = a.begin();
  for (const auto& part : b) {
    if (part.empty()) continue;  // a trailing separator normalises to an empty last part
    if (ai == a.end() || *ai != part) return false;
    ++ai;
  }
  return true;
}

Status kill_cgroup(const fs::path& cgroup) {
  std::ofstream out(cgroup / "cgroup.kill");
  out << "1";
  out.flush();
  if (!out) return system_error("writing {}", (cgroup / "cgroup.kill").string());
  return ok_status();
}

Status remove_cgroup_tree(const fs::path& cgroup) {
  std::error_code ec;
  if (!fs::exists(cgroup, ec)) return ok_status();
  for (const auto& entry : fs::directory_iterator(cgroup, ec)) {
    if (entry.is_directory(ec) && !entry.is_symlink(ec)) {
      if (auto st = remove_cgroup_tree(entry.path()); !st) return st;
    }
  }
  if (::rmdir(cgroup.c_str()) != 0 && errno != ENOENT) return system_error("removing cgroup {}", cgroup.string());
  return ok_status();
}

}  // namespace agentd::sandbox
