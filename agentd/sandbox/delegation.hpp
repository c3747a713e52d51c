// Running as a systemd service with Delegate=yes (ARCHITECTURE.md, "The
// sandbox side"): the unit's cgroup is ours to divide. cgroup v2 keeps
// processes in leaves once a cgroup has children with controllers, and the
// BPF programs at the sandbox root deny every cgroup below it that is no
// sandbox, so the daemon moves itself into <unit cgroup>/daemon and keeps
// the sandboxes beside it, under <unit cgroup>/sandboxes.
#pragma once

#include <filesystem>
#include <string_view>

#include "agentd/common/result.hpp"

namespace agentd::sandbox {

struct DelegatedLayout {
  std::filesystem::path unit_cgroup;   // what systemd gave us
  std::filesystem::path daemon_leaf;   // where agentd itself runs
  std::filesystem::path sandbox_root;  // the --cgroup-root
};

// Pure: the layout inside a delegated cgroup. A daemon started again (a
// restart) finds itself in the unit cgroup or, when moved by hand, already
// in the leaf; both give the same layout.
DelegatedLayout delegated_layout(const std::filesystem::path& own_cgroup);

// True when systemd started this process as a service ($INVOCATION_ID) and
// it runs in a cgroup of its own, not the root.
bool started_by_systemd(const std::filesystem::path& own_cgroup, const std::filesystem::path& cgroup2_mount);

// Creates the daemon leaf and the sandbox root, and moves the calling
// process into the leaf.
Status enter_delegated_layout(const DelegatedLayout& layout);

}  // namespace agentd::sandbox
