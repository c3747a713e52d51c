// The kernel side's life: load the programs, adopt or create the pinned
// maps, and attach each hook once at the sandbox root with a pinned
// bpf_link. A restarted daemon swaps its freshly loaded programs into the
// links it finds pinned (bpf_link__update_program): no second attachment,
// no moment without enforcement.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "agentd/bpf/features.hpp"
#include "agentd/bpf/libbpf_ptr.hpp"
#include "agentd/bpf/pinned_maps.hpp"
#include "agentd/common/result.hpp"
#include "agentd/common/unique_fd.hpp"
#include "agentd_abi.h"

namespace agentd::bpf {

// One sandbox's denial record budget (bpf/record_budget.bpf.h).
struct RecordBudget {
  uint32_t per_second = AGENTD_SANDBOX_RECORDS_PER_SECOND;
  uint32_t burst = AGENTD_SANDBOX_RECORD_BURST;
};

struct EnforcerOptions {
  std::filesystem::path bpffs_dir;    // maps/ and links/ are pinned here
  std::filesystem::path cgroup_root;  // where the hooks attach
  RecordBudget record_budget;
};

struct Attachment {
  std::string hook;      // program name, e.g. agentd_connect4
  std::string cgroup;    // where it is attached
  std::string pin;       // the link's pin path
  bool adopted = false;  // taken over from a previous daemon
};

struct MapFds {
  int rules = -1, cgroups = -1, state = -1, counts = -1, stats = -1, events = -1, learned = -1, dnscfg = -1;
  int grants = -1, dns6 = -1, records = -1, budget = -1;
  int names = -1, namecnt = -1;  // name verification: the names trie, its counts
  int ratelim = -1;              // the records' per-destination rate limit
  int dnsns = -1;                // network namespaces where the DNS proxy listens
  int hostaddr = -1;             // the host's own addresses, judged as loopback
  int traffic = -1;              // bytes and packets per sandbox and traffic class
};

class Enforcer {
 public:
  static Result<std::unique_ptr<Enforcer>> start(const EnforcerOptions& options, const KernelFeatures& features);
  ~Enforcer();
  Enforcer(const Enforcer&) = delete;
  Enforcer& operator=(const Enforcer&) = delete;

  const MapFds& maps() const { return maps_; }
  // agentd's own network namespace, where the shared proxy sockets are.
  uint64_t netns_cookie() const { return netns_cookie_; }
  const std::vector<Attachment>& attachments() const { return attachments_; }

  // Attaches the hooks, or swaps this daemon's programs into the links a
  // previous daemon pinned, once the maps hold what they must: at start
  // when nothing was attached, otherwise when the daemon has restored its
  // sandboxes, policy, grants and DNS (before it says it is ready). Then
  // the pins of another layout are removed. Idempotent.
  Status commit();
  // Attaches every hook to an adopted cgroup outside the root as well,
  // pinned under links/cg-<id>/ so it survives restarts too (at commit,
  // when asked before it).
  Status attach_extra_cgroup(const std::filesystem::path& cgroup, uint64_t cgroup_id);
  // Removes the links of an adopted cgroup.
  Status detach_extra_cgroup(uint64_t cgroup_id);

  nlohmann::json to_json() const;
  // "active", or "unavailable: why" (agentctl run refuses io_uring without it).
  const std::string& socket_family_hook() const { return lsm_status_; }

 private:
  Enforcer(EnforcerOptions options, EgressSkeleton skeleton);
  Status attach_all(const std::filesystem::path& cgroup, const std::filesystem::path& pin_dir);
  Status attach_first_bytes();
  std::vector<bpf_program*> programs() const;

  struct Pins {
    std::filesystem::path current;                  // this layout's: maps/v<AGENTD_ABI_VERSION>
    std::filesystem::path staging;                  // until commit, when the maps are fresh
    std::optional<std::filesystem::path> previous;  // another layout's, carried over
    CopyReport carried;
  };

  EnforcerOptions options_;
  EgressSkeleton skeleton_;
  Pins pins_;
  bool committed_ = false;
  std::vector<std::pair<std::filesystem::path, uint64_t>> deferred_cgroups_;  // adopted before commit
  MapFds maps_;
  uint64_t netns_cookie_ = 0;
  std::vector<LinkPtr> links_;
  std::vector<Attachment> attachments_;
  std::string lsm_status_;  // whether the LSM socket-family hook is in force, and if not why
};

}  // namespace agentd::bpf
