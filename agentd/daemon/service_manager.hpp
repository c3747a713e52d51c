// Talking to systemd (Type=notify): READY once enforcement is attached,
// STATUS lines, STOPPING, and watchdog pings
// from the event loop. Without $NOTIFY_SOCKET every call does nothing, so
// the same binary runs anywhere.
#pragma once

#include <systemd/sd-event.h>

#include <string>

#include "agentd/common/result.hpp"

namespace agentd::daemon {

void notify_ready(const std::string& status);
void notify_status(const std::string& status);
void notify_stopping();
// Start failed: systemd shows the reason in `systemctl status`.
void notify_start_failed(const std::string& reason, int errno_value);

// Pings the watchdog from `loop` at half of $WATCHDOG_USEC; nothing when
// systemd asked for no watchdog. A loop stuck for the whole period gets the
// daemon restarted; enforcement stays attached meanwhile.
Status enable_watchdog(sd_event* loop);

}  // namespace agentd::daemon
