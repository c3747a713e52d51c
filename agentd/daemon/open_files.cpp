#include "agentd/daemon/open_files.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>

#include <spdlog/spdlog.h>

#include "agentd/common/result.hpp"
#include "agentd_abi.h"

namespace agentd::daemon {

namespace {

// Up to five per sandbox (its cgroup; its DNS proxy's UDP socket and TCP
// listener on 127.64.<slot> and on [::1]), and room besides for clients and
// queries upstream.
constexpr uint64_t kPerSandbox = 5;
constexpr uint64_t kBesides = 8192;

}  // namespace

uint64_t descriptor_budget(uint64_t limit) {
  if (limit == 0 || limit == RLIM_INFINITY) return UINT64_MAX;
  // A quarter of a low limit (4096 in many containers and VMs) is kept,
  // never more than kBesides: most of it still goes to sandboxes.
  return limit - std::min(kBesides, limit / 4);
}

uint64_t descriptors_per_sandbox(uint64_t links) { return kPerSandbox + links; }

uint64_t sandboxes_within(uint64_t limit) {
  const uint64_t budget = descriptor_budget(limit);
  return budget == UINT64_MAX ? UINT64_MAX : budget / kPerSandbox;
}

uint64_t raise_open_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised{limit.rlim_max, limit.rlim_max};
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0)
      limit = raised;
    else
      spdlog::warn("raising the open file limit to {}: {}", limit.rlim_max, errno_text(errno));
  }
  constexpr uint64_t kWanted = kPerSandbox * AGENTD_MAX_SANDBOXES + kBesides;
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < kWanted)
    spdlog::warn("open file limit {} is below {}: far fewer sandboxes than {} fit (raise LimitNOFILE or ulimit -n)",
                 limit.rlim_cur, kWanted, AGENTD_MAX_SANDBOXES);
  return limit.rlim_cur;
}

uint64_t open_file_limit() {
  rlimit limit{};
  return ::getrlimit(RLIMIT_NOFILE, &limit) == 0 ? limit.rlim_cur : 0;
}

}  // namespace agentd::daemon
