#include "agentd/confine/landlock.hpp"

#include <fcntl.h>
#include <linux/landlock.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include <fmt/format.h>

// Debian 12's headers know Landlock ABI 2; the running kernel may know
// more. Newer constants and the grown structures are declared here.
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)  // ABI 3
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)  // ABI 5
#endif
#ifndef LANDLOCK_ACCESS_NET_CONNECT_TCP
#define LANDLOCK_ACCESS_NET_BIND_TCP (1ULL << 0)  // ABI 4
#define LANDLOCK_ACCESS_NET_CONNECT_TCP (1ULL << 1)
#endif
#ifndef LANDLOCK_SCOPE_SIGNAL
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)  // ABI 6
#define LANDLOCK_SCOPE_SIGNAL (1ULL << 1)
#endif
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif

namespace agentd::confine {
namespace {

constexpr int kRuleNetPort = 2;  // LANDLOCK_RULE_NET_PORT, ABI 4

// struct landlock_ruleset_attr as of ABI 6; the kernel is told how much of
// it the running ABI reads.
struct RulesetAttr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net;
  uint64_t scoped;
};

struct NetPortAttr {
  uint64_t allowed_access;
  uint64_t port;
};

size_t attr_size(int abi) {
  if (abi >= 6) return sizeof(RulesetAttr);
  if (abi >= 4) return offsetof(RulesetAttr, scoped);
  return offsetof(RulesetAttr, handled_access_net);
}

uint64_t fs_rights(int abi) {
  if (abi < 1) return 0;
  uint64_t rights = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;  // ABI 1: execute .. make_sym
  if (abi >= 2) rights |= LANDLOCK_ACCESS_FS_REFER;
  if (abi >= 3) rights |= LANDLOCK_ACCESS_FS_TRUNCATE;
  if (abi >= 5) rights |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
  return rights;
}

// The rights that make sense on a file that is not a directory.
constexpr uint64_t kFileRights = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |
                                 LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE |
                                 LANDLOCK_ACCESS_FS_IOCTL_DEV;
constexpr uint64_t kRead = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;

// Devices every program expects; granted whenever files are confined.
struct ImplicitPath {
  const char* path;
  bool write;
};
constexpr ImplicitPath kImplicitPaths[] = {
    {"/dev/null", true}, {"/dev/zero", true}, {"/dev/full", true}, {"/dev/random", false}, {"/dev/urandom", false},
};

struct Grant {
  std::string path;
  uint64_t rights;
  std::string what;  // "read_only", ... for warnings
};

std::vector<Grant> grants_of(const policy::SandboxProfile& p, uint64_t handled) {
  std::vector<Grant> grants;
  for (const auto& path : p.read_only) grants.push_back({path, kRead, "read_only"});
  for (const auto& path : p.read_write) grants.push_back({path, handled & ~LANDLOCK_ACCESS_FS_EXECUTE, "read_write"});
  for (const auto& path : p.execute) grants.push_back({path, kRead | LANDLOCK_ACCESS_FS_EXECUTE, "execute"});
  for (const auto& implicit : kImplicitPaths)
    grants.push_back({implicit.path, implicit.write ? kRead | LANDLOCK_ACCESS_FS_WRITE_FILE : kRead, ""});
  return grants;
}

std::vector<std::string> missing_features(const policy::SandboxProfile& p, int abi, bool net_wall) {
  std::vector<std::string> missing;
  if (abi < 1) {
    if (p.filesystem) missing.emplace_back("file confinement (no Landlock)");
    if (net_wall) missing.emplace_back("the TCP port wall (no Landlock)");
    missing.emplace_back("signal and abstract unix socket scoping (no Landlock)");
    return missing;
  }
  if (p.filesystem && abi < 2)
    missing.emplace_back("linking and renaming across directories is refused everywhere (ABI 2)");
  if (p.filesystem && abi < 3) missing.emplace_back("truncate (ABI 3)");
  if (net_wall && abi < 4) missing.emplace_back("the TCP port wall (ABI 4)");
  if (p.filesystem && abi < 5) missing.emplace_back("device ioctl (ABI 5)");
  if (abi < 6) missing.emplace_back("signal and abstract unix socket scoping (ABI 6)");
  return missing;
}

bool net_wall_wanted(const policy::SandboxProfile& p) { return p.landlock_tcp_ports && p.tcp_connect_ports; }

}  // namespace

int landlock_abi() {
  long abi = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  return abi < 0 ? 0 : static_cast<int>(abi);
}

