// Owners for sd-event objects: sources are disabled and released together,
// so a callback never fires on a half-destroyed owner.
#pragma once

#include <systemd/sd-event.h>

#include <memory>

namespace agentd {

struct SdEventDeleter {
  void operator()(sd_event* e) const { sd_event_unref(e); }
};
using SdEventPtr = std::unique_ptr<sd_event, SdEventDeleter>;

struct SdEventSourceDeleter {
  void operator()(sd_event_source* s) const { sd_event_source_disable_unref(s); }
};
using SdEventSourcePtr = std::unique_ptr<sd_event_source, SdEventSourceDeleter>;

}  // namespace agentd
