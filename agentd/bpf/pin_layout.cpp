#include "agentd/bpf/pin_layout.hpp"

#include <linux/bpf.h>

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

namespace agentd::bpf {
namespace fs = std::filesystem;
namespace {

bool type_is_copyable(uint32_t type) {
  switch (type) {
    case BPF_MAP_TYPE_HASH:
    case BPF_MAP_TYPE_ARRAY:
    case BPF_MAP_TYPE_LPM_TRIE:
    case BPF_MAP_TYPE_LRU_HASH:
    case BPF_MAP_TYPE_PERCPU_HASH:
    case BPF_MAP_TYPE_PERCPU_ARRAY:
    case BPF_MAP_TYPE_LRU_PERCPU_HASH:
      return true;
    default:  // ring buffers, socket storage, sockhashes: nothing to carry over
      return false;
  }
}

// bpffs takes no dot in a name.
std::string staging_name(int abi) { return fmt::format("staging-v{}", abi); }

bool is_unversioned_pin(const std::string& name, bool is_dir) { return !is_dir && name.starts_with("agentd_"); }

}  // namespace

// "v<N>" → N; anything else is no layout's directory.
std::optional<int> pin_dir_version(const std::string& name) {
  if (name.size() < 2 || name[0] != 'v') return std::nullopt;
  int version = 0;
  auto [end, error] = std::from_chars(name.data() + 1, name.data() + name.size(), version);
  if (error != std::errc() || end != name.data() + name.size() || version < 0) return std::nullopt;
  return version;
}

std::string layout_mismatch(const MapLayout& pinned, const MapLayout& built) {
  std::string differences;
  auto differ = [&](const char* what, uint32_t was, uint32_t is) {
    if (was != is)
      differences += fmt::format("{}{} {} (this build: {})", differences.empty() ? "" : ", ", what, was, is);
  };
  differ("type", pinned.type, built.type);
  differ("key size", pinned.key_size, built.key_size);
  differ("value size", pinned.value_size, built.value_size);
  differ("max entries", pinned.max_entries, built.max_entries);
  differ("flags", pinned.flags, built.flags);
  return differences;
}

bool entries_copyable(const MapLayout& from, const MapLayout& to) {
  return type_is_copyable(to.type) && from.type == to.type && from.key_size == to.key_size &&
         from.value_size == to.value_size && from.flags == to.flags;
}

PinDirs choose_pin_dirs(const fs::path& maps_dir, int abi, const std::vector<std::pair<std::string, bool>>& entries) {
  PinDirs dirs{maps_dir / fmt::format("v{}", abi), maps_dir / staging_name(abi), std::nullopt};
  std::optional<int> newest_other;
  bool unversioned = false;
  for (const auto& [name, is_dir] : entries) {
    if (auto version = is_dir ? pin_dir_version(name) : std::nullopt; version && *version != abi)
      newest_other = std::max(newest_other.value_or(*version), *version);
    unversioned = unversioned || is_unversioned_pin(name, is_dir);
  }
  if (newest_other)
    dirs.previous = maps_dir / fmt::format("v{}", *newest_other);
  else if (unversioned)
    dirs.previous = maps_dir;
  return dirs;
}

std::vector<std::string> other_pins(const std::vector<std::pair<std::string, bool>>& entries, int abi) {
  const std::string current = fmt::format("v{}", abi);
  std::vector<std::string> others;
  for (const auto& [name, is_dir] : entries)
    if ((is_dir && name != current && (pin_dir_version(name) || name.starts_with("staging-"))) ||
        is_unversioned_pin(name, is_dir))
      others.push_back(name);
  return others;
}

}  // namespace agentd::bpf
