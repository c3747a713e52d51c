#include "top_view.hpp"

#include <algorithm>
#include <map>
#include <tuple>

namespace agentctl {
namespace {

using nlohmann::json;

uint64_t count(const json& sandbox, const char* field) {
  const json& v = sandbox.contains(field) ? sandbox[field] : json();
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  return v.is_number_integer() && v.get<int64_t>() > 0 ? static_cast<uint64_t>(v.get<int64_t>()) : 0;
}

// Bytes one way ("sent" or "received"), every class together.
uint64_t traffic_bytes(const json& sandbox, const char* direction) {
  const json::json_pointer at("/traffic/" + std::string(direction));
  return sandbox.contains(at) && sandbox.at(at).is_object() ? count(sandbox.at(at), "bytes") : 0;
}

uint64_t dns_count(const json& sandbox, const char* field) {
  return sandbox.contains("dns") && sandbox["dns"].is_object() ? count(sandbox["dns"], field) : 0;
}

double rate(uint64_t now, uint64_t then, double seconds) {
  return now > then && seconds > 0 ? static_cast<double>(now - then) / seconds : 0;
}

}  // namespace

std::vector<TopRow> top_rows(const json& before, const json& after, double seconds) {
  // The earlier sample by slot, and only for the same agent: a slot that
  // passed to another sandbox starts from zero.
  std::map<std::pair<uint64_t, std::string>, const json*> earlier;
  if (before.is_array())
    for (const auto& s : before)
      if (s.is_object()) earlier[{count(s, "slot"), s.value("agent", "")}] = &s;
  std::vector<TopRow> rows;
  if (!after.is_array()) return rows;
  static const json kNone = json::object();
  for (const auto& s : after) {
    if (!s.is_object()) continue;
    TopRow row;
    row.agent = s.value("agent", "");
    row.state = s.value("state", "");
    row.allowed = count(s, "allowed");
    row.denied = count(s, "denied");
    row.learned = dns_count(s, "learned");
    auto found = earlier.find({count(s, "slot"), row.agent});
    const json& then = found == earlier.end() ? kNone : *found->second;
    row.allowed_per_s = rate(row.allowed, count(then, "allowed"), seconds);
    row.denied_per_s = rate(row.denied, count(then, "denied"), seconds);
    row.dns_per_s = rate(dns_count(s, "allowed"), dns_count(then, "allowed"), seconds);
    row.dns_refused_per_s = rate(dns_count(s, "refused"), dns_count(then, "refused"), seconds);
    row.sent_bytes_per_s = rate(traffic_bytes(s, "sent"), traffic_bytes(then, "sent"), seconds);
    row.received_bytes_per_s = rate(traffic_bytes(s, "received"), traffic_bytes(then, "received"), seconds);
    rows.push_back(std::move(row));
  }
  // A bulk sender on one connection makes no connects a second: its bytes
  // rank it too.
  std::sort(rows.begin(), rows.end(), [](const TopRow& a, const TopRow& b) {
    return std::make_tuple(-a.denied_per_s, -a.allowed_per_s, -(a.sent_bytes_per_s + a.received_bytes_per_s),
                           -(a.dns_per_s + a.dns_refused_per_s), a.agent) <
           std::make_tuple(-b.denied_per_s, -b.allowed_per_s, -(b.sent_bytes_per_s + b.received_bytes_per_s),
                           -(b.dns_per_s + b.dns_refused_per_s), b.agent);
  });
  return rows;
}

json to_json(const TopRow& row) {
  return {{"agent", row.agent},
          {"state", row.state},
          {"allowed_per_s", row.allowed_per_s},
          {"denied_per_s", row.denied_per_s},
          {"dns_per_s", row.dns_per_s},
          {"dns_refused_per_s", row.dns_refused_per_s},
          {"sent_bytes_per_s", row.sent_bytes_per_s},
          {"received_bytes_per_s", row.received_bytes_per_s},
          {"allowed", row.allowed},
          {"denied", row.denied},
          {"learned", row.learned}};
}

}  // namespace agentctl
