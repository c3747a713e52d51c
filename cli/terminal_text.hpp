// Text from agentd's records (process names, paths, host names, DNS names)
// is written by the sandbox, which is untrusted: printed raw, an escape
// sequence could clear a line of `agentctl watch` and draw a forged
// destination in its place, a bidi override could reverse what a host name
// reads as. Every string from a record passes through terminal_text()
// before it reaches a terminal.
#pragma once

#include <string>
#include <string_view>

namespace agentctl {

// `text` with everything that is not a visible character written as an
// escape: "\n", "\r", "\t"; other C0 controls, DEL and ESC as "\x1b";
// bytes that are not UTF-8 as "\xNN"; C1 controls, bidi overrides,
// isolates and marks, zero-width and other invisible format characters
// and line separators as "\u202e" (or "\U000e0001" above the BMP).
// Printable ASCII and other UTF-8 pass unchanged, so plain names read as
// they are; the result holds no byte below 0x20 and no DEL.
std::string terminal_text(std::string_view text);

}  // namespace agentctl
