#include "agentd/sandbox/cpu_share.hpp"

#include <fstream>
#include <sstream>

namespace agentd::sandbox {
namespace fs = std::filesystem;

namespace {

Result<std::string> read_line(const fs::path& file) {
  std::ifstream in(file);
  if (!in) return system_error("reading {}", file.string());
  std::string line;
  std::getline(in, line);
  return line;
}

Status write_value(const fs::path& file, const std::string& value) {
  std::ofstream out(file);
  out << value;
  out.flush();
  if (!out) return system_error("writing \"{}\" to {}", value, file.string());
  return ok_status();
}

// The controller must be offered to a cgroup before it can hand it down.
Status enable_cpu_below(const fs::path& cgroup) {
  auto offered = read_line(cgroup / "cgroup.controllers");
  if (!offered) return offered.error();
  if (!lists_cpu(*offered))
    return make_error("the cpu controller is not offered to {} (cgroup.controllers: \"{}\")", cgroup.string(),
                      *offered);
  auto enabled = read_line(cgroup / "cgroup.subtree_control");
  if (enabled && lists_cpu(*enabled)) return ok_status();
  return write_value(cgroup / "cgroup.subtree_control", "+cpu");
}

}  // namespace

std::vector<fs::path> cpu_share_levels(const fs::path& root, const fs::path& relative) {
  std::vector<fs::path> levels{root};
  fs::path current = root;
  std::vector<fs::path> parts(relative.begin(), relative.end());
  for (size_t i = 0; i + 1 < parts.size(); ++i) levels.push_back(current /= parts[i]);
  return levels;
}

bool lists_cpu(std::string_view controllers) {
  std::istringstream words{std::string(controllers)};
  std::string word;
  while (words >> word)
    if (word == "cpu") return true;
  return false;
}

Status share_cpu_fairly(const fs::path& root, const fs::path& relative) {
  for (const fs::path& level : cpu_share_levels(root, relative))
    if (auto st = enable_cpu_below(level); !st) return st;
  return ok_status();
}

}  // namespace agentd::sandbox