Result<LandlockRuleset> build_landlock_ruleset(const policy::SandboxProfile& profile, int abi) {
  if (profile.require_landlock_abi > abi)
    return make_error(
        "the policy requires Landlock ABI {} and this kernel has {}; refusing to run weaker "
        "(sources: {})",
        profile.require_landlock_abi, abi == 0 ? "none" : std::to_string(abi), fmt::join(profile.sources, ", "));
  LandlockRuleset ruleset;
  const bool net_wall = net_wall_wanted(profile);
  if (auto missing = missing_features(profile, abi, net_wall); !missing.empty())
    ruleset.warnings.push_back(fmt::format("Landlock ABI {} cannot enforce: {}", abi, fmt::join(missing, "; ")));
  if (abi < 1) return ruleset;

  RulesetAttr attr{};
  if (profile.filesystem) attr.handled_access_fs = fs_rights(abi);
  if (net_wall && abi >= 4) attr.handled_access_net = LANDLOCK_ACCESS_NET_CONNECT_TCP;
  if (abi >= 6) attr.scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL;
  if (!attr.handled_access_fs && !attr.handled_access_net && !attr.scoped) return ruleset;  // nothing to enforce

  long fd = ::syscall(SYS_landlock_create_ruleset, &attr, attr_size(abi), 0);
  if (fd < 0) return system_error("creating the Landlock ruleset (ABI {})", abi);
  ruleset.fd.reset(static_cast<int>(fd));

  if (attr.handled_access_fs) {
    for (const auto& grant : grants_of(profile, attr.handled_access_fs)) {
      UniqueFd path(::open(grant.path.c_str(), O_PATH | O_CLOEXEC));
      if (!path) {
        if (!grant.what.empty())
          ruleset.warnings.push_back(
              fmt::format("filesystem.{} {} skipped: {}", grant.what, grant.path, errno_text(errno)));
        continue;
      }
      struct stat st {};
      if (::fstat(path.get(), &st) != 0) return system_error("stat {}", grant.path);
      landlock_path_beneath_attr beneath{};
      beneath.allowed_access = grant.rights & attr.handled_access_fs;
      if (!S_ISDIR(st.st_mode)) beneath.allowed_access &= kFileRights;
      beneath.parent_fd = path.get();
      if (::syscall(SYS_landlock_add_rule, ruleset.fd.get(), LANDLOCK_RULE_PATH_BENEATH, &beneath, 0) != 0)
        return system_error("Landlock rule for {}", grant.path);
      if (grant.path == "/proc" || grant.path.rfind("/proc/", 0) == 0)
        ruleset.proc_grants.push_back({grant.path, beneath.allowed_access});
    }
  }
  if (attr.handled_access_net) {
    for (uint16_t port : *profile.tcp_connect_ports) {
      NetPortAttr net{LANDLOCK_ACCESS_NET_CONNECT_TCP, port};
      if (::syscall(SYS_landlock_add_rule, ruleset.fd.get(), kRuleNetPort, &net, 0) != 0)
        return system_error("Landlock rule for TCP port {}", port);
    }
  }
  return ruleset;
}

int landlock_regrant_proc(const LandlockRuleset& ruleset) {
  for (const auto& grant : ruleset.proc_grants) {
    // Gone in the sandbox's /proc (another process's pid): nothing to grant.
    UniqueFd path(::open(grant.path.c_str(), O_PATH | O_CLOEXEC));
    if (!path) continue;
    landlock_path_beneath_attr beneath{};
    beneath.allowed_access = grant.access;
    beneath.parent_fd = path.get();
    if (::syscall(SYS_landlock_add_rule, ruleset.fd.get(), LANDLOCK_RULE_PATH_BENEATH, &beneath, 0) != 0) return errno;
  }
  return 0;
}

int landlock_restrict_self(int ruleset_fd) {
  return ::syscall(SYS_landlock_restrict_self, ruleset_fd, 0) == 0 ? 0 : errno;
}

nlohmann::json landlock_coverage(const policy::SandboxProfile& p, int abi) {
  auto state = [&](bool wanted, int needs) -> std::string {
    if (!wanted) return "not configured";
    return abi >= needs ? "enforced" : fmt::format("not enforced (needs ABI {})", needs);
  };
  return {
      {"abi", abi},
      {"files", state(p.filesystem, 1)},
      {"refer", state(p.filesystem, 2)},
      {"truncate", state(p.filesystem, 3)},
      {"ioctl_dev", state(p.filesystem, 5)},
      {"tcp_connect_ports", state(net_wall_wanted(p), 4)},
      {"scope_signals", state(true, 6)},
      {"scope_abstract_unix_sockets", state(true, 6)},
      {"require_abi", p.require_landlock_abi},
      {"requirement_met", p.require_landlock_abi <= abi},
  };
}

}  // namespace agentd::confine
