// Keeps this host's report at <prefix>/hosts/<host> under a lease of its
// own: refreshed while agentd runs, gone (the lease expires) when it stops
// or loses etcd for longer than the lease, so `agentctl fleet status` lists
// live hosts only. A thread of its own: etcd's slowness never reaches the
// event loop, which only hands it the newest report.
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

class HostReporter {
 public:
  HostReporter(EtcdClient client, std::string key);
  ~HostReporter();  // revokes the lease: a host that stops leaves the list at once
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

  EtcdClient client_;
  const std::string key_;
  int64_t lease_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::string report_, last_error_;
  bool dirty_ = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace agentd::fleet
