#include "agentd/fleet/answer_record.hpp"

#include <nlohmann/json.hpp>

#include "agentd/common/json_dump.hpp"
#include "agentd/common/safe_text.hpp"

namespace agentd::fleet {

std::string answer_record_value(const FleetAnswer& answer) {
  auto json = answer.request.to_json();
  json["by"] = answer.by;
  return dump_json(json);
}

Result<FleetAnswer> parse_answer_record(const KeyLayout& layout, std::string_view host, std::string_view key,
                                        std::string_view value) {
  auto refuse = [&](const std::string& why) {
    return make_error("etcd key \"{}\": {}", safe_text(key.substr(0, 300)), why);
  };
  const std::string prefix = layout.answers_prefix(host);
  if (key.substr(0, prefix.size()) != prefix) return refuse("not under " + prefix);
  if (value.size() > kMaxAnswerRecordBytes) return refuse(fmt::format("larger than {} bytes", kMaxAnswerRecordBytes));
  auto json = nlohmann::json::parse(value, nullptr, false);
  if (json.is_discarded() || !json.is_object()) return refuse("not a JSON object");
  const auto method = json.value("method", nlohmann::json());
  const bool approve = method == "approvals.approve";
  if (!approve && method != "approvals.deny") return refuse("method is not approvals.approve or approvals.deny");
  const auto by = json.value("by", nlohmann::json());
  if (!by.is_string() || by.get<std::string>().empty() || by.get<std::string>().size() > 200)
    return refuse("by: not a string of 1-200 bytes saying who answered");
  json.erase("by");
  auto request = api::ApprovalsAnswerRequest::parse(json, approve);
  if (!request) return refuse(request.error().describe());
  if (std::string(key.substr(prefix.size())) != std::to_string(request->id))
    return refuse(fmt::format("the key names another request than id {}", request->id));
  return FleetAnswer{std::move(*request), by.get<std::string>()};
}

}  // namespace agentd::fleet
