// The agentctl side of a streamed answer (approvals.watch): one request,
// then JSON lines for as long as the connection stays open.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "agentd/common/result.hpp"
#include "agentd/common/unique_fd.hpp"

namespace agentd::api {

class Subscription {
 public:
  static Result<Subscription> open(const std::filesystem::path& socket_path, const nlohmann::json& request);

  // For poll(): readable when a line may be waiting.
  int fd() const { return fd_.get(); }
  // Reads what is there (without blocking) and returns the next complete
  // line, nothing when none is complete yet, an error once agentd has
  // closed the connection.
  Result<std::optional<nlohmann::json>> next();

 private:
  explicit Subscription(UniqueFd fd) : fd_(std::move(fd)) {}
  std::optional<nlohmann::json> take_line();
  UniqueFd fd_;
  std::string buffer_;
  bool closed_ = false;
};

}  // namespace agentd::api
