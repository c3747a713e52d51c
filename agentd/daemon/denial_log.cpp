#include "agentd/daemon/denial_log.hpp"

#include "agentd/common/json_dump.hpp"

namespace agentd::daemon {

Result<std::unique_ptr<DenialLog>> DenialLog::open(const std::filesystem::path& file) {
  if (file.empty()) return std::unique_ptr<DenialLog>(new DenialLog(stdout, false));
  std::FILE* out = std::fopen(file.c_str(), "ae");
  if (!out) return system_error("opening the denial log {}", file.string());
  return std::unique_ptr<DenialLog>(new DenialLog(out, true));
}

DenialLog::~DenialLog() {
  flush();
  if (owned_) std::fclose(out_);
}

void DenialLog::write(const nlohmann::json& record) {
  const std::string line = agentd::dump_json(record) + "\n";
  std::fwrite(line.data(), 1, line.size(), out_);
}

void DenialLog::flush() { std::fflush(out_); }

}  // namespace agentd::daemon
