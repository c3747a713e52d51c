#include "agentd/daemon/audit_syslog.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "agentd/common/json_dump.hpp"

namespace agentd::daemon {
namespace {

struct NamedFacility {
  std::string_view name;
  int code;
};

constexpr std::array kFacilities = {
    NamedFacility{"auth", LOG_AUTH},     NamedFacility{"authpriv", LOG_AUTHPRIV}, NamedFacility{"daemon", LOG_DAEMON},
    NamedFacility{"user", LOG_USER},     NamedFacility{"local0", LOG_LOCAL0},     NamedFacility{"local1", LOG_LOCAL1},
    NamedFacility{"local2", LOG_LOCAL2}, NamedFacility{"local3", LOG_LOCAL3},     NamedFacility{"local4", LOG_LOCAL4},
    NamedFacility{"local5", LOG_LOCAL5}, NamedFacility{"local6", LOG_LOCAL6},     NamedFacility{"local7", LOG_LOCAL7},
};

}  // namespace

Result<int> syslog_facility(std::string_view name) {
  for (const auto& f : kFacilities)
    if (f.name == name) return f.code;
  std::string names;
  for (const auto& f : kFacilities) names += (names.empty() ? "" : ", ") + std::string(f.name);
  return make_error("syslog facility \"{}\" is not one of {}", name, names);
}

int ocsf_syslog_level(const nlohmann::json& event) {
  const auto it = event.find("severity_id");
  if (it == event.end() || !it->is_number_integer()) return LOG_NOTICE;
  switch (it->get<int64_t>()) {
    case 1:
      return LOG_INFO;
    case 2:
      return LOG_NOTICE;
    case 3:
      return LOG_WARNING;
    case 4:
      return LOG_ERR;
    case 5:
      return LOG_CRIT;
    case 6:
      return LOG_ALERT;
    default:
      return LOG_NOTICE;
  }
}

std::string syslog_datagram(int facility, int level, std::time_t when, pid_t pid, std::string_view message) {
  std::tm local{};
  localtime_r(&when, &local);
  std::array<char, 32> stamp{};
  // "%b %e": the month's name in the C locale's words, the day padded
  // with a space, as RFC 3164 and syslog(3) write them.
  static const std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::snprintf(stamp.data(), stamp.size(), "%s %2d %02d:%02d:%02d", kMonths[static_cast<size_t>(local.tm_mon) % 12],
                local.tm_mday, local.tm_hour, local.tm_min, local.tm_sec);
  return fmt::format("<{}>{} {}[{}]: {}", facility | level, stamp.data(), kAuditSyslogTag, pid, message);
}

AuditSyslog::AuditSyslog(int facility, std::filesystem::path socket_path)
    : facility_(facility), socket_path_(std::move(socket_path)) {}

bool AuditSyslog::connected() {
  if (fd_) return true;
  const auto now = std::chrono::steady_clock::now();
  if (now < next_connect_) return false;
  next_connect_ = now + std::chrono::seconds(1);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path = socket_path_.string();
  if (path.size() >= sizeof(addr.sun_path)) return false;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return false;
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) return false;
  fd_ = std::move(fd);
  return true;
}

void AuditSyslog::write(const nlohmann::json& event) {
  const std::string datagram =
      syslog_datagram(facility_, ocsf_syslog_level(event), std::time(nullptr), ::getpid(), dump_json(event));
  if (!connected()) {
    if (dropped_++ % 1000 == 0)
      spdlog::warn("audit to syslog: nothing listens at {} ({} events dropped so far)", socket_path_.string(),
                   dropped_);
    return;
  }
  if (::send(fd_.get(), datagram.data(), datagram.size(), MSG_DONTWAIT | MSG_NOSIGNAL) ==
      static_cast<ssize_t>(datagram.size())) {
    ++sent_;
    return;
  }
  const int error = errno;
  ++dropped_;
  // Full (EAGAIN) or too long (EMSGSIZE): this one is lost, the socket is
  // fine. Anything else (the receiver restarted: ECONNREFUSED): connect
  // again, at most once a second.
  if (error != EAGAIN && error != EWOULDBLOCK && error != EMSGSIZE && error != ENOBUFS) fd_.reset();
  if (dropped_ == 1 || dropped_ % 1000 == 0)
    spdlog::warn("audit to syslog ({}): {} events dropped so far ({})", socket_path_.string(), dropped_,
                 errno_text(error));
}

}  // namespace agentd::daemon
