// Writes keys to etcd from a thread of its own, so that the event loop
// never waits for etcd: the loop says what a key should hold (or that it
// should be gone) and returns; the thread writes it, retrying with backoff
// while etcd is unreachable. Only the newest wish for a key is kept, so a
// put then a delete of one key while etcd is away writes the delete alone.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "agentd/fleet/etcd_client.hpp"

namespace agentd::fleet {

class EtcdWriter {
 public:
  explicit EtcdWriter(EtcdClient client);
  ~EtcdWriter();  // stops within a second; what is not written yet is lost (logged)
  EtcdWriter(const EtcdWriter&) = delete;
  EtcdWriter& operator=(const EtcdWriter&) = delete;

  void put(const std::string& key, std::string value);
  void erase(const std::string& key);

  struct State {
    size_t pending = 0;      // keys not written yet
    uint64_t written = 0;    // puts and deletes etcd took
    std::string last_error;  // empty once a write succeeded again
  };
  State state() const;

 private:
  void run();
  Status write(const std::string& key, const std::optional<std::string>& value);

  EtcdClient client_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::map<std::string, std::optional<std::string>> pending_;  // nullopt: delete
  uint64_t written_ = 0;
  std::string last_error_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace agentd::fleet
