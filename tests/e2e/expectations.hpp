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
  auto line = result.out.substr(start == std::string::npos ? 0 : start + 1, end + 1 - (start == std::string::npos ? 0 : start + 1));
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

}  // namespace agentd::e2e
