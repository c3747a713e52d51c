// JSON to text without ever throwing on what a sandbox put in it. The
// strings agentd builds from sandbox bytes go through safe_text() first;
// this is the second wall: were one missed, nlohmann's dump() would throw
// type_error 316 (invalid UTF-8) and take the record, the answer or the
// daemon with it. Invalid bytes become U+FFFD here.
//
// The text is ASCII: everything else is \u-escaped, DEL included. JSON
// lines go to the journal, to files an operator may `tail`, and to a SIEM;
// a raw bidi override (U+202E) or C1 control (U+009B is CSI) from a sandbox's
// process name would act on whatever terminal shows them. Every JSON reader
// gets the same strings back.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace agentd {

inline std::string dump_json(const nlohmann::json& value, int indent = -1) {
  std::string text = value.dump(indent, ' ', true, nlohmann::json::error_handler_t::replace);
  // DEL is ASCII, so dump() leaves it; outside strings JSON has none, so
  // each one is inside a string, where its escape means the same.
  for (size_t at = text.find('\x7f'); at != std::string::npos; at = text.find('\x7f', at))
    text.replace(at, 1, "\\u007f");
  return text;
}

}  // namespace agentd
