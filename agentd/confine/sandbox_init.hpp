// PID 1 of a sandbox's PID namespace. The command does not run as PID 1
// itself: the kernel drops signals that PID 1 has no handler for (a plain
// command would ignore SIGTERM) and hands it every orphan to reap. This
// tiny init, confined exactly like the command (same user, no
// capabilities, Landlock, seccomp), forwards the termination signals
// agentctl passes on, reaps every process and exits with the command's
// status; the kernel then ends whatever else still runs in the namespace.
#pragma once

#include <sys/types.h>

namespace agentd::confine {

// Called in the init after forking `command`, with every signal blocked
// (so none arrives before the handlers are in place). Never returns: the
// exit code is the command's, or 128+N when signal N ended it.
[[noreturn]] void run_sandbox_init(pid_t command);

// For the forked command: default dispositions and an empty signal mask,
// as a freshly started program expects. Returns 0 or an errno value.
int reset_signals();

}  // namespace agentd::confine
