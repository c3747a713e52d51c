#include "agentd/events/record_time.hpp"

#include <cstdio>
#include <ctime>

#include <fmt/format.h>

namespace agentd::events {

std::string format_time(RecordClock::time_point time) {
  using namespace std::chrono;
  const auto since_epoch = time.time_since_epoch();
  const std::time_t seconds = duration_cast<std::chrono::seconds>(since_epoch).count();
  const auto millis = duration_cast<milliseconds>(since_epoch).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &utc);
  return fmt::format("{}.{:03}Z", buf, millis);
}

std::optional<RecordClock::time_point> parse_time(std::string_view text) {
  std::tm tm{};
  int ms = 0;
  const std::string s(text);
  // NOLINTNEXTLINE(cert-err34-c): the field widths keep every number in range
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &ms) != 7)
    return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  const time_t seconds = timegm(&tm);
  if (seconds == static_cast<time_t>(-1)) return std::nullopt;
  return RecordClock::from_time_t(seconds) + std::chrono::milliseconds(ms);
}

RecordClock::time_point record_time(RecordClock::time_point time) {
  return std::chrono::floor<std::chrono::milliseconds>(time);
}

}  // namespace agentd::events
