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

namespace {

// Requests and grants say it at the top; audit events in their detail.
bool is_inbound(const nlohmann::json& record) {
  if (record.value("direction", nlohmann::json()) == "inbound") return true;
  auto detail = record.find("detail");
  return detail != record.end() && detail->is_object() && detail->value("direction", nlohmann::json()) == "inbound";
}

std::string inbound_text(const nlohmann::json& record) {
  return json_text(record.value("dest", nlohmann::json())) + " to port " +
         json_text(record.value("port", nlohmann::json())) + "/" +
         json_text(record.value("protocol", nlohmann::json()));
}

}  // namespace

std::string destination_text(const nlohmann::json& record) {
  if (is_inbound(record)) return "from " + inbound_text(record);
  if (json_text(record["protocol"]) == "dns")
    // A grant says what it opens ("every port", "port 443"); a request does not.
    return json_text(record["host"]) +
           (record.contains("opens") ? " (DNS, " + json_text(record["opens"]) + ")" : " (DNS)");
  const std::string dest = json_text(record["dest"]);
  const bool v6 = dest.find(':') != std::string::npos;
  return (v6 ? "[" + dest + "]" : dest) + ":" + json_text(record["port"]) + "/" + json_text(record["protocol"]);
}

std::string flow_text(const nlohmann::json& subject, const nlohmann::json& record) {
  return json_text(subject) + (is_inbound(record) ? " <- " + inbound_text(record) : " -> " + destination_text(record));
}

}  // namespace agentctl
