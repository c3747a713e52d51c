#include "agentd/sandbox/delegation.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "agentd/sandbox/cgroup.hpp"

namespace agentd::sandbox {
namespace fs = std::filesystem;

namespace {
constexpr const char* kDaemonLeaf = "daemon";
constexpr const char* kSandboxRoot = "sandboxes";
}  // namespace

DelegatedLayout delegated_layout(const fs::path& own_cgroup) {
  fs::path unit = own_cgroup.lexically_normal();
  if (!unit.has_filename()) unit = unit.parent_path();  // a trailing '/'
  if (unit.filename() == kDaemonLeaf) unit = unit.parent_path();
  return {unit, unit / kDaemonLeaf, unit / kSandboxRoot};
}

bool started_by_systemd(const fs::path& own_cgroup, const fs::path& cgroup2_mount) {
  const char* invocation = std::getenv("INVOCATION_ID");  // NOLINT(concurrency-mt-unsafe): agentd never sets one
  if (invocation == nullptr || *invocation == '\0') return false;
  // The root cgroup is nobody's to divide; /proc/PID/cgroup names it "/",
  // which becomes the mount with a trailing separator.
  auto without_trailing = [](const fs::path& p) {
    fs::path n = p.lexically_normal();
    return n.has_filename() ? n : n.parent_path();
  };
  return without_trailing(own_cgroup) != without_trailing(cgroup2_mount) && path_is_within(own_cgroup, cgroup2_mount);
}

Status enter_delegated_layout(const DelegatedLayout& layout) {
  for (const fs::path& dir : {layout.daemon_leaf, layout.sandbox_root})
    if (auto st = create_cgroup_path(dir.parent_path(), dir.filename()); !st) return st;
  const fs::path procs = layout.daemon_leaf / "cgroup.procs";
  std::ofstream out(procs);
  out << ::getpid();
  out.flush();
  if (!out) return system_error("moving agentd into {}", layout.daemon_leaf.string());
  return ok_status();
}

}  // namespace agentd::sandbox
