// Text that comes from a sandbox (a process name set with PR_SET_NAME, an
// executable path, a DNS name, anything in a denial record) is bytes the
// agent chose: not necessarily UTF-8, and possibly made to forge what an
// operator reads. It is carried as bytes (std::string) and made safe at
// each boundary with these functions: JSON, SQLite and OCSF want valid
// UTF-8 (nlohmann's dump() throws on anything else), a terminal or a log
// line must not obey escape sequences, newlines or bidi overrides.
// Pure; nothing here throws except std::bad_alloc.
#pragma once

#include <string>
#include <string_view>

namespace agentd {

// True when `bytes` is well-formed UTF-8 (no overlong forms, no
// surrogates, nothing past U+10FFFF).
bool is_valid_utf8(std::string_view bytes);

// Valid UTF-8 for JSON, SQLite and OCSF: well-formed sequences are kept
// as they are (control characters too: a JSON writer escapes those), and
// every other byte becomes the four characters \xNN (lower-case hex), so
// nothing is dropped silently and what was there stays visible. Not
// reversible: a name that spells "\x80" reads the same as byte 0x80.
std::string safe_text(std::string_view bytes);

// One line of plain text for a terminal or a log: safe_text, and then
// every character that could move the cursor, change colours, end the
// line or reorder what is shown is written as an escape instead:
// \n \r \t, other C0 controls, ESC and DEL as \xNN; C1 controls, the bidi
// marks, embeddings, overrides and isolates, zero-width and other invisible
// format characters and the line and paragraph separators as \uNNNN (or
// \UNNNNNNNN above the BMP). The result holds no byte below 0x20, no DEL.
std::string terminal_text(std::string_view bytes);

}  // namespace agentd
