// Dropping privileges between clone and exec: every capability (bounding,
// ambient, effective, permitted, inheritable), securebits locked so that
// root gains nothing at exec, and no_new_privs. Raw syscalls only: these
// run in the child, where each returns 0 or an errno value.
#pragma once

namespace agentd::confine {

// While still privileged (needs CAP_SETPCAP): empties the bounding set and
// locks the securebits (no root magic at exec, no ambient raising).
int drop_bounding_set_and_lock_securebits();
// After the user switch: clears the ambient set, then effective, permitted
// and inheritable. Root inside a sandbox keeps no capabilities.
int clear_capabilities();
int set_no_new_privs();

}  // namespace agentd::confine
