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
// True when `call` failed because agentd answered "ok": false (a refusal,
// a bad field), not because it could not be reached or read: a client that
// waits out a restart must not wait on a refusal.
bool is_refusal(const Error& error);

}  // namespace agentd::api
