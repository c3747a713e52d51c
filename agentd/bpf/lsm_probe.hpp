// Why the kernel refused agentd's BPF LSM program, told apart by loading
// the smallest LSM program there is (return 0 on socket_create, no maps,
// no helpers). When the kernel refuses that too, the cause is the kernel's
// policy, not anything in bpf/egress.bpf.c, and the report says so.
#pragma once

#include <string>

namespace agentd::bpf {

// A sentence for the kernel-feature report, starting with "; ".
std::string lsm_refusal_cause();

}  // namespace agentd::bpf
