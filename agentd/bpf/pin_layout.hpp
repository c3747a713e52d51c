// The pure side of pinning maps by layout (pinned_maps.hpp): which
// directory holds which layout's pins, and whether a pinned map can be
// reused or its entries carried over. Unit-tested without root.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace agentd::bpf {

struct MapLayout {
  uint32_t type = 0, key_size = 0, value_size = 0, max_entries = 0, flags = 0;
};

// Why a map pinned with layout `pinned` cannot be reused as one this build
// declares as `built` (libbpf would refuse it without saying which part
// differs), or "" when it can.
std::string layout_mismatch(const MapLayout& pinned, const MapLayout& built);
// Whether the entries of a map of layout `from` can be copied into one of
// `to`: a type whose entries userspace can read and write, and the same
// type, key size, value size and flags (the number of entries may differ).
bool entries_copyable(const MapLayout& from, const MapLayout& to);

// "v<N>" → N; any other name is no layout's directory.
std::optional<int> pin_dir_version(const std::string& name);

struct PinDirs {
  std::filesystem::path current;  // maps/v<abi>: this layout's pins
  std::filesystem::path staging;  // maps/staging-v<abi>: filled before it becomes current
  // The pins of another layout to copy from and remove after the swap:
  // maps/v<N> (the highest N other than abi), or maps/ itself for the pins
  // of an agentd from before versioned pins (agentd_* files there).
  std::optional<std::filesystem::path> previous;
};

// From the names in maps/ (and whether each is a directory).
PinDirs choose_pin_dirs(const std::filesystem::path& maps_dir, int abi,
                        const std::vector<std::pair<std::string, bool>>& entries);
// The names in maps/ that hold other layouts' pins: v<N> for N other than
// abi, staging directories, and unversioned agentd_* pins.
std::vector<std::string> other_pins(const std::vector<std::pair<std::string, bool>>& entries, int abi);

}  // namespace agentd::bpf
