#include "agentd/fleet/key_layout.hpp"

#include "agentd/common/safe_text.hpp"

namespace agentd::fleet {

namespace {

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

bool all_name_chars(std::string_view s) {
  for (char c : s)
    if (!is_name_char(c)) return false;
  return true;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() > suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

Result<KeyLayout> KeyLayout::make(std::string_view prefix) {
  if (prefix.empty() || prefix[0] != '/')
    return make_error("etcd prefix \"{}\": must start with '/' (e.g. /agentd)", prefix);
  if (prefix.size() > 1 && prefix.back() == '/') return make_error("etcd prefix \"{}\": must not end with '/'", prefix);
  if (prefix.size() > 512) return make_error("etcd prefix: longer than 512 bytes");
  size_t start = 1;
  while (start <= prefix.size()) {
    size_t end = prefix.find('/', start);
    if (end == std::string_view::npos) end = prefix.size();
    const auto part = prefix.substr(start, end - start);
    if (part.empty() || part == "." || part == ".." || !all_name_chars(part))
      return make_error("etcd prefix \"{}\": part \"{}\" is not [A-Za-z0-9_.-]+ (nor . or ..)", prefix, part);
    start = end + 1;
  }
  return KeyLayout(std::string(prefix == "/" ? "" : prefix));
}

Result<PolicyKey> KeyLayout::classify(std::string_view key) const {
  const std::string tenants = prefix_ + "/policy/tenants/";
  const std::string presets = prefix_ + "/policy/presets/";
  PolicyKey result{};
  if (key == push_key()) return PolicyKey{PolicyKeyKind::push_record, {}};
  std::string_view file;
  if (key.substr(0, tenants.size()) == tenants) {
    result.kind = PolicyKeyKind::tenant;
    file = key.substr(tenants.size());
  } else if (key.substr(0, presets.size()) == presets) {
    result.kind = PolicyKeyKind::preset;
    file = key.substr(presets.size());
  } else {
    return make_error("etcd key \"{}\": not under {} or {}", safe_text(key), tenants, presets);
  }
  if (!is_policy_file_name(file))
    return make_error("etcd key \"{}\": \"{}\" is not a policy file name ([A-Za-z0-9_.-]+.yaml or .yml, not hidden)",
                      safe_text(key), safe_text(file));
  result.file = std::string(file);
  return result;
}

std::string range_end_of_prefix(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // etcd: "\0" as range_end means every key
}

bool is_policy_file_name(std::string_view name) {
  return !name.empty() && name.size() <= 255 && name[0] != '.' && all_name_chars(name) &&
         (ends_with(name, ".yaml") || ends_with(name, ".yml"));
}

bool is_host_name(std::string_view name) {
  return !name.empty() && name.size() <= 253 && name != "." && name != ".." && all_name_chars(name);
}

}  // namespace agentd::fleet
