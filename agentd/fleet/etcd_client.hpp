// A client of etcd v3's JSON gateway over libcurl: one call (POST a JSON
// body, read the answer) tried on each endpoint in turn, and a streaming
// call (a watch) whose newline-separated JSON messages go to a callback.
// Not thread-safe: each thread makes its own (they are cheap).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "agentd/common/result.hpp"

namespace agentd::fleet {

struct EtcdConfig {
  std::vector<std::string> endpoints;  // http://host:port or https://host:port
  std::string ca_file, cert_file, key_file;
  std::chrono::milliseconds call_timeout{5000};
  std::chrono::milliseconds connect_timeout{2000};
};

// Endpoints from "URL,URL,...": each http(s)://host:port with no path.
Result<std::vector<std::string>> parse_endpoints(std::string_view list);

class EtcdClient {
 public:
  static Result<EtcdClient> make(EtcdConfig config);

  // POSTs `body` to `path` (e.g. "/v3/kv/range") and returns the answer's
  // text; on a transport error or a 5xx the next endpoint is tried. An
  // answer of etcd's own (an error JSON with 4xx) is returned as text for
  // the parsers, which report etcd's message.
  Result<std::string> call(std::string_view path, const nlohmann::json& body);

  // A streaming call on one endpoint (the one after the last that failed):
  // each message to `on_message`, which returns false to end the stream.
  // Returns when the stream ends, fails, is aborted (abort_when), or after
  // `max_duration`.
  Status stream(std::string_view path, const nlohmann::json& body,
                const std::function<bool(std::string_view)>& on_message, std::chrono::milliseconds max_duration);

  const std::string& current_endpoint() const { return config_.endpoints[next_]; }
  // Calls and streams end (within a second) once `*stop` is true: a thread
  // that stops does not wait out etcd's timeouts. nullptr: never.
  void abort_when(const std::atomic<bool>* stop) { stop_ = stop; }

 private:
  explicit EtcdClient(EtcdConfig config) : config_(std::move(config)) {}
  EtcdConfig config_;
  size_t next_ = 0;  // the endpoint to try first: the last that answered
  const std::atomic<bool>* stop_ = nullptr;
};

}  // namespace agentd::fleet
