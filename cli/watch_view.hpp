// What agentctl watch shows of one pending request: pure text, so that a
// unit test can feed it the records a hostile sandbox would cause.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "terminal.hpp"

namespace agentctl {

// "14:03:22" in local time, from an RFC 3339 timestamp.
std::string clock_time(const nlohmann::json& value);
// "in 4m 10s", "now", or "" when the time does not parse.
std::string time_left(const nlohmann::json& value);

// The request block of the prompt: id, time and sandbox, process,
// destination, tries, expiry; every string from the record escaped, so
// each field stays on its own line whatever the sandbox named things.
std::string request_view(const nlohmann::json& request, const Style& style);

}  // namespace agentctl
