// Keeps this host's report at <prefix>/hosts/<host> under a lease of its
// own: refreshed while agentd runs, gone (the lease expires) when it stops
// or loses etcd for longer than the lease, so `agentctl fleet status` tells
// live hosts from the others. A copy with the time it was sent goes to
// <prefix>/members/<host>, no lease, every kMemberRefresh and at each
// change: what lets `fleet status` say how long a host has been silent. A thread of its own: etcd's slowness never
// reaches the event loop, which only hands it the newest report.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "agentd/fleet/etcd_client.hpp"
#include "agentd/fleet/key_layout.hpp"

namespace agentd::fleet {

inline constexpr int64_t kHostLeaseSeconds = 15;
// Each refresh of the member key is one etcd revision: one a host every
// half minute keeps a fleet's history small (README: compaction).
inline constexpr auto kMemberRefresh = std::chrono::seconds(30);

class HostReporter {
 public:
  HostReporter(EtcdClient client, std::string key, std::string member_key);
  // Marks the member key stopped and revokes the lease: a host that stops
  // leaves the live list at once.
  ~HostReporter();
  HostReporter(const HostReporter&) = delete;
  HostReporter& operator=(const HostReporter&) = delete;

  // The report to publish next (written within a moment).
  void update(const nlohmann::json& report);
  // The last error talking to etcd, empty once a write succeeded again.
  std::string last_error() const;

 private:
  void run();
  void report_until_stopped();
  bool publish(const std::string& report);
  // The member key: `report` with the time, and "stopped" when it is.
  void remember(const std::string& report, bool stopped);

  EtcdClient client_;
  const std::string key_, member_key_;
  std::chrono::steady_clock::time_point member_written_{};
  int64_t lease_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::string report_, last_error_;
  bool dirty_ = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace agentd::fleet
