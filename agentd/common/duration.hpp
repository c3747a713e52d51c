// Durations as operators write them: "30s", "10m", "1h30m", "7d".
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "agentd/common/result.hpp"

namespace agentd {

// One or more <number><unit> parts, units s, m, h, d (w for weeks); no
// sign, no fractions, at least one second, at most ten years.
Result<std::chrono::seconds> parse_duration(std::string_view text);
// The shortest exact text: 90 -> "1m30s", 3600 -> "1h", 0 -> "0s".
std::string format_duration(std::chrono::seconds duration);

}  // namespace agentd
