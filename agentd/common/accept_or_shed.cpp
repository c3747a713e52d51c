#include "agentd/common/accept_or_shed.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace agentd {
namespace {

UniqueFd& reserve() {
  static UniqueFd fd;
  return fd;
}

}  // namespace

void reserve_descriptor() {
  if (!reserve()) reserve() = UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
}

UniqueFd accept_or_shed(int listener, int flags, uint64_t* shed) {
  reserve_descriptor();
  UniqueFd fd(::accept4(listener, nullptr, nullptr, flags));
  if (fd || (errno != EMFILE && errno != ENFILE) || !reserve()) return fd;
  reserve().reset();
  UniqueFd(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));  // NOLINT(bugprone-unused-raii): closed at once
  if (shed) ++*shed;
  reserve_descriptor();
  return UniqueFd();
}

}  // namespace agentd
