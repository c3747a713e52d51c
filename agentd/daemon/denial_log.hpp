// Where denial records go as JSON lines: stdout (journald picks it up
// under systemd) or a file opened for append.
#pragma once

#include <cstdio>
#include <filesystem>
#include <memory>

#include <nlohmann/json.hpp>

#include "agentd/common/result.hpp"

namespace agentd::daemon {

class DenialLog {
 public:
  static Result<std::unique_ptr<DenialLog>> open(const std::filesystem::path& file);
  ~DenialLog();
  void write(const nlohmann::json& record);
  void flush();

 private:
  DenialLog(std::FILE* out, bool owned) : out_(out), owned_(owned) {}
  std::FILE* out_;
  bool owned_;
};

}  // namespace agentd::daemon
