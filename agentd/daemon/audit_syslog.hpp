// Audit events (OCSF JSON) to the host's syslog socket, one datagram each,
// so that the shipper the host already runs (rsyslog, journald with
// ForwardToSyslog, syslog-ng) forwards them to one central place
// (packaging/rsyslog/). The messages carry the tag "agentd-audit", which
// a forwarding rule selects on.
//
// agentd's loop never waits for the receiver: a datagram it cannot take
// now (its queue full, no one listening) is dropped and counted, and the
// socket is connected again at most once a second. The store keeps every
// event regardless; the syslog copy is a stream for a SIEM.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "agentd/common/result.hpp"
#include "agentd/common/unique_fd.hpp"

namespace agentd::daemon {

inline constexpr const char* kAuditSyslogTag = "agentd-audit";

// A facility by its name as syslog.conf writes it (auth, authpriv,
// daemon, user, local0..local7), as its code (LOG_AUTHPRIV, ...).
Result<int> syslog_facility(std::string_view name);
// The syslog severity of an OCSF event, from its severity_id
// (Informational: info, Low: notice, Medium: warning, High: err,
// Critical: crit, Fatal: alert; anything else: notice).
int ocsf_syslog_level(const nlohmann::json& event);
// The datagram for /dev/log, in the local form syslog(3) sends
// ("<PRI>Mmm dd hh:mm:ss TAG[PID]: MESSAGE"; the receiver adds the host).
std::string syslog_datagram(int facility, int level, std::time_t when, pid_t pid, std::string_view message);

class AuditSyslog {
 public:
  AuditSyslog(int facility, std::filesystem::path socket_path);
  AuditSyslog(const AuditSyslog&) = delete;
  AuditSyslog& operator=(const AuditSyslog&) = delete;

  void write(const nlohmann::json& event);
  uint64_t sent() const { return sent_; }
  uint64_t dropped() const { return dropped_; }
  const std::filesystem::path& socket_path() const { return socket_path_; }

 private:
  bool connected();

  int facility_;
  std::filesystem::path socket_path_;
  UniqueFd fd_;
  std::chrono::steady_clock::time_point next_connect_{};
  uint64_t sent_ = 0, dropped_ = 0;
};

}  // namespace agentd::daemon
