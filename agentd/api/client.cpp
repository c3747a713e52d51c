#include "agentd/api/client.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "agentd/common/json_dump.hpp"
#include "agentd/common/unique_fd.hpp"

namespace agentd::api {

// What a refusal's message starts with (is_refusal).
constexpr std::string_view kRefusalPrefix = "agentd: ";

Result<UniqueFd> connect_and_send(const std::filesystem::path& socket_path, const nlohmann::json& request) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.string().size() >= sizeof(addr.sun_path))
    return make_error("socket path {} is too long", socket_path.string());
  std::strncpy(addr.sun_path, socket_path.c_str(), sizeof(addr.sun_path) - 1);

  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return system_error("creating a socket");
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
    return system_error("connecting to agentd at {} (is it running? see --socket)", socket_path.string());
  const std::string text = agentd::dump_json(request) + "\n";
  size_t sent = 0;
  while (sent < text.size()) {
    ssize_t n = ::send(fd.get(), text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    // agentd may answer and close at accept (a caller inside a sandbox, a
    // uid at its limit) before reading: its one line waits to be read.
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) return fd;
    if (n <= 0) return system_error("sending to agentd");
    sent += static_cast<size_t>(n);
  }
  return fd;
}

bool is_refusal(const Error& error) { return error.errno_value == 0 && error.message.rfind(kRefusalPrefix, 0) == 0; }

Result<nlohmann::json> call(const std::filesystem::path& socket_path, const nlohmann::json& request) {
  auto connected = connect_and_send(socket_path, request);
  if (!connected) return connected.error();
  UniqueFd fd = std::move(*connected);
  timeval timeout{30, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  std::string reply;
  char chunk[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    // agentd answers a caller it turns away at accept and closes at once;
    // a request it had not read by then resets the connection, after the
    // answer, which is whole: the reset is its end, not an error.
    if (n < 0 && errno == ECONNRESET && !reply.empty()) break;
    if (n < 0) return system_error("reading agentd's answer");
    if (n == 0) break;
    reply.append(chunk, static_cast<size_t>(n));
  }
  auto response = nlohmann::json::parse(reply, nullptr, false);
  if (response.is_discarded() || !response.is_object())
    return make_error("agentd sent an answer that is not JSON: {:.200}", reply);
  if (!response.value("ok", false))
    return make_error("{}{}", kRefusalPrefix, response.value("error", std::string("unknown error")));
  return response.contains("result") ? response["result"] : nlohmann::json(nullptr);
}

}  // namespace agentd::api
