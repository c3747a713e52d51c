// Text from agentd's records (process names, paths, host names, DNS names)
// is written by the sandbox, which is untrusted: printed raw, an escape
// sequence could clear a line of `agentctl watch` and draw a forged
// destination in its place, a bidi override could reverse what a host name
// reads as. Every string from a record passes through terminal_text()
// (agentd/common/safe_text.hpp, the daemon's logs use the same) before it
// reaches a terminal.
#pragma once

#include "agentd/common/safe_text.hpp"

namespace agentctl {

using agentd::terminal_text;

}  // namespace agentctl
