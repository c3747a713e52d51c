// The control protocol: one JSON object per line each way over a unix
// socket. Request {"method": "...", ...params}; response {"ok": true,
// "result": ...} or {"ok": false, "error": "..."}. The methods are listed
// in README.md, "Control API".
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace agentd::api {

constexpr size_t kMaxRequestBytes = size_t{64} * 1024;

inline nlohmann::json ok_response(nlohmann::json result) { return {{"ok", true}, {"result", std::move(result)}}; }

inline nlohmann::json error_response(const std::string& message) { return {{"ok", false}, {"error", message}}; }

}  // namespace agentd::api
