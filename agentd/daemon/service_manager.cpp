#include "agentd/daemon/service_manager.hpp"

#include <systemd/sd-daemon.h>

namespace agentd::daemon {
namespace {

// Status lines are one line; a multi-line reason keeps its first.
std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

}  // namespace

void notify_ready(const std::string& status) { sd_notifyf(0, "READY=1\nSTATUS=%s", first_line(status).c_str()); }

void notify_status(const std::string& status) { sd_notifyf(0, "STATUS=%s", first_line(status).c_str()); }

void notify_stopping() { sd_notify(0, "STOPPING=1\nSTATUS=stopping; enforcement stays attached"); }

void notify_start_failed(const std::string& reason, int errno_value) {
  if (errno_value > 0)
    sd_notifyf(0, "STATUS=%s\nERRNO=%d", first_line(reason).c_str(), errno_value);
  else
    sd_notifyf(0, "STATUS=%s", first_line(reason).c_str());
}

Status enable_watchdog(sd_event* loop) {
  if (int r = sd_event_set_watchdog(loop, 1); r < 0) {
    errno = -r;
    return system_error("enabling the systemd watchdog");
  }
  return ok_status();
}

}  // namespace agentd::daemon
