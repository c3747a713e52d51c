#include "agentd/daemon/prefix_watch.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "agentd/fleet/key_layout.hpp"

namespace agentd::daemon {

namespace {
constexpr auto kFirstBackoff = std::chrono::milliseconds(250);
constexpr auto kMaxBackoff = std::chrono::seconds(10);
// Renewed with a fresh (quorum) read this often even when quiet: a member
// cut off from its cluster keeps a stream open and silent.
constexpr auto kRewatch = std::chrono::seconds(30);

bool same_keys(const fleet::RangeAnswer& a, const fleet::RangeAnswer& b) {
  if (a.kvs.size() != b.kvs.size()) return false;
  for (size_t i = 0; i < a.kvs.size(); ++i)
    if (a.kvs[i].key != b.kvs[i].key || a.kvs[i].mod_revision != b.kvs[i].mod_revision) return false;
  return true;
}
}  // namespace

Result<std::unique_ptr<PrefixWatch>> PrefixWatch::start(sd_event* loop, fleet::EtcdClient client, std::string prefix,
                                                        Callback on_read) {
  std::unique_ptr<PrefixWatch> watch(new PrefixWatch(std::move(client), std::move(prefix), std::move(on_read)));
  watch->wakeup_ = UniqueFd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (watch->wakeup_.get() < 0) return system_error("making an etcd watch's eventfd");
  sd_event_source* source = nullptr;
  if (int r = sd_event_add_io(loop, &source, watch->wakeup_.get(), EPOLLIN, &PrefixWatch::on_wakeup, watch.get());
      r < 0) {
    errno = -r;
    return system_error("watching an etcd watch's eventfd");
  }
  watch->source_.reset(source);
  watch->client_.abort_when(&watch->stop_);
  watch->thread_ = std::thread([w = watch.get()] { w->run(); });
  return watch;
}

PrefixWatch::~PrefixWatch() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  stopped_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool PrefixWatch::connected() const {
  std::lock_guard lock(mutex_);
  return connected_;
}

std::string PrefixWatch::state() const {
  std::lock_guard lock(mutex_);
  return state_;
}

std::string PrefixWatch::last_error() const {
  std::lock_guard lock(mutex_);
  return last_error_;
}

int PrefixWatch::on_wakeup(sd_event_source*, int fd, uint32_t, void* self) {
  auto* watch = static_cast<PrefixWatch*>(self);
  uint64_t count = 0;
  (void)::read(fd, &count, sizeof(count));
  std::optional<fleet::RangeAnswer> range;
  {
    std::lock_guard lock(watch->mutex_);
    range.swap(watch->pending_);
  }
  if (range) {
    try {
      watch->on_read_(*range);
    } catch (const std::exception& e) {
      spdlog::error("handling what etcd holds under {}: {}", watch->prefix_, e.what());  // sd-event is C
    }
  }
  return 0;
}

Status PrefixWatch::read_and_watch(std::optional<fleet::RangeAnswer>& last) {
  const std::string end = fleet::range_end_of_prefix(prefix_);
  auto text = client_.call("/v3/kv/range", fleet::range_request(prefix_, end));
  if (!text) return text.error();
  auto range = fleet::parse_range(*text);
  if (!range) return range.error();
  if (range->more) return make_error("etcd left keys under {} out of a read", prefix_);
  const int64_t revision = range->revision;
  if (!last || !same_keys(*range, *last)) {
    last = *range;
    {
      std::lock_guard lock(mutex_);
      pending_ = std::move(*range);  // only the newest matters
    }
    const uint64_t one = 1;
    (void)::write(wakeup_.get(), &one, sizeof(one));
  }
  {
    std::lock_guard lock(mutex_);
    connected_ = true;
    last_error_.clear();
    state_ = fmt::format("watching {} from revision {}", client_.current_endpoint(), revision + 1);
  }
  std::optional<Error> failure;
  auto on_message = [&](std::string_view line) {
    auto message = fleet::parse_watch(line);
    if (!message) {
      failure = message.error();
      return false;
    }
    using Kind = fleet::WatchMessage::Kind;
    if (message->kind == Kind::canceled)
      failure = make_error("etcd canceled the watch: {}", message->reason.empty() ? "no reason" : message->reason);
    // created and progress: go on; events and compacted: read whole again
    return message->kind == Kind::created || message->kind == Kind::progress;
  };
  auto streamed = client_.stream("/v3/watch", fleet::watch_request(prefix_, end, revision + 1), on_message,
                                 std::chrono::duration_cast<std::chrono::milliseconds>(kRewatch));
  if (!streamed) return streamed.error();
  if (failure) return *failure;
  return ok_status();
}

void PrefixWatch::run() {
  std::optional<fleet::RangeAnswer> last;
  auto backoff = std::chrono::milliseconds(kFirstBackoff);
  std::string said;
  while (!stop_) {
    Status status = ok_status();
    try {  // a thread: an exception is one more failure, retried
      status = read_and_watch(last);
    } catch (const std::exception& e) {
      status = make_error("{}", e.what());
    }
    if (status) {
      backoff = kFirstBackoff;
      said.clear();
      continue;
    }
    const std::string error = status.error().describe();
    if (error != said) spdlog::warn("fleet: watching {}: {}; retrying", prefix_, error);
    said = error;
    std::unique_lock lock(mutex_);
    connected_ = false;
    last_error_ = error;
    state_ = "disconnected: " + error;
    stopped_.wait_for(lock, backoff, [&] { return stop_.load(); });
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, kMaxBackoff);
  }
}

}  // namespace agentd::daemon
