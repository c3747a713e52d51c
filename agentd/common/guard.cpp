#include "agentd/common/guard.hpp"

#include <spdlog/spdlog.h>

#include "agentd/common/safe_text.hpp"

namespace agentd {

void log_failure(std::string_view what, std::string_view cause, uint64_t failures) noexcept {
  if (failures > 10 && failures % 1000 != 0) return;
  try {
    spdlog::error("{} failed and was skipped ({} so far): {}", terminal_text(what), failures, terminal_text(cause));
  } catch (...) {
    // Out of memory while logging: the count still says it happened.
  }
}

}  // namespace agentd
