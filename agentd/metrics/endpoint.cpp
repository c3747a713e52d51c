#include "agentd/metrics/endpoint.hpp"

#include <microhttpd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include <spdlog/spdlog.h>

namespace agentd::metrics {

namespace {

// A scraper or two, never a crowd: what is left over waits in the backlog.
constexpr unsigned kConnectionLimit = 8;
constexpr unsigned kConnectionTimeoutSeconds = 10;
constexpr auto kRenderTimeout = std::chrono::seconds(5);
constexpr auto kFreshFor = std::chrono::seconds(1);

MHD_Result respond(MHD_Connection* connection, unsigned status, const std::string& body, const char* type) {
  MHD_Response* response =
      MHD_create_response_from_buffer(body.size(), const_cast<char*>(body.data()), MHD_RESPMEM_MUST_COPY);
  if (!response) return MHD_NO;
  MHD_add_response_header(response, "Content-Type", type);
  const MHD_Result queued = MHD_queue_response(connection, status, response);
  MHD_destroy_response(response);
  return queued;
}

// The unix socket, root's alone (metrics name every tenant's agents):
// a stale socket file from an earlier agentd is replaced, anything else
// at the path is not.
Result<UniqueFd> listen_unix(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return make_error("--metrics-listen: {} exists and is not a socket", path);
    ::unlink(path.c_str());
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return system_error("--metrics-listen: socket");
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.c_str(), path.size());
  const mode_t old_mask = ::umask(0177);
  const int bound = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address));
  ::umask(old_mask);
  if (bound != 0) return system_error("--metrics-listen: bind {}", path);
  if (::listen(fd.get(), 16) != 0) return system_error("--metrics-listen: listen {}", path);
  return fd;
}

// GET /metrics and nothing else.
MHD_Result on_request(void* self, MHD_Connection* connection, const char* url, const char* method, const char*,
                      const char*, size_t*, void**) {
  auto* endpoint = static_cast<Endpoint*>(self);
  if (std::strcmp(method, "GET") != 0 && std::strcmp(method, "HEAD") != 0)
    return respond(connection, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET /metrics\n", "text/plain; charset=utf-8");
  if (std::strcmp(url, "/metrics") != 0)
    return respond(connection, MHD_HTTP_NOT_FOUND, "agentd serves /metrics only\n", "text/plain; charset=utf-8");
  auto text = endpoint->fetch();
  if (!text || text->empty())
    return respond(connection, MHD_HTTP_SERVICE_UNAVAILABLE, "agentd did not render its metrics in time\n",
                   "text/plain; charset=utf-8");
  return respond(connection, MHD_HTTP_OK, *text, "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace

Result<std::unique_ptr<Endpoint>> Endpoint::start(sd_event* loop, const ListenAddress& where, Render render) {
  std::unique_ptr<Endpoint> endpoint(new Endpoint());
  endpoint->render_ = std::move(render);
  endpoint->wake_ = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!endpoint->wake_) return system_error("metrics: eventfd");
  sd_event_source* source = nullptr;
  if (int r = sd_event_add_io(loop, &source, endpoint->wake_.get(), EPOLLIN, &Endpoint::on_wakeup, endpoint.get());
      r < 0)
    return make_error("metrics: watching the eventfd: {}", errno_text(-r));
  endpoint->source_.reset(source);

  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
  if (!where.unix_path.empty()) {
    auto fd = listen_unix(where.unix_path);
    if (!fd) return fd.error();
    endpoint->unix_path_ = where.unix_path;
    // libmicrohttpd owns the listening socket from here and closes it.
    endpoint->daemon_ =
        MHD_start_daemon(flags, 0, nullptr, nullptr, &on_request, endpoint.get(), MHD_OPTION_LISTEN_SOCKET,
                         fd->release(), MHD_OPTION_CONNECTION_LIMIT, kConnectionLimit, MHD_OPTION_CONNECTION_TIMEOUT,
                         kConnectionTimeoutSeconds, MHD_OPTION_END);
  } else {
    if (where.address.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    endpoint->daemon_ = MHD_start_daemon(flags, 0, nullptr, nullptr, &on_request, endpoint.get(), MHD_OPTION_SOCK_ADDR,
                                         &where.address, MHD_OPTION_CONNECTION_LIMIT, kConnectionLimit,
                                         MHD_OPTION_CONNECTION_TIMEOUT, kConnectionTimeoutSeconds, MHD_OPTION_END);
  }
  if (!endpoint->daemon_)
    return make_error("--metrics-listen {}: cannot listen there (in use, or no such address)", where.text);
  return endpoint;
}

Endpoint::~Endpoint() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  answered_cv_.notify_all();
  if (daemon_) MHD_stop_daemon(daemon_);  // joins its thread
  if (!unix_path_.empty()) ::unlink(unix_path_.c_str());
}

uint64_t Endpoint::scrapes() const {
  std::lock_guard lock(mutex_);
  return scrapes_;
}

std::optional<std::string> Endpoint::fetch() {
  std::unique_lock lock(mutex_);
  if (!text_.empty() && std::chrono::steady_clock::now() - rendered_at_ < kFreshFor) {
    ++scrapes_;
    return text_;
  }
  const uint64_t ticket = ++asked_;
  const uint64_t one = 1;
  if (::write(wake_.get(), &one, sizeof one) != sizeof one) return std::nullopt;
  if (!answered_cv_.wait_for(lock, kRenderTimeout, [&] { return stopping_ || answered_ >= ticket; }))
    return std::nullopt;
  if (stopping_) return std::nullopt;
  ++scrapes_;
  return text_;
}

int Endpoint::on_wakeup(sd_event_source*, int fd, uint32_t, void* self) {
  auto* endpoint = static_cast<Endpoint*>(self);
  uint64_t count = 0;
  (void)::read(fd, &count, sizeof count);
  std::string text;
  try {
    text = endpoint->render_();
  } catch (const std::exception& e) {
    spdlog::error("metrics: rendering failed: {}", e.what());
    text.clear();
  }
  {
    std::lock_guard lock(endpoint->mutex_);
    endpoint->text_ = std::move(text);
    endpoint->rendered_at_ = std::chrono::steady_clock::now();
    endpoint->answered_ = endpoint->asked_;
  }
  endpoint->answered_cv_.notify_all();
  return 0;
}

}  // namespace agentd::metrics
