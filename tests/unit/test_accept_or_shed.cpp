#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>

#include <catch2/catch.hpp>

#include "agentd/common/accept_or_shed.hpp"

using agentd::UniqueFd;

TEST_CASE("out of descriptors, a pending connection is shed instead of waking the loop forever") {
  UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  REQUIRE(listener);
  // An abstract address of our own (no file to clean up).
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const char name[] = "\0agentd-unit-accept-or-shed";
  std::memcpy(addr.sun_path, name, sizeof(name) - 1);
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + sizeof(name) - 1);
  REQUIRE(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), len) == 0);
  REQUIRE(::listen(listener.get(), 4) == 0);
  UniqueFd client(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(::connect(client.get(), reinterpret_cast<sockaddr*>(&addr), len) == 0);

  agentd::reserve_descriptor();
  // No descriptor left: the soft limit at the lowest free one.
  rlimit saved{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
  UniqueFd probe(::dup(0));
  REQUIRE(probe);
  rlimit tight = saved;
  tight.rlim_cur = static_cast<rlim_t>(probe.get());
  probe.reset();
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &tight) == 0);
  uint64_t shed = 0;
  UniqueFd accepted = agentd::accept_or_shed(listener.get(), SOCK_CLOEXEC, &shed);
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &saved) == 0);

  CHECK_FALSE(accepted);
  CHECK(shed == 1);
  // The client sees its connection end, and nothing is pending any more.
  char byte;
  CHECK(::read(client.get(), &byte, 1) == 0);
  UniqueFd none = agentd::accept_or_shed(listener.get(), SOCK_CLOEXEC, &shed);
  CHECK_FALSE(none);
  CHECK(errno == EAGAIN);
  CHECK(shed == 1);
}
