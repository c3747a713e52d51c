// The time of a record as operators, SIEMs and the store read it: RFC 3339
// UTC with milliseconds ("2024-05-01T12:34:56.789Z"). One spelling, so a
// time written by one part is read back by any other.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace agentd::events {

using RecordClock = std::chrono::system_clock;

std::string format_time(RecordClock::time_point time);
// nullopt for anything but the form format_time writes.
std::optional<RecordClock::time_point> parse_time(std::string_view text);
// `time` at the precision records carry: what is built from it reads back
// from its text unchanged.
RecordClock::time_point record_time(RecordClock::time_point time);

}  // namespace agentd::events
