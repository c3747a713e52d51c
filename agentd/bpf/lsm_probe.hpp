// Why the kernel refused agentd's BPF LSM program, told apart by loading
// the smallest LSM program there is (return 0 on socket_create, no maps,
// no helpers). When the kernel refuses that too, the cause is the kernel's
// policy, not anything in bpf/egress.bpf.c, and the report says so.
#pragma once

#include <string>

namespace agentd::bpf {

// A sentence for the kernel-feature report, starting with "; ".
std::string lsm_refusal_cause();

// 0 when the smallest LSM program loads, else the errno that refused it.
// Asked before loading agentd's object with its LSM program: the kernel
// verifies every other program of the object before it refuses that one,
// and a second load without it would verify them all again.
int minimal_lsm_refusal();

}  // namespace agentd::bpf
