// The agentctl side of the control protocol: one request, one response.
#pragma once

#include <filesystem>

#include <nlohmann/json.hpp>

#include "agentd/common/result.hpp"
#include "agentd/common/unique_fd.hpp"

namespace agentd::api {

// Connects and sends one request line; the answer is the caller's to read.
Result<UniqueFd> connect_and_send(const std::filesystem::path& socket_path, const nlohmann::json& request);

// Sends `request` and returns the response's "result"; a response with
// "ok": false becomes an Error carrying the daemon's message.
Result<nlohmann::json> call(const std::filesystem::path& socket_path, const nlohmann::json& request);

}  // namespace agentd::api
