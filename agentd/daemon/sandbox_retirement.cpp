#include "agentd/daemon/sandbox_retirement.hpp"

namespace agentd::daemon {

std::optional<std::string> retirement_reason(const RetirementView& view, std::chrono::steady_clock::duration grace) {
  if (!view.populated) return std::string("its cgroup is gone");
  if (view.adopted || view.keep || *view.populated) return std::nullopt;
  if (view.since_handed_out < grace) return std::nullopt;
  return std::string("its last process exited");
}

}  // namespace agentd::daemon
