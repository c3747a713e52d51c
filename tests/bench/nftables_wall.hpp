// The wall a user would build without agentd (issue 15, goal 6): nftables
// matching the sending socket's cgroup (`socket cgroupv2`) against the same
// allow rules in one interval set, everything else from that cgroup
// dropped. bench_egress runs its loops behind it beside agentd's.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <iterator>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <vector>

#include <fmt/format.h>

#include "bench_policy.hpp"

namespace agentd::bench {

// The prefixes no other prefix of the list contains. The same destinations
// are allowed (every rule here has the same port), and nftables refuses
// overlapping elements in a set of concatenations.
inline std::vector<Prefix> outermost_prefixes(std::vector<Prefix> prefixes) {
  std::sort(prefixes.begin(), prefixes.end(), [](const Prefix& a, const Prefix& b) { return a.length < b.length; });
  auto key = [](uint32_t address, unsigned length) { return (uint64_t{address} << 8) | length; };
  std::unordered_set<uint64_t> kept;
  std::vector<bool> length_kept(33, false);
  std::vector<Prefix> outermost;
  for (const Prefix& p : prefixes) {
    bool covered = false;
    for (unsigned length = 0; length < p.length && !covered; ++length) {
      const uint32_t mask = length == 0 ? 0 : ~(0xffffffffu >> length);
      covered = length_kept[length] && kept.contains(key(p.address & mask, length));
    }
    if (covered) continue;
    kept.insert(key(p.address, p.length));
    length_kept[p.length] = true;
    outermost.push_back(p);
  }
  return outermost;
}

// An nft script (for `nft -f`) of table inet agentd_bench_wall: from
// `cgroup` (under the cgroup2 mount `cgroup2_mount`), IPv4 TCP and UDP to
// `prefixes` port 443 or to 127.0.0.1 ports 7070-7071 pass, the rest is
// dropped; other cgroups are not matched. nft finds the cgroup by a path
// under /sys/fs/cgroup, so the mount must be there (hybrid layouts mount it
// at /sys/fs/cgroup/unified).
inline std::string nftables_wall(const std::filesystem::path& cgroup2_mount, const std::filesystem::path& cgroup,
                                 const std::vector<Prefix>& prefixes) {
  const auto below_mount = cgroup.lexically_relative(cgroup2_mount);
  const auto below_sysfs = cgroup.lexically_relative("/sys/fs/cgroup");
  if (below_mount.empty() || below_sysfs.empty() || below_sysfs.string().starts_with(".."))
    throw std::runtime_error("nftables finds cgroups under /sys/fs/cgroup only, not " + cgroup.string());
  const auto level = std::distance(below_mount.begin(), below_mount.end());
  const std::string match = fmt::format("socket cgroupv2 level {} \"{}\"", level, below_sysfs.string());
  std::string script =
      "table inet agentd_bench_wall {\n"
      "  set allow4 {\n"
      "    type ipv4_addr . inet_service\n"
      "    flags interval\n"
      "    elements = { 127.0.0.1 . 7070-7071";
  for (const Prefix& p : outermost_prefixes(prefixes))
    script += fmt::format(",\n      {}/{} . 443", dotted(p.address), p.length);
  script += fmt::format(
      " }}\n"
      "  }}\n"
      "  chain out {{\n"
      "    type filter hook output priority 0; policy accept;\n"
      "    {0} meta l4proto {{ tcp, udp }} ip daddr . th dport @allow4 accept\n"
      "    {0} drop\n"
      "  }}\n"
      "}}\n",
      match);
  return script;
}

}  // namespace agentd::bench
