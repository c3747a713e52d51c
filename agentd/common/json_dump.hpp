// JSON to text without ever throwing on what a sandbox put in it. The
// strings agentd builds from sandbox bytes go through safe_text() first;
// this is the second wall: were one missed, nlohmann's dump() would throw
// type_error 316 (invalid UTF-8) and take the record, the answer or the
// daemon with it. Invalid bytes become U+FFFD here.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace agentd {

inline std::string dump_json(const nlohmann::json& value, int indent = -1) {
  return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace agentd
