// One unit of work (a denial record, a DNS query, a control request, an
// event-loop callback) must never end the daemon: an exception from it is
// counted, logged with its cause, and the next unit goes on. The loop is
// C (sd-event, libbpf's ring buffer callback): nothing may unwind
// through it, so every callback runs its work through guarded().
#pragma once

#include <cstdint>
#include <exception>
#include <string_view>

namespace agentd {

// Logs one failure of `what` (rate-limited: the first ten, then every
// thousandth, so a sandbox that makes every record fail cannot flood the
// log); `cause` goes through terminal_text (one line, no escapes).
void log_failure(std::string_view what, std::string_view cause, uint64_t failures) noexcept;

// Runs work(); on an exception counts it in `failures`, logs it and
// returns false.
template <typename Work>
bool guarded(std::string_view what, uint64_t& failures, Work&& work) noexcept {
  try {
    work();
    return true;
  } catch (const std::exception& e) {
    log_failure(what, e.what(), ++failures);
  } catch (...) {
    log_failure(what, "an exception that is no std::exception", ++failures);
  }
  return false;
}

}  // namespace agentd
