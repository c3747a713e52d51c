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

int64_t ms_of(Time time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
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

}  // namespace

json ocsf_denial(const events::Denial& d) {
  using events::DenialHook;
  const bool dns = d.hook == DenialHook::dns;
  json event = dns ? base(kDnsActivity, "DNS Activity", kActivityQuery, "Query", ms_of(d.time))
                   : base(kNetworkActivity, "Network Activity", kActivityOpen, "Open", ms_of(d.time));
  set_outcome(event, false);
  const bool explicit_deny = d.reason == events::DenialReason::deny_rule;
  event["severity_id"] = explicit_deny ? 3 : 2;  // Medium for an explicit deny, else Low
  event["severity"] = explicit_deny ? "Medium" : "Low";
  event["status_id"] = 2;
  event["status"] = "Failure";
  const std::string sandbox = d.sandbox.value_or("");
  const json sandbox_name = sandbox.empty() ? json(nullptr) : json(sandbox);
  event["src_endpoint"] = {{"name", sandbox_name}};
  const std::string protocol = events::protocol_text(d);
  const std::string address = d.destination ? d.destination->address : "";
  if (dns) {
    const std::string name = d.name.value_or("");
    event["query"] = {{"hostname", name}, {"type", d.query ? d.query->qtype : ""}};
    event["rcode_id"] = 5;
    event["rcode"] = "Refused";
    event["connection_info"] = connection_info(protocol, false);
    event["message"] = sandbox + " may not resolve " + name;
  } else if (d.inbound()) {
    // The peer started it: it is the source, the sandbox's port the destination.
    event["src_endpoint"] = {{"ip", address}};
    json dst = {{"name", sandbox_name}};
    if (d.destination) dst["port"] = d.destination->port;
    event["dst_endpoint"] = dst;
    event["connection_info"] = connection_info(protocol, true);
    event["message"] = sandbox + " refused a connection from " + address;
  } else {
    json dst = {{"ip", address}};
    if (d.destination) dst["port"] = d.destination->port;
    if (d.host && !d.host->empty()) dst["hostname"] = *d.host;
    event["dst_endpoint"] = dst;
    event["connection_info"] = connection_info(protocol, false);
    const events::DenialProcess process = d.process.value_or(events::DenialProcess{});
    event["actor"] = {
        {"process", {{"pid", process.tgid}, {"name", process.comm}, {"user", {{"uid", std::to_string(process.uid)}}}}}};
    event["message"] = sandbox + " denied a connection to " + address;
  }
  json unmapped = {{"sandbox", sandbox}, {"reason", events::to_string(d.reason)}, {"hook", events::to_string(d.hook)}};
  if (d.rule && !d.rule->empty()) unmapped["rule"] = *d.rule;
  if (d.suppressed_before) unmapped["suppressed_before"] = d.suppressed_before;
  event["unmapped"] = unmapped;
  return event;
}

json ocsf_decision(const Request& request, const std::optional<Grant>& grant) {
  const Time when = request.answered_at.value_or(request.last_seen);
  // A decision about a name is DNS Activity, about an address Network Activity.
  const bool name = request.target.is_name();
  json event = base(name ? kDnsActivity : kNetworkActivity, name ? "DNS Activity" : "Network Activity", kActivityOther,
                    "Other", ms_of(when));
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
