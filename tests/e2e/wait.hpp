// Waiting for something the test expects to happen: a server saying it is
// ready, a record arriving, a screen showing a line.
#pragma once

#include <unistd.h>

#include <chrono>

namespace agentd::e2e {

// How long an expected thing may take before the test calls it missing.
// Generous on purpose: a wait ends as soon as the thing happens, so the
// bound costs nothing when it does, and the same tests run in an emulated
// guest and against an agentd under ASan, each several times slower than
// this machine (a 5 s bound failed there, 2026-12-03: a watcher's screen
// and a helper server's start). No test waits for something not to happen.
inline constexpr std::chrono::seconds kExpectedWithin{30};

// Calls `done` every 50 ms until it returns true (then true) or `limit`
// has passed (then false; `done` is always called at least once).
template <class Done>
bool eventually(Done&& done, std::chrono::milliseconds limit = kExpectedWithin) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    usleep(50'000);
  }
}

}  // namespace agentd::e2e
