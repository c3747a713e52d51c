#include "agentd/fleet/host_reporter.hpp"

#include <spdlog/spdlog.h>

#include "agentd/common/json_dump.hpp"
#include "agentd/fleet/etcd_messages.hpp"

namespace agentd::fleet {

namespace {
// A keepalive a third of the lease: two may fail before the host vanishes.
constexpr auto kRefresh = std::chrono::seconds(kHostLeaseSeconds / 3);
}  // namespace

HostReporter::HostReporter(EtcdClient client, std::string key, std::string member_key)
    : client_(std::move(client)), key_(std::move(key)), member_key_(std::move(member_key)) {
  client_.abort_when(&stop_);
  thread_ = std::thread([this] { run(); });
}

HostReporter::~HostReporter() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
  // One last call, not aborted: it ends in etcd's timeouts at worst.
  client_.abort_when(nullptr);
  std::string report;
  {
    std::lock_guard lock(mutex_);
    report = report_;
  }
  try {  // a destructor: nothing escapes (json, allocation)
    if (!report.empty()) remember(report, true);
  } catch (const std::exception& e) {
    spdlog::warn("fleet: marking this host stopped in etcd: {}", e.what());
  }
  if (lease_ != 0) (void)client_.call("/v3/kv/lease/revoke", lease_id_request(lease_));
}

void HostReporter::update(const nlohmann::json& report) {
  {
    std::lock_guard lock(mutex_);
    std::string text = dump_json(report);  // never throws on bytes etcd or a policy chose
    if (text == report_) return;           // the keepalive keeps it
    report_ = std::move(text);
    dirty_ = true;
  }
  wake_.notify_all();
}

std::string HostReporter::last_error() const {
  std::lock_guard lock(mutex_);
  return last_error_;
}

void HostReporter::remember(const std::string& report, bool stopped) {
  auto value = nlohmann::json::parse(report, nullptr, false);
  if (!value.is_object()) return;
  const auto now = std::chrono::system_clock::now();
  value["seen_at_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  value["stopped"] = stopped;
  if (auto text = client_.call("/v3/kv/put", put_request(member_key_, dump_json(value), 0)); text)
    member_written_ = std::chrono::steady_clock::now();
}

// Returns whether the report is in etcd under a live lease.
bool HostReporter::publish(const std::string& report) {
  auto fail = [&](const Error& error) {
    std::lock_guard lock(mutex_);
    if (last_error_ != error.describe()) spdlog::warn("fleet host report: {}", error.describe());
    last_error_ = error.describe();
    return false;
  };
  if (lease_ == 0) {
    auto text = client_.call("/v3/lease/grant", lease_grant_request(kHostLeaseSeconds));
    if (!text) return fail(text.error());
    auto lease = parse_lease(*text);
    if (!lease) return fail(lease.error());
    if (lease->id == 0) return fail(make_error("etcd lease grant: no lease id in the answer"));
    lease_ = lease->id;
  }
  auto text = client_.call("/v3/kv/put", put_request(key_, report, lease_));
  if (!text) return fail(text.error());
  if (auto revision = parse_revision(*text); !revision) {
    lease_ = 0;  // most likely the lease expired while etcd was away: a new one next time
    return fail(revision.error());
  }
  remember(report, false);
  std::lock_guard lock(mutex_);
  last_error_.clear();
  return true;
}

void HostReporter::run() {
  // A thread: an exception here would end the process (std::terminate).
  try {
    report_until_stopped();
  } catch (const std::exception& e) {
    spdlog::error("fleet host report stopped: {}", e.what());
  }
}

void HostReporter::report_until_stopped() {
  bool published = false;
  auto next_refresh = std::chrono::steady_clock::now();
  while (!stop_) {
    std::string report;
    {
      std::unique_lock lock(mutex_);
      wake_.wait_until(lock, next_refresh, [&] { return stop_ || dirty_; });
      if (stop_) return;
      if (report_.empty()) {  // nothing to say yet
        next_refresh = std::chrono::steady_clock::now() + kRefresh;
        continue;
      }
      report = report_;
      if (dirty_) published = false;
      dirty_ = false;
    }
    next_refresh = std::chrono::steady_clock::now() + kRefresh;
    if (!published) {
      published = publish(report);
      continue;
    }
    auto text = client_.call("/v3/lease/keepalive", lease_id_request(lease_));
    auto lease = text ? parse_lease(*text) : Result<LeaseAnswer>(text.error());
    if (!lease || lease->ttl <= 0) {
      lease_ = lease && lease->ttl <= 0 ? 0 : lease_;  // expired: grant anew; unreachable: retry it
      published = publish(report);
    } else if (std::chrono::steady_clock::now() - member_written_ >= kMemberRefresh) {
      remember(report, false);
    }
  }
}

}  // namespace agentd::fleet
