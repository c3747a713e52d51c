#include "record_text.hpp"

#include "agentd/common/json_dump.hpp"
#include "terminal_text.hpp"

namespace agentctl {

std::string json_text(const nlohmann::json& value) {
  // Strings in records come from sandboxes (comm, exe, names): never raw.
  if (value.is_string()) return terminal_text(value.get_ref<const std::string&>());
  if (value.is_null()) return "-";
  return terminal_text(agentd::dump_json(value));
}

std::string destination_text(const nlohmann::json& record) {
  if (json_text(record["protocol"]) == "dns") return json_text(record["host"]) + " (DNS)";
  const std::string dest = json_text(record["dest"]);
  const bool v6 = dest.find(':') != std::string::npos;
  return (v6 ? "[" + dest + "]" : dest) + ":" + json_text(record["port"]) + "/" + json_text(record["protocol"]);
}

}  // namespace agentctl
