#include "agentd/sandbox/cgroup_mount.hpp"

#include <fstream>
#include <sstream>
#include <vector>

namespace agentd::sandbox {
namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_octal(std::string_view field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    auto is_octal = [](char c) { return c >= '0' && c <= '7'; };
    if (field[i] == '\\' && i + 3 < field.size() && is_octal(field[i + 1]) && is_octal(field[i + 2]) &&
        is_octal(field[i + 3])) {
      out.push_back(static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 + (field[i + 3] - '0')));
      i += 3;
      continue;
    }
    out.push_back(field[i]);
  }
  return out;
}

std::vector<std::string_view> split_spaces(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t pos = 0;
  while (pos < line.size()) {
    size_t end = line.find(' ', pos);
    if (end == std::string_view::npos) end = line.size();
    if (end > pos) fields.push_back(line.substr(pos, end - pos));
    pos = end + 1;
  }
  return fields;
}

}  // namespace

Result<std::filesystem::path> find_cgroup2_mount_in(std::string_view mountinfo) {
  size_t pos = 0;
  while (pos < mountinfo.size()) {
    size_t end = mountinfo.find('\n', pos);
    if (end == std::string_view::npos) end = mountinfo.size();
    auto fields = split_spaces(mountinfo.substr(pos, end - pos));
    pos = end + 1;
    // id parent major:minor root mount-point options [optional...] - fstype source super-options
    size_t separator = 6;
    while (separator < fields.size() && fields[separator] != "-") ++separator;
    if (fields.size() < 5 || separator + 1 >= fields.size()) continue;
    if (fields[separator + 1] == "cgroup2") return std::filesystem::path(unescape_octal(fields[4]));
  }
  return make_error("no cgroup2 filesystem is mounted (see /proc/self/mountinfo); agentd needs cgroup v2");
}

Result<std::filesystem::path> find_cgroup2_mount() {
  std::ifstream in("/proc/self/mountinfo");
  if (!in) return system_error("reading /proc/self/mountinfo");
  std::stringstream text;
  text << in.rdbuf();
  return find_cgroup2_mount_in(text.str());
}

}  // namespace agentd::sandbox
