// DNS in a sandbox's other network namespaces. The hooks send a sandbox's
// queries to 127.64.<slot> (or [::1]) in the namespace the query comes
// from; in a container's own namespace nothing of agentd's listens there.
// The kernel refuses such a query (reason dns_netns, never silently) and
// agentd, on that record, opens the sandbox's proxy sockets inside the
// namespace, so the resolver's retry is answered. Namespaces no process of
// the sandbox is in any more are left again, after --retire-grace.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <set>

#include <spdlog/spdlog.h>

#include "agentd/common/unique_fd.hpp"
#include "agentd/daemon/daemon.hpp"
#include "agentd/sandbox/cgroup.hpp"

namespace agentd::daemon {
namespace {

// Namespaces one sandbox may have served besides agentd's own: a pod or
// a few containers, not a sandbox that makes namespaces in a loop.
constexpr size_t kNetnsPerSandbox = 16;

std::optional<uint64_t> netns_inode_of(pid_t pid) {
  struct stat st {};
  if (::stat(fmt::format("/proc/{}/ns/net", pid).c_str(), &st) != 0) return std::nullopt;
  return static_cast<uint64_t>(st.st_ino);
}

}  // namespace

void Daemon::serve_sandbox_netns(uint32_t slot, pid_t hint) {
  if (!dns_proxy_) return;
  const Sandbox* s = registry_.find_slot(slot);
  if (!s) return;
  std::set<uint64_t> served;
  if (auto own = netns_inode_of(::getpid())) served.insert(*own);  // the shared sockets' namespace
  size_t count = 0;
  for (const auto& f : dns_proxy_->foreign()) {
    if (f.slot != slot) continue;
    served.insert(f.netns_ino);
    ++count;
  }
  // The process that asked, then every other of the sandbox's: a resolver
  // may be gone by now, its container's other processes are not. A walk
  // that a record asks for (hint > 0) at most once a second per sandbox:
  // its records (one per destination, within its record budget) cannot
  // keep agentd walking. agentd's own walks (adoption, start, the sweep)
  // do not count against it: a container that starts right after its
  // parent cgroup was adopted is found on its first refused query.
  std::vector<pid_t> pids;
  if (hint <= 0) {
    pids = sandbox::cgroup_pids(s->cgroup);
  } else {
    const auto now = std::chrono::steady_clock::now();
    auto& walked = netns_walked_at_[slot];
    if (now - walked >= std::chrono::seconds(1)) {
      walked = now;
      pids = sandbox::cgroup_pids(s->cgroup);
    }
    pids.insert(pids.begin(), hint);
  }
  for (pid_t pid : pids) {
    auto ino = netns_inode_of(pid);
    if (!ino || served.contains(*ino)) continue;
    if (count >= kNetnsPerSandbox) {
      spdlog::warn(
          "sandbox {}: DNS from network namespace {} (pid {}) stays refused: it is served in {} namespaces "
          "already, the most one sandbox gets",
          s->agent.str(), *ino, pid, count);
      return;
    }
    if (serve_netns_of(*s, pid)) ++count;
    served.insert(*ino);  // tried: not again in this pass
  }
}

bool Daemon::serve_netns_of(const Sandbox& s, pid_t pid) {
  // The process by a pidfd: its pid cannot name another process while we
  // look, and one that is gone fails the last check.
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd) return false;
  UniqueFd netns(::open(fmt::format("/proc/{}/ns/net", pid).c_str(), O_RDONLY | O_CLOEXEC));
  auto cgroup = sandbox::cgroup_of_pid(pid, cgroup2_mount_);
  const bool alive = ::syscall(SYS_pidfd_send_signal, pidfd.get(), 0, nullptr, 0) == 0;
  if (!netns || !cgroup || !alive || !sandbox::path_is_within(*cgroup, s.cgroup)) return false;
  struct stat st {};
  if (::fstat(netns.get(), &st) != 0) return false;
  const auto ino = static_cast<uint64_t>(st.st_ino);
  const uint16_t port6 = options_.dns.ipv6_port_base ? static_cast<uint16_t>(options_.dns.ipv6_port_base + s.slot) : 0;
  auto sockets = dns::open_in_netns(netns.get(), s.slot, options_.dns.port, port6);
  if (!sockets) {
    spdlog::warn("sandbox {}: DNS from network namespace {} (pid {}) stays refused: {}", s.agent.str(), ino, pid,
                 sockets.error().describe());
    return false;
  }
  const uint64_t cookie = sockets->cookie;
  const std::string ipv6_error = sockets->ipv6_error;
  auto id = dns_proxy_->serve_foreign(s.slot, ino, std::move(*sockets));
  if (!id) {
    spdlog::warn("sandbox {}: DNS from network namespace {} stays refused: {}", s.agent.str(), ino,
                 id.error().describe());
    return false;
  }
  if (auto put = maps_->put_dns_netns(cookie, s.slot); !put) {
    dns_proxy_->stop_foreign(*id);
    spdlog::warn("sandbox {}: DNS from network namespace {} stays refused: {}", s.agent.str(), ino,
                 put.error().describe());
    return false;
  }
  spdlog::info("sandbox {}: serving its DNS in network namespace {} too (of pid {}){}", s.agent.str(), ino, pid,
               ipv6_error.empty() ? "" : fmt::format("; not over IPv6 there: {}", ipv6_error));
  return true;
}

void Daemon::sweep_sandbox_netns() {
  if (!dns_proxy_) return;
  // Adopted sandboxes are where containers are: their namespaces are
  // served before their first query, where the sweep gets there first.
  for (const auto& [slot, s] : registry_.all())
    if (s.adopted) serve_sandbox_netns(slot, 0);
  const auto now = std::chrono::steady_clock::now();
  std::map<uint32_t, std::set<uint64_t>> in_use;  // by slot: the namespaces its processes are in
  std::set<uint64_t> live_ids;
  for (const auto& f : dns_proxy_->foreign()) {
    live_ids.insert(f.id);
    const Sandbox* s = registry_.find_slot(f.slot);
    if (s && !in_use.contains(f.slot)) {
      auto& namespaces = in_use[f.slot];
      for (pid_t pid : sandbox::cgroup_pids(s->cgroup))
        if (auto ino = netns_inode_of(pid)) namespaces.insert(*ino);
    }
    if (s && in_use[f.slot].contains(f.netns_ino)) {
      netns_unused_since_.erase(f.id);
      continue;
    }
    auto it = netns_unused_since_.try_emplace(f.id, now).first;
    // As long as an empty sandbox waits before it is retired: a container
    // restarting in its namespace keeps being served.
    if (now - it->second < options_.retire_grace) continue;
    if (auto st = maps_->delete_dns_netns(f.cookie, f.slot); !st) spdlog::error("{}", st.error().describe());
    dns_proxy_->stop_foreign(f.id);
    netns_unused_since_.erase(f.id);
    spdlog::info("slot {}: no longer serving DNS in network namespace {}: no process of its sandbox is in it", f.slot,
                 f.netns_ino);
  }
  std::erase_if(netns_unused_since_, [&](const auto& e) { return !live_ids.contains(e.first); });
  std::erase_if(netns_walked_at_, [&](const auto& e) { return !registry_.find_slot(e.first); });
}

void Daemon::forget_sandbox_netns(uint32_t slot) {
  if (!dns_proxy_) return;
  for (const auto& f : dns_proxy_->foreign())
    if (f.slot == slot)
      if (auto st = maps_->delete_dns_netns(f.cookie, slot); !st) spdlog::error("{}", st.error().describe());
}

}  // namespace agentd::daemon
