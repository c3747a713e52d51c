// Requests and grants as JSON: the control API's view, and the form the
// store keeps them in (so a restart restores exactly what was there).
#include "agentd/approvals/book.hpp"
#include "agentd/events/record_time.hpp"
#include "agentd/policy/ports.hpp"

namespace agentd::approvals {
using nlohmann::json;

std::string time_text(Time time) { return events::format_time(time); }

std::optional<Time> parse_time(std::string_view text) { return events::parse_time(text); }

namespace {

json optional_time(const std::optional<Time>& time) { return time ? json(time_text(*time)) : json(nullptr); }

std::optional<Time> optional_time(const json& value) {
  return value.is_string() ? parse_time(value.get<std::string>()) : std::nullopt;
}

Time required_time(const json& value) {
  auto time = optional_time(value);
  if (!time) throw std::invalid_argument("a time is missing or malformed");
  return *time;
}

const char* direction_name(bool inbound) { return inbound ? "inbound" : "outbound"; }

// Rows written before inbound requests existed carry no direction: outbound.
bool inbound_of(const json& j) {
  const std::string direction = j.value("direction", std::string("outbound"));
  if (direction != "inbound" && direction != "outbound")
    throw std::invalid_argument("direction must be inbound or outbound, not " + direction);
  return direction == "inbound";
}

}  // namespace

json request_to_json(const Request& r) {
  return {
      {"id", r.id},
      {"sandbox", r.target.sandbox},
      {"dest", r.target.address},
      {"host", r.host.empty() ? json(nullptr) : json(r.host)},
      {"port", r.target.port},
      {"protocol", r.target.protocol},
      {"direction", direction_name(r.target.inbound)},
      {"process", {{"pid", r.process.pid}, {"uid", r.process.uid}, {"comm", r.process.comm}, {"exe", r.process.exe}}},
      {"count", r.count},
      {"first_seen", time_text(r.first_seen)},
      {"last_seen", time_text(r.last_seen)},
      {"expires_at", time_text(r.expires_at)},
      {"state", state_name(r.state)},
      {"answered_by", r.answered_by.empty() ? json(nullptr) : json(r.answered_by)},
      {"answered_at", optional_time(r.answered_at)},
      {"answer", r.answer.empty() ? json(nullptr) : json(r.answer)},
      {"silent_until", optional_time(r.silent_until)},
      {"grant_id", r.grant_id ? json(*r.grant_id) : json(nullptr)}};
}

json grant_to_json(const Grant& g) {
  return {{"id", g.id},
          {"scope", scope_name(g.scope)},
          {"subject", g.subject},
          {"tenant", g.tenant()},
          {"dest", g.address},
          {"host", g.host.empty() ? json(nullptr) : json(g.host)},
          {"port", g.port},
          {"protocol", g.protocol},
          {"ports", g.is_name() ? json(policy::port_list_text(g.ports)) : json(nullptr)},
          {"opens", g.opens()},
          {"direction", direction_name(g.inbound)},
          {"expires_at", optional_time(g.expires_at)},
          {"permanent", !g.expires_at.has_value()},
          {"created_by", g.created_by},
          {"created_at", time_text(g.created_at)},
          {"request_id", g.request_id},
          {"fleet", g.origin ? json{{"host", g.origin->host}, {"id", g.origin->id}} : json(nullptr)}};
}

Result<Request> request_from_json(const json& j) {
  try {
    Request r;
    r.id = j.at("id").get<uint64_t>();
    r.target = {j.at("sandbox").get<std::string>(), j.at("dest").get<std::string>(), j.at("port").get<uint16_t>(),
                j.at("protocol").get<std::string>(), ""};
    r.host = j.value("host", json()).is_string() ? j["host"].get<std::string>() : "";
    if (r.target.is_name()) r.target.name = r.host;
    r.target.inbound = inbound_of(j);  // a name request keeps its name as the host
    const json& p = j.at("process");
    r.process = {p.value("pid", 0u), p.value("uid", 0u), p.value("comm", ""), p.value("exe", "")};
    r.count = j.at("count").get<uint64_t>();
    r.first_seen = required_time(j.at("first_seen"));
    r.last_seen = required_time(j.at("last_seen"));
    r.expires_at = required_time(j.at("expires_at"));
    auto state = parse_state(j.at("state").get<std::string>());
    if (!state) return make_error("request {}: unknown state", r.id);
    r.state = *state;
    if (j.value("answered_by", json()).is_string()) r.answered_by = j["answered_by"].get<std::string>();
    r.answered_at = optional_time(j.value("answered_at", json()));
    if (j.value("answer", json()).is_string()) r.answer = j["answer"].get<std::string>();
    r.silent_until = optional_time(j.value("silent_until", json()));
    if (j.value("grant_id", json()).is_number()) r.grant_id = j["grant_id"].get<uint64_t>();
    return r;
  } catch (const std::exception& e) {
    return make_error("a stored request is malformed: {}", e.what());
  }
}

Result<Grant> grant_from_json(const json& j) {
  try {
    Grant g;
    g.id = j.at("id").get<uint64_t>();
    auto scope = parse_scope(j.at("scope").get<std::string>());
    if (!scope) return make_error("grant {}: unknown scope", g.id);
    g.scope = *scope;
    g.subject = j.at("subject").get<std::string>();
    g.address = j.at("dest").get<std::string>();
    g.host = j.value("host", json()).is_string() ? j["host"].get<std::string>() : "";
    // get<uint16_t> would wrap 70000 to 4464: the range is checked.
    const auto port = j.at("port").get<int64_t>();
    if (port < 0 || port > 65535) return make_error("grant {}: port {} is not 0-65535", g.id, port);
    g.port = static_cast<uint16_t>(port);
    g.protocol = j.at("protocol").get<std::string>();
    g.inbound = inbound_of(j);
    // Absent, null or empty: every port (grants stored before names took
    // ports). Anything else but a port list is refused, never read as all.
    const json ports_field = j.value("ports", json());
    if (!ports_field.is_null() && !ports_field.is_string())
      return make_error("grant {}: ports must be a string such as \"80,443\"", g.id);
    if (g.is_name() && ports_field.is_string() && !ports_field.get<std::string>().empty()) {
      auto ports = policy::parse_port_list(ports_field.get<std::string>(), kMaxNameGrantPorts);
      if (!ports) return make_error("grant {}: ports: {}", g.id, ports.error().message);
      g.ports = std::move(*ports);
    }
    g.expires_at = optional_time(j.value("expires_at", json()));
    g.created_by = j.at("created_by").get<std::string>();
    g.created_at = required_time(j.at("created_at"));
    g.request_id = j.value("request_id", uint64_t{0});
    if (const json fleet = j.value("fleet", json()); !fleet.is_null())
      g.origin = FleetOrigin{fleet.at("host").get<std::string>(), fleet.at("id").get<uint64_t>()};
    return g;
  } catch (const std::exception& e) {
    return make_error("a stored grant is malformed: {}", e.what());
  }
}

}  // namespace agentd::approvals
