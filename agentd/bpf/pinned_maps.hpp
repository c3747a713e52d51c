// Where the kernel's maps are pinned, and how an upgrade moves them with no
// moment unenforced (ARCHITECTURE.md, "Upgrades").
//
// Maps are pinned by layout, under <bpffs>/maps/v<AGENTD_ABI_VERSION>/. A
// daemon of the same layout reuses them (a restart). A daemon of another
// layout finds no such directory: it pins fresh maps in a staging
// directory, copies into them every map of the previous pins whose layout
// did not change (sandboxes, classes, learned addresses, grants, counters),
// fills the rest from the policy and the store as at any start, and only
// then swaps its programs into the pinned links, renames the staging
// directory to its own and removes the previous pins. Until the swap the
// previous programs keep enforcing with the previous maps.
//
// A map whose meaning changes takes a new name: maps are matched by name,
// type, key size, value size and flags.
#pragma once

#include <bpf/libbpf.h>

#include <filesystem>
#include <string>
#include <vector>

#include "agentd/bpf/pin_layout.hpp"
#include "agentd/common/result.hpp"

namespace agentd::bpf {

// choose_pin_dirs, reading maps/.
PinDirs find_pin_dirs(const std::filesystem::path& maps_dir, int abi);

// Each pinned map of the object (opened, not loaded) whose pin under
// `pin_dir` exists must match this build's declaration; the error names
// the map and what differs.
Status check_pinned_layouts(bpf_object* object, const std::filesystem::path& pin_dir);

struct CopyReport {
  std::vector<std::string> copied;         // map names, entries copied from the previous pins
  std::vector<std::string> started_empty;  // new, changed, or per-socket: filled by the daemon or by use
  uint64_t entries = 0;
};
// Copies, for each pinned map of the loaded object, the entries of the map
// of the same name under `previous` when entries_copyable.
Result<CopyReport> copy_previous_maps(bpf_object* object, const std::filesystem::path& previous);

// Removes the pins of other layouts: maps/v<N> for N other than abi, the
// staging directory of an interrupted upgrade, and unversioned pins
// directly in maps/. Programs still using those maps keep them until they
// are swapped out.
void remove_other_pins(const std::filesystem::path& maps_dir, int abi);

}  // namespace agentd::bpf
