#include "agentd/approvals/ocsf.hpp"

#include "agentd/common/version.hpp"

namespace agentd::approvals {
using nlohmann::json;

namespace {

constexpr int kCategoryNetwork = 4;
constexpr int kNetworkActivity = 4001;
constexpr int kDnsActivity = 4003;
constexpr int kActivityOpen = 1;    // Network Activity: Open (a connection attempt)
constexpr int kActivityQuery = 1;   // DNS Activity: Query
constexpr int kActivityOther = 99;  // an operator's decision about future connections

int64_t ms_of(const std::string& rfc3339) {
  auto time = parse_time(rfc3339);
  return time ? std::chrono::duration_cast<std::chrono::milliseconds>(time->time_since_epoch()).count() : 0;
}

json base(int class_uid, const char* class_name, int activity_id, const char* activity_name, int64_t time_ms) {
  return {{"class_uid", class_uid},
          {"class_name", class_name},
          {"category_uid", kCategoryNetwork},
          {"category_name", "Network Activity"},
          {"activity_id", activity_id},
          {"activity_name", activity_name},
          {"type_uid", class_uid * 100 + activity_id},
          {"type_name", std::string(class_name) + ": " + activity_name},
          {"time", time_ms},
          {"metadata",
           {{"version", "1.3.0"},
            {"product", {{"name", "agentd"}, {"vendor_name", "agentd"}, {"version", version()}}},
            {"log_name", "agentd audit"}}}};
}

void set_outcome(json& event, bool allowed) {
  event["action_id"] = allowed ? 1 : 2;
  event["action"] = allowed ? "Allowed" : "Denied";
  event["disposition_id"] = allowed ? 1 : 2;
  event["disposition"] = allowed ? "Allowed" : "Blocked";
}

// OCSF connection_info.direction_id: 1 Inbound, 2 Outbound.
json connection_info(const std::string& protocol, bool inbound) {
  return {
      {"protocol_name", protocol}, {"direction_id", inbound ? 1 : 2}, {"direction", inbound ? "Inbound" : "Outbound"}};
}

std::string text(const json& record, const char* key) {
  auto it = record.find(key);
  return it != record.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

json ocsf_denial(const json& record) {
  const bool dns = text(record, "hook") == "dns";
  json event = dns ? base(kDnsActivity, "DNS Activity", kActivityQuery, "Query", ms_of(text(record, "time")))
                   : base(kNetworkActivity, "Network Activity", kActivityOpen, "Open", ms_of(text(record, "time")));
  set_outcome(event, false);
  event["severity_id"] = text(record, "reason") == "deny_rule" ? 3 : 2;  // Medium for an explicit deny, else Low
  event["severity"] = text(record, "reason") == "deny_rule" ? "Medium" : "Low";
  event["status_id"] = 2;
  event["status"] = "Failure";
  const std::string sandbox = text(record, "sandbox");
  event["src_endpoint"] = {{"name", sandbox.empty() ? json(nullptr) : json(sandbox)}};
  if (dns) {
    event["query"] = {{"hostname", text(record, "name")}, {"type", text(record, "qtype")}};
    event["rcode_id"] = 5;
    event["rcode"] = "Refused";
    event["connection_info"] = connection_info(text(record, "protocol"), false);
    event["message"] = sandbox + " may not resolve " + text(record, "name");
  } else if (text(record, "direction") == "inbound") {
    // The peer started it: it is the source, the sandbox's port the destination.
    event["src_endpoint"] = {{"ip", text(record, "source")}};
    json dst = {{"name", sandbox.empty() ? json(nullptr) : json(sandbox)}};
    if (record.contains("port")) dst["port"] = record["port"];
    event["dst_endpoint"] = dst;
    event["connection_info"] = connection_info(text(record, "protocol"), true);
    event["message"] = sandbox + " refused a connection from " + text(record, "source");
  } else {
    json dst = {{"ip", text(record, "dest")}};
    if (record.contains("port")) dst["port"] = record["port"];
    if (!text(record, "host").empty()) dst["hostname"] = text(record, "host");
    event["dst_endpoint"] = dst;
    event["connection_info"] = connection_info(text(record, "protocol"), false);
    event["actor"] = {{"process",
                       {{"pid", record.value("tgid", record.value("pid", 0))},
                        {"name", text(record, "comm")},
                        {"user", {{"uid", std::to_string(record.value("uid", 0))}}}}}};
    event["message"] = sandbox + " denied a connection to " + text(record, "dest");
  }
  json unmapped = {{"sandbox", sandbox}, {"reason", text(record, "reason")}, {"hook", text(record, "hook")}};
  if (!text(record, "rule").empty()) unmapped["rule"] = text(record, "rule");
  if (record.contains("suppressed_before")) unmapped["suppressed_before"] = record["suppressed_before"];
  event["unmapped"] = unmapped;
  return event;
}

json ocsf_decision(const Request& request, const std::optional<Grant>& grant) {
  const Time when = request.answered_at.value_or(request.last_seen);
  // A decision about a name is DNS Activity, about an address Network Activity.
  const bool name = request.target.is_name();
  json event = base(name ? kDnsActivity : kNetworkActivity, name ? "DNS Activity" : "Network Activity", kActivityOther,
                    "Other", std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch()).count());
  const bool allowed = request.state == RequestState::approved;
  set_outcome(event, allowed);
  event["severity_id"] = 1;
  event["severity"] = "Informational";
  event["status_id"] = 1;
  event["status"] = "Success";
  event["src_endpoint"] = {{"name", request.target.sandbox}};
  if (name) {
    event["query"] = {{"hostname", request.target.name}};
  } else if (request.target.inbound) {
    event["src_endpoint"] = {{"ip", request.target.address}};
    event["dst_endpoint"] = {{"name", request.target.sandbox}, {"port", request.target.port}};
    event["connection_info"] = connection_info(request.target.protocol, true);
  } else {
    json dst = {{"ip", request.target.address}, {"port", request.target.port}};
    if (!request.host.empty()) dst["hostname"] = request.host;
    event["dst_endpoint"] = dst;
    event["connection_info"] = connection_info(request.target.protocol, false);
  }
  if (!request.answered_by.empty()) event["actor"] = {{"user", {{"name", request.answered_by}}}};
  event["message"] = request.target.str() + ": " + request.answer;
  json unmapped = {{"request_id", request.id}, {"state", state_name(request.state)}, {"denials", request.count}};
  if (grant) unmapped["grant"] = grant_to_json(*grant);
  event["unmapped"] = unmapped;
  return event;
}

}  // namespace agentd::approvals
