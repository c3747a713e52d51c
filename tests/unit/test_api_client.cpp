// agentctl's side of the control socket, against a socket of the test's own
// that behaves as agentd does when it turns a caller away at accept: one
// answer line, then a close with the caller's request unread.
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>

#include "agentd/api/client.hpp"
#include "agentd/api/subscription.hpp"
#include "agentd/common/unique_fd.hpp"

namespace fs = std::filesystem;
using agentd::UniqueFd;

namespace {

struct TurnAwayServer {
  fs::path dir, path;
  UniqueFd listener;
  std::thread thread;

  TurnAwayServer() {
    char templ[] = "/tmp/agentd-unit-api-XXXXXX";
    REQUIRE(mkdtemp(templ) != nullptr);
    dir = templ;
    path = dir / "agentd.sock";
    listener = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    REQUIRE(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    REQUIRE(::listen(listener.get(), 4) == 0);
    thread = std::thread([this] {
      UniqueFd client(::accept(listener.get(), nullptr, nullptr));
      if (!client) return;
      const std::string line = "{\"ok\":false,\"error\":\"requests from inside a sandbox are refused\"}\n";
      (void)::send(client.get(), line.data(), line.size(), MSG_NOSIGNAL);
      // Closed only once the request is there, unread: what a loaded
      // agentd does when the request arrives between its answer and its close.
      pollfd p{client.get(), POLLIN, 0};
      (void)::poll(&p, 1, 10000);
    });
  }
  ~TurnAwayServer() {
    if (thread.joinable()) thread.join();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

}  // namespace

TEST_CASE("a refusal followed by a reset is read as the refusal, not as a broken connection") {
  TurnAwayServer server;
  auto result = agentd::api::call(server.path, {{"method", "approvals.approve"}, {"id", 1}});
  REQUIRE_FALSE(result);
  CHECK_THAT(result.error().message, Catch::Contains("requests from inside a sandbox are refused"));
}

TEST_CASE("a subscription reset after agentd's line still yields that line, then the end") {
  TurnAwayServer server;
  auto subscription = agentd::api::Subscription::open(server.path, {{"method", "approvals.watch"}});
  REQUIRE(subscription);
  server.thread.join();  // the line is sent and the connection reset
  auto first = subscription->next();
  REQUIRE(first);
  REQUIRE(first->has_value());
  CHECK((**first)["error"] == "requests from inside a sandbox are refused");
  auto second = subscription->next();
  REQUIRE_FALSE(second);
  CHECK_THAT(second.error().message, Catch::Contains("closed the connection"));
}
