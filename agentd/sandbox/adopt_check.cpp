#include "agentd/sandbox/adopt_check.hpp"

#include "agentd/common/safe_text.hpp"
#include "agentd/sandbox/cgroup.hpp"

namespace agentd::sandbox {
namespace fs = std::filesystem;

namespace {

// Either one holds the other (or they are the same).
bool overlaps(const fs::path& a, const fs::path& b) { return path_is_within(a, b) || path_is_within(b, a); }

}  // namespace

Result<fs::path> check_adoptable(std::string_view requested, const AdoptLimits& limits) {
  const std::string shown = terminal_text(requested);
  if (requested.empty()) return make_error("no cgroup given");
  if (requested.find('\0') != std::string_view::npos) return make_error("cgroup {}: a path has no NUL bytes", shown);
  const fs::path given{std::string(requested)};
  if (!given.is_absolute())
    return make_error("cgroup {}: give an absolute path (below {})", shown, limits.cgroup2_mount.string());
  // Refused rather than resolved: a path that climbs out and back in is
  // how one hides where it really points.
  for (const auto& part : given)
    if (part == "..") return make_error("cgroup {}: a path with \"..\" is refused; give it without", shown);
  fs::path cgroup = given.lexically_normal();
  if (!cgroup.has_filename() && cgroup != cgroup.root_path()) cgroup = cgroup.parent_path();  // "/a/b/" -> "/a/b"
  if (!path_is_within(cgroup, limits.cgroup2_mount) || cgroup == limits.cgroup2_mount.lexically_normal())
    return make_error("cgroup {} is not a cgroup below the cgroup2 mount {}", shown, limits.cgroup2_mount.string());
  if (overlaps(cgroup, limits.sandbox_root))
    return make_error(
        "cgroup {} is agentd's own sandbox tree {} (or holds it): sandboxes there are made with "
        "agentctl run or sandbox ensure, not adopted",
        shown, limits.sandbox_root.string());
  // Below agentd's cgroup is fine (agentd may run in the mount's root,
  // where every cgroup is); the one agentd is in, or above it, is not.
  if (!limits.own_cgroup.empty() && path_is_within(limits.own_cgroup, cgroup))
    return make_error("cgroup {} holds agentd itself ({}): agentd is never its own sandbox", shown,
                      limits.own_cgroup.string());
  return cgroup;
}

}  // namespace agentd::sandbox
