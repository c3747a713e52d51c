#include "agentd/fleet/etcd_writer.hpp"

#include <spdlog/spdlog.h>

#include "agentd/fleet/etcd_messages.hpp"

namespace agentd::fleet {

namespace {
constexpr auto kFirstBackoff = std::chrono::milliseconds(250);
constexpr auto kMaxBackoff = std::chrono::seconds(10);
}  // namespace

EtcdWriter::EtcdWriter(EtcdClient client) : client_(std::move(client)) {
  client_.abort_when(&stop_);
  thread_ = std::thread([this] { run(); });
}

EtcdWriter::~EtcdWriter() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
    if (!pending_.empty())
      spdlog::warn(
          "fleet: {} etcd write(s) not made before agentd stopped (a grant etcd lacks at the next start is revoked "
          "there)",
          pending_.size());
  }
  wake_.notify_all();
  thread_.join();
}

void EtcdWriter::put(const std::string& key, std::string value) {
  {
    std::lock_guard lock(mutex_);
    pending_[key] = std::move(value);
  }
  wake_.notify_all();
}

void EtcdWriter::erase(const std::string& key) {
  {
    std::lock_guard lock(mutex_);
    pending_[key] = std::nullopt;
  }
  wake_.notify_all();
}

EtcdWriter::State EtcdWriter::state() const {
  std::lock_guard lock(mutex_);
  return {pending_.size(), written_, last_error_};
}

Status EtcdWriter::write(const std::string& key, const std::optional<std::string>& value) {
  auto text = value ? client_.call("/v3/kv/put", put_request(key, *value, 0))
                    : client_.call("/v3/kv/deleterange", delete_request(key));
  if (!text) return text.error();
  auto revision = parse_revision(*text);
  if (!revision) return revision.error();
  return ok_status();
}

void EtcdWriter::run() {
  auto backoff = std::chrono::milliseconds(kFirstBackoff);
  std::unique_lock lock(mutex_);
  while (!stop_) {
    wake_.wait(lock, [&] { return stop_ || !pending_.empty(); });
    if (stop_) return;
    auto [key, value] = *pending_.begin();
    lock.unlock();
    Status written = ok_status();
    try {  // a thread: an exception must not end the process
      written = write(key, value);
    } catch (const std::exception& e) {
      written = make_error("{}", e.what());
    }
    lock.lock();
    if (written) {
      // A newer wish for the key that came meanwhile stays to be written.
      if (auto it = pending_.find(key); it != pending_.end() && it->second == value) pending_.erase(it);
      ++written_;
      last_error_.clear();
      backoff = kFirstBackoff;
      continue;
    }
    const std::string error = fmt::format("writing {}: {}", key, written.error().describe());
    if (error != last_error_) spdlog::warn("fleet: {}; retrying", error);
    last_error_ = error;
    wake_.wait_for(lock, backoff, [&] { return stop_.load(); });
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, kMaxBackoff);
  }
}

}  // namespace agentd::fleet
