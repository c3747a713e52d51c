// accept4 for the daemon's listeners when the process may run out of
// descriptors. A listener is level-triggered: with EMFILE the pending
// connection stays, the loop wakes again at once and spins, and nothing
// else is served. The remedy is the "reserve descriptor" trick: one
// descriptor is held back for this; at EMFILE/ENFILE it is freed, the
// pending connection accepted and closed at once (the client sees the
// connection end), and the reserve taken again.
#pragma once

#include <cstdint>

#include "agentd/common/unique_fd.hpp"

namespace agentd {

// Takes the reserve descriptor (call once at start, while there are
// descriptors to take; accept_or_shed also takes it when it can).
void reserve_descriptor();

// accept4(listener, nullptr, nullptr, flags); a connection shed for lack
// of descriptors counts in *shed and yields an empty fd, as EAGAIN does.
UniqueFd accept_or_shed(int listener, int flags, uint64_t* shed = nullptr);

}  // namespace agentd
