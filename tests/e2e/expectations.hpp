// Assertions over netprobe's JSON lines, logging what was seen.
#pragma once

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <string>

#include "process.hpp"

namespace agentd::e2e {

// netprobe's last JSON line, or null when there is none.
inline nlohmann::json last_line(const ProcessResult& result) {
  auto end = result.out.find_last_not_of('\n');
  if (end == std::string::npos) return nullptr;
  auto start = result.out.rfind('\n', end);
  auto line = result.out.substr(start == std::string::npos ? 0 : start + 1,
                                end + 1 - (start == std::string::npos ? 0 : start + 1));
  auto json = nlohmann::json::parse(line, nullptr, false);
  return json.is_discarded() ? nlohmann::json(nullptr) : json;
}

// The operation succeeded.
inline void expect_ok(const ProcessResult& result) {
  INFO(result.describe());
  auto line = last_line(result);
  REQUIRE(line.is_object());
  CHECK(line.value("ok", false));
  CHECK(result.exit_code == 0);
}

// The operation failed with this errno name ("EPERM").
inline void expect_refused(const ProcessResult& result, const std::string& error = "EPERM") {
  INFO(result.describe());
  auto line = last_line(result);
  REQUIRE(line.is_object());
  CHECK_FALSE(line.value("ok", true));
  CHECK(line.value("error", "") == error);
  CHECK(result.exit_code == 1);
}

// netprobe `loop`s run across a change (a reload, a restart, an upgrade):
// every connect of `allowed` connected, none of `denied` did, and both ran.
inline void expect_no_gap(const ProcessResult& allowed, const ProcessResult& denied) {
  INFO(allowed.describe() << denied.describe());
  const nlohmann::json a = last_line(allowed), d = last_line(denied);
  REQUIRE(a.is_object());
  REQUIRE(d.is_object());
  CHECK(a["connected"].get<long>() > 0);
  CHECK(a["refused"] == 0);
  CHECK(a["other"] == 0);
  CHECK(d["connected"] == 0);
  CHECK(d["refused"].get<long>() > 0);
}

// Where `text` holds a byte sequence that would steer a terminal: a C0
// control other than newline, DEL, a C1 control (UTF-8 c2 80..9f), or a
// bidi override or isolate (U+202A..202E, U+2066..2069); -1 if none.
inline long raw_steering_at(const std::string& text) {
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    const auto next = i + 1 < text.size() ? static_cast<unsigned char>(text[i + 1]) : 0;
    const auto third = i + 2 < text.size() ? static_cast<unsigned char>(text[i + 2]) : 0;
    if ((c < 0x20 && c != '\n') || c == 0x7f || (c == 0xc2 && next >= 0x80 && next <= 0x9f) ||
        (c == 0xe2 && next == 0x80 && third >= 0xaa && third <= 0xae) ||
        (c == 0xe2 && next == 0x81 && third >= 0xa6 && third <= 0xa9))
      return static_cast<long>(i);
  }
  return -1;
}

}  // namespace agentd::e2e
