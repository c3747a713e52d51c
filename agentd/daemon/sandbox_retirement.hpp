// When a sandbox is retired: its slot, learned addresses, rate-limit state,
// DNS sockets and counters go back, and the slot's next sandbox starts
// clean. Pure: the daemon reads the cgroup and does the releasing.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace agentd::daemon {

struct RetirementView {
  bool adopted = false;  // an operator's cgroup: retired when it goes, or on `sandbox remove`
  bool keep = false;     // the policy's sandbox.keep: a named long-lived sandbox
  // Whether a process is in the cgroup or below it; nothing: the cgroup is gone.
  std::optional<bool> populated;
  // Since `agentctl run` was last handed the sandbox: the command moves
  // itself in right after, so an empty sandbox that was just handed out is
  // not retired under it.
  std::chrono::steady_clock::duration since_handed_out{};
};

// Why the sandbox is retired now, or nothing while it stays.
std::optional<std::string> retirement_reason(const RetirementView& view, std::chrono::steady_clock::duration grace);

}  // namespace agentd::daemon
