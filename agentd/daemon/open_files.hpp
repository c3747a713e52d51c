// agentd holds descriptors for every sandbox (its cgroup, its DNS proxy
// sockets), for DNS-over-TCP clients and for control clients; the usual
// soft limit of 1024 would refuse the 500th sandbox. The soft limit is
// raised to the hard one at start (systemd's advice for such daemons; the
// unit sets LimitNOFILE), and the figure is in `status`.
#pragma once

#include <cstdint>

namespace agentd::daemon {

// Raises RLIMIT_NOFILE's soft limit to its hard limit; returns the limit
// in force afterwards (logged as a warning when it stays low).
uint64_t raise_open_file_limit();
// The soft limit in force now.
uint64_t open_file_limit();
// How many sandboxes `limit` holds, five descriptors each, keeping room
// for control and DNS clients and queries upstream (a quarter of the
// limit, at most 8192; 0: unknown, no bound). Past it agentd
// refuses new sandboxes, naming the limit, rather than run out of
// descriptors for the control socket and the DNS proxy.
uint64_t sandboxes_within(uint64_t limit);
// The descriptors sandboxes may hold under `limit` (what is not kept for
// clients), and what one sandbox holds, with `links` of its own besides.
uint64_t descriptor_budget(uint64_t limit);
uint64_t descriptors_per_sandbox(uint64_t links);

}  // namespace agentd::daemon
