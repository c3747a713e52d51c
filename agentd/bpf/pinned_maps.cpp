#include "agentd/bpf/pinned_maps.hpp"

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "agentd/common/unique_fd.hpp"

namespace agentd::bpf {
namespace fs = std::filesystem;
namespace {

// The names in `dir`, and whether each is a directory.
std::vector<std::pair<std::string, bool>> listing(const fs::path& dir) {
  std::vector<std::pair<std::string, bool>> entries;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    entries.emplace_back(entry.path().filename().string(), entry.is_directory(ec));
  return entries;
}

MapLayout layout_of_built(const bpf_map* map) {
  return {static_cast<uint32_t>(bpf_map__type(map)), bpf_map__key_size(map), bpf_map__value_size(map),
          bpf_map__max_entries(map), bpf_map__map_flags(map)};
}

Result<MapLayout> layout_of_fd(int fd, const fs::path& pin) {
  bpf_map_info info{};
  uint32_t length = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &length) != 0) return system_error("reading the pinned map {}", pin.string());
  return MapLayout{info.type, info.key_size, info.value_size, info.max_entries, info.map_flags};
}

bool is_per_cpu(uint32_t type) {
  return type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_ARRAY || type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

// Every entry of `from` into `to`; both of one layout.
Result<uint64_t> copy_entries(int from, int to, const MapLayout& layout, const std::string& name) {
  size_t value_bytes = layout.value_size;
  if (is_per_cpu(layout.type)) {
    const int cpus = libbpf_num_possible_cpus();
    if (cpus <= 0) return make_error("counting the possible CPUs: {}", cpus);
    value_bytes = ((size_t{layout.value_size} + 7) / 8 * 8) * static_cast<size_t>(cpus);
  }
  std::vector<uint8_t> key(layout.key_size), next(layout.key_size), value(value_bytes);
  uint64_t copied = 0;
  const void* previous = nullptr;
  while (bpf_map_get_next_key(from, previous, next.data()) == 0) {
    key.swap(next);
    previous = key.data();
    if (bpf_map_lookup_elem(from, key.data(), value.data()) != 0) {
      if (errno == ENOENT) continue;  // removed between the two calls
      return system_error("reading an entry of the previous {}", name);
    }
    if (bpf_map_update_elem(to, key.data(), value.data(), BPF_ANY) != 0)
      return system_error("copying an entry of {} into the new map", name);
    ++copied;
  }
  if (errno != ENOENT) return system_error("walking the previous {}", name);
  return copied;
}

}  // namespace

PinDirs find_pin_dirs(const fs::path& maps_dir, int abi) { return choose_pin_dirs(maps_dir, abi, listing(maps_dir)); }

Status check_pinned_layouts(bpf_object* object, const fs::path& pin_dir) {
  bpf_map* map = nullptr;
  bpf_object__for_each_map(map, object) {
    if (!bpf_map__pin_path(map)) continue;
    const fs::path pin = pin_dir / bpf_map__name(map);
    std::error_code ec;
    if (!fs::exists(pin, ec)) continue;  // a map this layout added: created and pinned at load
    UniqueFd fd(bpf_obj_get(pin.c_str()));
    if (!fd) return system_error("opening the pinned map {}", pin.string());
    auto pinned = layout_of_fd(fd.get(), pin);
    if (!pinned) return pinned.error();
    if (auto mismatch = layout_mismatch(*pinned, layout_of_built(map)); !mismatch.empty())
      return make_error(
          "the pinned map {} does not match this build: {}; a layout change needs a new AGENTD_ABI_VERSION "
          "(bpf/agentd_abi.h), which pins beside the old maps and moves over with no gap",
          pin.string(), mismatch);
  }
  return ok_status();
}

Result<CopyReport> copy_previous_maps(bpf_object* object, const fs::path& previous) {
  CopyReport report;
  bpf_map* map = nullptr;
  bpf_object__for_each_map(map, object) {
    if (!bpf_map__pin_path(map)) continue;
    const std::string name = bpf_map__name(map);
    const fs::path pin = previous / name;
    std::error_code ec;
    UniqueFd from;
    if (fs::exists(pin, ec)) {
      from.reset(bpf_obj_get(pin.c_str()));
      if (!from) return system_error("opening the previous pinned map {}", pin.string());
    }
    std::optional<MapLayout> from_layout;
    if (from) {
      auto layout = layout_of_fd(from.get(), pin);
      if (!layout) return layout.error();
      from_layout = *layout;
    }
    const MapLayout to_layout = layout_of_built(map);
    if (!from_layout || !entries_copyable(*from_layout, to_layout)) {
      report.started_empty.push_back(name);
      continue;
    }
    auto copied = copy_entries(from.get(), bpf_map__fd(map), to_layout, name);
    if (!copied) return copied.error();
    report.entries += *copied;
    report.copied.push_back(name);
  }
  return report;
}

void remove_other_pins(const fs::path& maps_dir, int abi) {
  for (const auto& name : other_pins(listing(maps_dir), abi)) {
    std::error_code ec;
    fs::remove_all(maps_dir / name, ec);
    if (ec) spdlog::warn("removing the previous pins {}: {}", (maps_dir / name).string(), ec.message());
  }
}

}  // namespace agentd::bpf
