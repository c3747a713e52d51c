#include "agentd/common/duration.hpp"

#include <cctype>
#include <cstdint>

namespace agentd {

Result<std::chrono::seconds> parse_duration(std::string_view text) {
  constexpr int64_t kMax = 10LL * 366 * 86400;
  auto invalid = [&] { return make_error("\"{}\" is not a duration (e.g. 30s, 10m, 1h30m, 7d)", text); };
  if (text.empty()) return invalid();
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return invalid();
    int64_t number = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      number = number * 10 + (text[i] - '0');
      if (number > kMax) return make_error("\"{}\" is longer than ten years", text);
      ++i;
    }
    if (i == text.size()) return invalid();  // a unit is required: "30" could mean anything
    int64_t unit = 0;
    switch (text[i]) {
      case 's':
        unit = 1;
        break;
      case 'm':
        unit = 60;
        break;
      case 'h':
        unit = 3600;
        break;
      case 'd':
        unit = 86400;
        break;
      case 'w':
        unit = 7 * int64_t{86400};
        break;
      default:
        return invalid();
    }
    ++i;
    total += number * unit;
    if (total > kMax) return make_error("\"{}\" is longer than ten years", text);
  }
  if (total < 1) return make_error("\"{}\" is no time at all", text);
  return std::chrono::seconds(total);
}

std::string format_duration(std::chrono::seconds duration) {
  int64_t left = duration.count();
  if (left <= 0) return "0s";
  std::string text;
  for (auto [unit, name] : {std::pair<int64_t, char>{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}}) {
    if (left >= unit) {
      text += std::to_string(left / unit) + name;
      left %= unit;
    }
  }
  return text;
}

}  // namespace agentd
