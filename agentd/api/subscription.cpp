#include "agentd/api/subscription.hpp"

#include <fcntl.h>
#include <unistd.h>

#include "agentd/api/client.hpp"

namespace agentd::api {

Result<Subscription> Subscription::open(const std::filesystem::path& socket_path, const nlohmann::json& request) {
  auto fd = connect_and_send(socket_path, request);
  if (!fd) return fd.error();
  ::fcntl(fd->get(), F_SETFL, ::fcntl(fd->get(), F_GETFL) | O_NONBLOCK);
  return Subscription(std::move(*fd));
}

std::optional<nlohmann::json> Subscription::take_line() {
  const auto newline = buffer_.find('\n');
  if (newline == std::string::npos) return std::nullopt;
  auto line = nlohmann::json::parse(buffer_.substr(0, newline), nullptr, false);
  buffer_.erase(0, newline + 1);
  return line.is_discarded() ? nlohmann::json(nullptr) : line;
}

Result<std::optional<nlohmann::json>> Subscription::next() {
  if (auto line = take_line()) return line;
  char chunk[8192];
  for (;;) {
    const ssize_t n = ::read(fd_.get(), chunk, sizeof(chunk));
    if (n > 0) {
      buffer_.append(chunk, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    // A reset after agentd's last line (see call() in client.cpp) ends the
    // stream as a close does: the lines before it are still taken.
    if (n == 0 || (n < 0 && errno == ECONNRESET))
      closed_ = true;
    else if (errno != EAGAIN)
      return system_error("reading from agentd");
    break;
  }
  if (auto line = take_line()) return line;
  if (closed_) return make_error("agentd closed the connection");
  return std::optional<nlohmann::json>();
}

}  // namespace agentd::api
