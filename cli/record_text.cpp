#include "record_text.hpp"

#include "agentd/common/json_dump.hpp"

namespace agentctl {

std::string json_text(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "-";
  return agentd::dump_json(value);
}

std::string destination_text(const nlohmann::json& record) {
  if (json_text(record["protocol"]) == "dns") return json_text(record["host"]) + " (DNS)";
  const std::string dest = json_text(record["dest"]);
  const bool v6 = dest.find(':') != std::string::npos;
  return (v6 ? "[" + dest + "]" : dest) + ":" + json_text(record["port"]) + "/" + json_text(record["protocol"]);
}

}  // namespace agentctl
